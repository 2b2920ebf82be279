import { ENVIRONMENT } from './definitions';

/** Everything a handler needs to find its resources. Read once per Lambda container. */
export interface SluiceConfig {
  /** @default process.env.AWS_REGION, else 'us-east-1' */
  region: string;
  tableName: string;
  queueUrl: string;
  bucketName: string;
  /** Operational events go here; unset in local mode, where they go to the local sink. */
  eventBusName?: string;
  /** KMS key that encrypts connection credentials at rest; unset in local mode. */
  credentialsKeyId?: string;
  /** One-time probe schedules (AWS only). */
  scheduler?: { groupName: string; roleArn: string; proberArn: string };
  /** Local mode relaxes the https-only rule for connection URLs. @default false */
  localMode: boolean;
  /** Private-range targets (VPC-attached deliverers). @default false */
  allowPrivateTargets: boolean;
  /**
   * Keys the HMAC that binds pagination cursors to their listing. Unset: derived from
   * the deployment's resource names (see api/cursors.ts). Local mode sets a random one.
   */
  cursorSecret?: string;
  /** Emulator endpoints; empty on AWS. */
  endpoints: { dynamodb?: string; sqs?: string; s3?: string };
  /** Seconds ingest may reuse a read API key, flow or connection (see TtlCache). @default 5 */
  configCacheSeconds?: number;
}

export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigurationError(`environment variable ${name} is not set`);
  return value;
}

export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env): SluiceConfig {
  const scheduleGroup = env[ENVIRONMENT.scheduleGroupName];
  const schedulerRole = env[ENVIRONMENT.schedulerRoleArn];
  const prober = env[ENVIRONMENT.probeFunctionArn];
  return {
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    tableName: required(env, ENVIRONMENT.tableName),
    queueUrl: required(env, ENVIRONMENT.queueUrl),
    bucketName: required(env, ENVIRONMENT.bucketName),
    eventBusName: env[ENVIRONMENT.eventBusName] || undefined,
    credentialsKeyId: env[ENVIRONMENT.credentialsKeyId] || undefined,
    scheduler:
      scheduleGroup && schedulerRole && prober ? { groupName: scheduleGroup, roleArn: schedulerRole, proberArn: prober } : undefined,
    localMode: env[ENVIRONMENT.localMode] === 'true',
    allowPrivateTargets: env[ENVIRONMENT.allowPrivateTargets] === 'true',
    cursorSecret: env.SLUICE_CURSOR_SECRET || undefined,
    endpoints: {},
    ...(env[ENVIRONMENT.configCacheSeconds] !== undefined && !Number.isNaN(Number(env[ENVIRONMENT.configCacheSeconds]))
      ? { configCacheSeconds: Number(env[ENVIRONMENT.configCacheSeconds]) }
      : {}),
  };
}
