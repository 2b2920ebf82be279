/**
 * REST API helper: a regional REST API with one throttled, traced, access-logged stage,
 * execution logs in a group with a retention, and API Gateway's own rejections answered
 * as RFC 9457 problems. The operator API is one; the partner API is one with
 * `partnerApi: 'rest'`.
 */
import { RemovalPolicy, aws_apigateway as apigateway, aws_iam as iam, aws_logs as logs } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { problemOf, type ProblemCode } from '../core/problems';
import type { ApiThrottling, ResolvedProps } from './props';

/** The one stage of each REST API (a literal: the execution log group's name needs it before the stage exists). */
export const REST_STAGE_NAME = 'prod';

/** API Gateway's own answers mapped to the product's problem codes (SPEC "Errors"). */
const GATEWAY_PROBLEMS: [apigateway.ResponseType, ProblemCode][] = [
  [apigateway.ResponseType.THROTTLED, 'throttled'],
  [apigateway.ResponseType.QUOTA_EXCEEDED, 'throttled'],
  [apigateway.ResponseType.ACCESS_DENIED, 'forbidden'],
  [apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN, 'forbidden'],
  [apigateway.ResponseType.INVALID_SIGNATURE, 'forbidden'],
  [apigateway.ResponseType.EXPIRED_TOKEN, 'forbidden'],
  [apigateway.ResponseType.UNAUTHORIZED, 'unauthenticated'],
  [apigateway.ResponseType.REQUEST_TOO_LARGE, 'payload-too-large'],
  [apigateway.ResponseType.DEFAULT_5XX, 'internal'],
];

/**
 * The region-wide role REST API logging needs (`AWS::ApiGateway::Account`), unless the
 * deployer says the account already has one. Retained: other stacks' APIs may rely on it.
 */
export function buildApiGatewayAccount(scope: Construct, props: ResolvedProps): apigateway.CfnAccount | undefined {
  if (!props.createApiGatewayCloudWatchRole) return undefined;
  const role = new iam.Role(scope, 'ApiGatewayCloudWatchRole', {
    assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
  });
  role.applyRemovalPolicy(RemovalPolicy.RETAIN);
  const account = new apigateway.CfnAccount(scope, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
  account.applyRemovalPolicy(RemovalPolicy.RETAIN);
  account.node.addDependency(role);
  return account;
}

export interface RestApiOptions {
  readonly description: string;
  readonly throttling: ApiThrottling;
  readonly defaultMethodOptions: apigateway.MethodOptions;
  /** Deployed after it, when the stack creates the account's logging role. */
  readonly account: apigateway.CfnAccount | undefined;
}

export function buildRestApi(scope: Construct, id: string, props: ResolvedProps, options: RestApiOptions): apigateway.RestApi {
  const accessLogs = new logs.LogGroup(scope, `${id}AccessLogs`, { retention: props.logRetention, removalPolicy: props.removalPolicy });
  const api = new apigateway.RestApi(scope, id, {
    description: options.description,
    binaryMediaTypes: ['*/*'],
    endpointTypes: [apigateway.EndpointType.REGIONAL],
    cloudWatchRole: false,
    defaultMethodOptions: options.defaultMethodOptions,
    deployOptions: {
      stageName: REST_STAGE_NAME,
      accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
      accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
      loggingLevel: apigateway.MethodLoggingLevel.ERROR,
      dataTraceEnabled: false,
      tracingEnabled: props.tracing,
      metricsEnabled: true,
      throttlingRateLimit: options.throttling.rateLimit,
      throttlingBurstLimit: options.throttling.burstLimit,
    },
  });
  // API Gateway writes execution logs to a group of its own naming; created here
  // (before the stage can log) so that it has a retention and goes with the stack.
  // A stage deployed by an earlier version may already have created it: such a
  // stack needs the group imported (or deleted) before this update.
  const executionLogs = new logs.LogGroup(scope, `${id}ExecutionLogs`, {
    logGroupName: `API-Gateway-Execution-Logs_${api.restApiId}/${REST_STAGE_NAME}`,
    retention: props.logRetention,
    removalPolicy: props.removalPolicy,
  });
  api.deploymentStage.node.addDependency(executionLogs);
  // No API Gateway request validator: requests are validated by the handlers, which
  // answer RFC 9457 problems and write rejections on an existing flow to its log.
  // Answers API Gateway gives itself (throttling, IAM denials, unknown routes) are
  // RFC 9457 problems too, like every answer of the handlers.
  for (const [type, code] of GATEWAY_PROBLEMS) {
    const problem = problemOf(code, '$context.error.message');
    api.addGatewayResponse(`${code}-${type.responseType}`, {
      type,
      statusCode: String(problem.status),
      responseHeaders: { 'Content-Type': "'application/problem+json'" },
      templates: { 'application/json': JSON.stringify(problem) },
    });
  }
  if (options.account) api.deploymentStage.node.addDependency(options.account);
  return api;
}
