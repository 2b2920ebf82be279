// The partner API in both flavours: an HTTP API (API Gateway v2, payload format 2.0) by
// default, a REST API with `partnerApi: 'rest'`. Each is synthesized once, without
// bundling (sluice-gateway.test.ts bundles the functions); cdk-nag runs on both here and
// cfn-guard on both in sluice-gateway.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import cdkNag from 'cdk-nag'; // CommonJS: Node's ESM loader sees only its default export
import type { IConstruct } from 'constructs';
import { PARTNER_API_RESOURCES } from '../../api/apis';
import { SluiceGateway } from '../../infra/sluice-gateway';
import { DEFAULTS } from '../../infra/props';

type Resource = { Type: string; Properties?: Record<string, any>; DependsOn?: string[] };

const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const httpStack = new Stack(app, 'HttpPartner');
const http = new SluiceGateway(httpStack, 'Gateway');
const restStack = new Stack(app, 'RestPartner');
const rest = new SluiceGateway(restStack, 'Gateway', {
  partnerApi: 'rest',
  partnerApiThrottling: { rateLimit: 20, burstLimit: 40 },
  partnerWebAclArn: 'arn:aws:wafv2:us-east-1:123456789012:regional/webacl/partners/0123',
});
// Without a web ACL, cdk-nag's WAF rule (APIG3) applies: checked below.
const plainRestStack = new Stack(app, 'PlainRestPartner');
new SluiceGateway(plainRestStack, 'Gateway', { partnerApi: 'rest' });
// Tracing off: checked below against the default stacks, which trace.
const untracedStack = new Stack(app, 'Untraced');
new SluiceGateway(untracedStack, 'Gateway', { partnerApi: 'rest', tracing: false });
const httpTemplate = Template.fromStack(httpStack);
const restTemplate = Template.fromStack(restStack);
const httpResources = httpTemplate.toJSON().Resources as Record<string, Resource>;
const restResources = restTemplate.toJSON().Resources as Record<string, Resource>;

const idIn = (stack: Stack, construct: IConstruct): string =>
  stack.resolve(((construct.node.defaultChild ?? construct) as CfnElement).logicalId) as string;
