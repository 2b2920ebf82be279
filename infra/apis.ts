/**
 * APIs builder: the partner API (an HTTP API by default, a REST API with
 * `partnerApi: 'rest'`) and the operator API (a REST API, IAM-authorized).
 * The partner routes are `PARTNER_API_RESOURCES`, the list local mode routes on too.
 */
import {
  aws_apigateway as apigateway,
  aws_apigatewayv2 as apigwv2,
  aws_apigatewayv2_integrations as integrations,
  type aws_cloudwatch as cloudwatch,
  type aws_lambda as lambda,
  aws_logs as logs,
  aws_wafv2 as wafv2,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { PARTNER_API_RESOURCES } from '../api/apis';
import type { ResolvedProps } from './props';
import { buildApiGatewayAccount, buildRestApi } from './rest-api';

/** The partner API of either kind, with what the rest of the construct needs of it. */
export type PartnerApi =
  | { readonly kind: 'http'; readonly api: apigwv2.HttpApi; readonly stage: apigwv2.HttpStage; readonly url: string }
  | { readonly kind: 'rest'; readonly api: apigateway.RestApi; readonly url: string };

export interface Apis {
  readonly partner: PartnerApi;
  readonly operator: apigateway.RestApi;
  /** `GET /health` of the operator API: the one operator route without IAM. */
  readonly operatorHealth: apigateway.Method;
}

/**
 * Fields of an HTTP API access log line: those of the REST APIs' standard JSON format
 * that HTTP APIs support, plus the route and any integration error.
 */
const HTTP_ACCESS_LOG_FORMAT = apigateway.AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    ip: '$context.identity.sourceIp',
    requestTime: '$context.requestTime',
    httpMethod: '$context.httpMethod',
    routeKey: '$context.routeKey',
    path: '$context.path',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    integrationError: '$context.integrationErrorMessage',
    error: '$context.error.message',
  }),
);

/**
 * HTTP API, payload format 2.0. Every partner resource, any method, and the `$default`
 * route go to ingest: the handler answers a wrong method (405) or an unknown path (404)
 * as problem+json, which HTTP APIs cannot do themselves (they have no gateway
 * responses). Throttled requests get API Gateway's fixed 429 `{"message":"Too Many Requests"}`.
 */
function buildHttpPartnerApi(scope: Construct, ingest: lambda.IFunction, props: ResolvedProps): PartnerApi {
  // One invoke permission per route (CDK's default): an API-wide one (`scopePermissionToRoute:
  // false`, SourceArn `{api}/*/*/*`) would not cover the `$default` route (`{api}/*/$default`).
  const integration = new integrations.HttpLambdaIntegration('PartnerIngest', ingest, {
    payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
  });
  const api = new apigwv2.HttpApi(scope, 'PartnerApi', {
    description: 'Sluice partner API',
    createDefaultStage: false,
    defaultIntegration: integration,
  });
  for (const path of PARTNER_API_RESOURCES) api.addRoutes({ path, methods: [apigwv2.HttpMethod.ANY], integration });
  const accessLogs = new logs.LogGroup(scope, 'PartnerApiAccessLogs', {
    retention: props.logRetention,
    removalPolicy: props.removalPolicy,
  });
  const stage = new apigwv2.HttpStage(scope, 'PartnerApiStage', {
    httpApi: api,
    stageName: '$default',
    autoDeploy: true,
    throttle: props.partnerApiThrottling,
    detailedMetricsEnabled: true,
    accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs), format: HTTP_ACCESS_LOG_FORMAT },
  });
  return { kind: 'http', api, stage, url: stage.url };
}

/** REST API: one resource per partner route, any method, to ingest; optionally behind a WAF web ACL. */
function buildRestPartnerApi(
  scope: Construct,
  ingest: lambda.IFunction,
  account: apigateway.CfnAccount | undefined,
  props: ResolvedProps,
): PartnerApi {
  // The API key is checked by the ingest handler, not API Gateway, because rejections
  // on an existing flow must be written to that flow's log.
  const api = buildRestApi(scope, 'PartnerApi', props, {
    description: 'Sluice partner API',
    throttling: props.partnerApiThrottling,
    defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.NONE },
    account,
  });
  const integration = new apigateway.LambdaIntegration(ingest, { allowTestInvoke: false });
  for (const path of PARTNER_API_RESOURCES) api.root.resourceForPath(path).addMethod('ANY', integration);
  if (props.partnerWebAclArn) {
    new wafv2.CfnWebACLAssociation(scope, 'PartnerApiWebAcl', {
      resourceArn: api.deploymentStage.stageArn,
      webAclArn: props.partnerWebAclArn,
    });
  }
  return { kind: 'rest', api, url: api.url };
}

/** Every operator route requires SigV4 (IAM) except the data-free health check. */
function buildOperatorApi(scope: Construct, operator: lambda.IFunction, account: apigateway.CfnAccount | undefined, props: ResolvedProps) {
  const api = buildRestApi(scope, 'OperatorApi', props, {
    description: 'Sluice operator API (IAM-authorized)',
    throttling: props.operatorApiThrottling,
    defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM },
    account,
  });
  const integration = new apigateway.LambdaIntegration(operator, { allowTestInvoke: false });
  api.root.addResource('v1').addProxy({ anyMethod: true, defaultIntegration: integration });
  const health = api.root.addResource('health').addMethod('GET', integration, { authorizationType: apigateway.AuthorizationType.NONE });
  return { api, health };
}

export function buildApis(
  scope: Construct,
  functions: { ingest: lambda.IFunction; operator: lambda.IFunction },
  props: ResolvedProps,
): Apis {
  const account = buildApiGatewayAccount(scope, props);
  const partner =
    props.partnerApi === 'rest'
      ? buildRestPartnerApi(scope, functions.ingest, account, props)
      : buildHttpPartnerApi(scope, functions.ingest, props);
  const { api: operator, health } = buildOperatorApi(scope, functions.operator, account, props);
  return { partner, operator, operatorHealth: health };
}

/** 5XX answers of the partner API, whichever kind it is. */
export function partnerServerErrors(partner: PartnerApi, options: cloudwatch.MetricOptions): cloudwatch.Metric {
  return partner.api.metricServerError(options);
}