const ofType = (resources: Record<string, Resource>, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

function nagViolations(stack: Stack) {
  return new cdkNag.AwsSolutionsChecks(app, { verbose: true }).validateScope(stack).violations;
}

describe('partner API, default: an HTTP API', () => {
  const api = idIn(httpStack, http.partnerApi);
  const ingest = idIn(httpStack, http.functions.ingest);

  test('the default is http, and the partner API is an AWS::ApiGatewayV2::Api of protocol HTTP', () => {
    assert.equal(DEFAULTS.partnerApi, 'http');
    assert.equal(http.partnerApiKind, 'http');
    assert.equal(httpResources[api]!.Type, 'AWS::ApiGatewayV2::Api');
    httpTemplate.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
  });

  test('every partner resource (batches included), any method, and $default route to ingest with payload format 2.0', () => {
    assert.ok(PARTNER_API_RESOURCES.includes('/v1/flows/{flowId}/batches' as never), 'the batch route is a partner resource');
    const routes = ofType(httpResources, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties!);
    assert.deepEqual(routes.map((r) => r.RouteKey).sort(), [...PARTNER_API_RESOURCES.map((path) => `ANY ${path}`), '$default'].sort());
    const integrations = ofType(httpResources, 'AWS::ApiGatewayV2::Integration');
    assert.equal(integrations.length, 1);
    const [integrationId, integration] = integrations[0]!;
    assert.deepEqual(integration.Properties, {
      ApiId: { Ref: api },
      IntegrationType: 'AWS_PROXY',
      IntegrationUri: { 'Fn::GetAtt': [ingest, 'Arn'] },
      PayloadFormatVersion: '2.0',
    });
    for (const route of routes) {
      assert.equal(route.ApiId.Ref, api);
      assert.deepEqual(route.Target, { 'Fn::Join': ['', ['integrations/', { Ref: integrationId }]] });
      // Partner keys are checked by the handler, which logs rejections to the flow.
      assert.equal(route.AuthorizationType, 'NONE');
    }
  });

  test('API Gateway may invoke ingest from each route of this API, $default included', () => {
    const sources = ofType(httpResources, 'AWS::Lambda::Permission')
      .map(([, p]) => p.Properties!)
      .filter((p) => JSON.stringify(p.SourceArn).includes(`{"Ref":"${api}"}`));
    for (const permission of sources) {
      assert.deepEqual(permission.FunctionName, { 'Fn::GetAtt': [ingest, 'Arn'] });
      assert.equal(permission.Principal, 'apigateway.amazonaws.com');
    }
    const tails = sources.map((p) => (p.SourceArn['Fn::Join'][1] as unknown[]).at(-1)).sort();
    // $default is invoked as {api}/{stage}/$default: an ARN with three parts after the API would not match it.
    assert.deepEqual(tails, ['/*/*', ...PARTNER_API_RESOURCES.map((path) => `/*/*${path}`)].sort());
  });

  test('one $default stage, deployed automatically, throttled by default route settings, with access logs kept a year', () => {
    const stages = ofType(httpResources, 'AWS::ApiGatewayV2::Stage');
    assert.equal(stages.length, 1);
    const stage = stages[0]![1].Properties!;
    assert.equal(stage.ApiId.Ref, api);
    assert.equal(stage.StageName, '$default');
    assert.equal(stage.AutoDeploy, true);
    assert.deepEqual(stage.DefaultRouteSettings, {
      DetailedMetricsEnabled: true,
      ThrottlingRateLimit: DEFAULTS.partnerApiThrottling.rateLimit,
      ThrottlingBurstLimit: DEFAULTS.partnerApiThrottling.burstLimit,
    });
    const logGroup = stage.AccessLogSettings.DestinationArn['Fn::GetAtt'][0];
    assert.equal(httpResources[logGroup]!.Type, 'AWS::Logs::LogGroup');
    assert.equal(httpResources[logGroup]!.Properties!.RetentionInDays, 365);
    const format = JSON.parse(stage.AccessLogSettings.Format);
    assert.equal(format.requestId, '$context.requestId');
    assert.equal(format.status, '$context.status');
    assert.equal(format.routeKey, '$context.routeKey');
  });

  test('the URL output is the $default stage URL; no REST resources belong to the partner API', () => {
    const outputs = httpTemplate.toJSON().Outputs as Record<string, { Value: unknown }>;
    const [, url] = Object.entries(outputs).find(([name]) => name.includes('PartnerApiUrl'))!;
    assert.deepEqual(url.Value, {
      'Fn::Join': ['', ['https://', { Ref: api }, '.execute-api.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }, '/']],
    });
    httpTemplate.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    httpTemplate.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
  });

  test('cdk-nag AwsSolutions: no unacknowledged errors or warnings', () => {
    const violations = nagViolations(httpStack);
    assert.deepEqual(
      violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
      [],
    );
  });
});

describe("partner API with partnerApi: 'rest'", () => {
  const api = idIn(restStack, rest.partnerApi);
  const ingest = idIn(restStack, rest.functions.ingest);

  test('the partner API is an AWS::ApiGateway::RestApi, and there is no HTTP API', () => {
    assert.equal(rest.partnerApiKind, 'rest');
    assert.equal(restResources[api]!.Type, 'AWS::ApiGateway::RestApi');
    restTemplate.resourceCountIs('AWS::ApiGatewayV2::Api', 0);
    restTemplate.resourceCountIs('AWS::ApiGateway::RestApi', 2);
  });

  test('every partner resource (batches included) takes any method to ingest as a Lambda proxy', () => {
    const resourcesById = new Map(ofType(restResources, 'AWS::ApiGateway::Resource').map(([id, r]) => [id, r.Properties!]));
    const pathOf = (resourceId: any): string => {
      if (resourceId['Fn::GetAtt']) return '';
      const resource = resourcesById.get(resourceId.Ref)!;
      return `${pathOf(resource.ParentId)}/${resource.PathPart}`;
    };
    const methods = ofType(restResources, 'AWS::ApiGateway::Method')
      .map(([, m]) => m.Properties!)
      .filter((m) => m.RestApiId.Ref === api);
    assert.deepEqual(
      methods.map((m) => `${m.HttpMethod} ${pathOf(m.ResourceId)}`).sort(),
      PARTNER_API_RESOURCES.map((path) => `ANY ${path}`).sort(),
    );
    for (const method of methods) {
      assert.equal(method.AuthorizationType, 'NONE');
      assert.equal(method.Integration.Type, 'AWS_PROXY');
      assert.ok(JSON.stringify(method.Integration.Uri).includes(ingest));
    }
  });

  test('the stage is throttled as asked, traced and access-logged; execution logs go to a group with retention', () => {
    restTemplate.hasResourceProperties('AWS::ApiGateway::RestApi', { Name: 'PartnerApi', BinaryMediaTypes: ['*/*'] });
    restTemplate.hasResourceProperties('AWS::ApiGateway::Stage', {
      RestApiId: { Ref: api },
      StageName: 'prod',
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
      MethodSettings: [
        Match.objectLike({
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
          MetricsEnabled: true,
          ThrottlingRateLimit: 20,
          ThrottlingBurstLimit: 40,
        }),
      ],
    });
    const stage = restResources[idIn(restStack, (rest.partnerApi as any).deploymentStage)]!;
    const [groupId] =
      ofType(restResources, 'AWS::Logs::LogGroup').find(([, group]) =>
        JSON.stringify(group.Properties!.LogGroupName ?? '').includes(`"API-Gateway-Execution-Logs_",{"Ref":"${api}"},"/prod"`),
      ) ?? [];
    assert.ok(groupId && stage.DependsOn?.includes(groupId), 'the stage waits for its execution log group');
  });

  test("API Gateway's own rejections are RFC 9457 problems with the SPEC's codes", () => {
    const mine = ofType(restResources, 'AWS::ApiGateway::GatewayResponse')
      .map(([, r]) => r.Properties!)
      .filter((r) => r.RestApiId.Ref === api);
    const byType = Object.fromEntries(mine.map((r) => [r.ResponseType, r]));
    for (const [type, status, code] of [
      ['THROTTLED', '429', 'throttled'],
      ['QUOTA_EXCEEDED', '429', 'throttled'],
      ['MISSING_AUTHENTICATION_TOKEN', '403', 'forbidden'],
      ['REQUEST_TOO_LARGE', '413', 'payload-too-large'],
      ['DEFAULT_5XX', '500', 'internal'],
    ] as const) {
      const response = byType[type];
      assert.ok(response, `${type} is mapped`);
      assert.equal(response.StatusCode, status);
      assert.equal(response.ResponseParameters['gatewayresponse.header.Content-Type'], "'application/problem+json'");
      const body = JSON.parse(response.ResponseTemplates['application/json']);
      assert.equal(body.code, code);
      assert.equal(body.status, Number(status));
    }
  });

  test('the web ACL is associated with the partner stage', () => {
    restTemplate.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      ResourceArn: Match.anyValue(),
      WebACLArn: 'arn:aws:wafv2:us-east-1:123456789012:regional/webacl/partners/0123',
    });
  });

  test('the 5XX alarm watches the REST API by name', () => {
    restTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: '5XXError',
      Dimensions: [{ Name: 'ApiName', Value: 'PartnerApi' }],
      Threshold: 0,
    });
  });

  test('cdk-nag AwsSolutions: no unacknowledged errors or warnings, with and without a web ACL', () => {
    for (const stack of [restStack, plainRestStack]) {
      const violations = nagViolations(stack);
      assert.deepEqual(
        violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
        [],
        stack.stackName,
      );
    }
  });
});

describe('tracing: on by default, off with tracing: false', () => {
  const functionsOf = (stack: Stack) =>
    ofType(Template.fromStack(stack).toJSON().Resources as Record<string, Resource>, 'AWS::Lambda::Function');
  const xrayActions = (stack: Stack) =>
    ofType(Template.fromStack(stack).toJSON().Resources as Record<string, Resource>, 'AWS::IAM::Policy').flatMap(([, policy]) =>
      (policy.Properties!.PolicyDocument.Statement as { Action: string | string[] }[])
        .flatMap((statement) => statement.Action)
        .filter((action) => action.startsWith('xray:')),
    );
  const stageTracing = (stack: Stack) =>
    ofType(Template.fromStack(stack).toJSON().Resources as Record<string, Resource>, 'AWS::ApiGateway::Stage').map(
      ([, stage]) => stage.Properties!.TracingEnabled,
    );

  test('by default every function and the REST stage are traced, and the handlers’ subsegments are on', () => {
    for (const [id, fn] of [...functionsOf(httpStack), ...functionsOf(restStack)]) {
      assert.deepEqual(fn.Properties!.TracingConfig, { Mode: 'Active' }, id);
      assert.equal(fn.Properties!.Environment.Variables.SLUICE_TRACING, 'true', id);
    }
    assert.ok(xrayActions(restStack).length > 0);
    assert.ok(stageTracing(restStack).every((enabled) => enabled === true));
  });

  test('with tracing: false nothing is traced and no role may write to X-Ray', () => {
    const functions = functionsOf(untracedStack);
    assert.equal(functions.length, 5);
    for (const [id, fn] of functions) {
      assert.notDeepEqual(fn.Properties!.TracingConfig, { Mode: 'Active' }, id);
      assert.equal(fn.Properties!.Environment.Variables.SLUICE_TRACING, 'false', id);
    }
    assert.deepEqual(xrayActions(untracedStack), []);
    const stages = stageTracing(untracedStack);
    assert.ok(stages.length > 0 && stages.every((enabled) => enabled !== true));
  });
});
