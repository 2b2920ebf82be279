import { createCredentialChain, fromContainerMetadata, fromEnv, fromHttp } from '@aws-sdk/credential-providers';

/**
 * The SDK's default credential provider as a Lambda function needs it. The Lambda bundles
 * use this module in place of `@aws-sdk/credential-provider-node` (an esbuild alias in
 * infra/function-bundling.ts): that chain also carries the SSO, shared-file, process,
 * web-identity and console-login providers with the STS, SSO and sign-in clients they
 * call, about 90 KB of every bundle for sources a Lambda environment never has.
 *
 * Lambda hands the execution role's credentials over in environment variables; a runtime
 * that serves them from a container endpoint instead (AWS_CONTAINER_CREDENTIALS_FULL_URI
 * or _RELATIVE_URI) is read the way the SDK's own chain reads it. Local mode does not
 * bundle, and its clients carry explicit credentials (adapters/aws/clients.ts).
 *
 * Same shape as the package it stands in for: `defaultProvider(init)` returns a provider
 * that memoizes (the SDK wraps a default provider in no cache of its own) and fetches
 * again five minutes before the credentials expire.
 */
export type DefaultProviderInit = Parameters<typeof fromEnv>[0] &
  Parameters<typeof fromHttp>[0] &
  Parameters<typeof fromContainerMetadata>[0];

type AwsCredentialIdentityProvider = ReturnType<typeof fromEnv>;
type AwsCredentialIdentity = Awaited<ReturnType<AwsCredentialIdentityProvider>>;

/** Credentials this close to their expiration are fetched again (the SDK's default chain uses the same margin). */
const REFRESH_MARGIN_MS = 5 * 60_000;

export const credentialsWillNeedRefresh = (credentials: AwsCredentialIdentity): boolean => credentials.expiration !== undefined;

export const credentialsTreatedAsExpired = (credentials: AwsCredentialIdentity): boolean =>
  credentials.expiration !== undefined && credentials.expiration.getTime() - Date.now() < REFRESH_MARGIN_MS;

export function defaultProvider(init: DefaultProviderInit = {}): AwsCredentialIdentityProvider {
  const chain = createCredentialChain(fromEnv(init), fromHttp(init), fromContainerMetadata(init));
  let credentials: AwsCredentialIdentity | undefined;
  let pending: Promise<AwsCredentialIdentity> | undefined;
  const fetch = (options?: Record<string, unknown>) => {
    pending ??= chain(options)
      .then((fetched) => {
        credentials = fetched;
        return fetched;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  return async (options?: Record<string, unknown> & { forceRefresh?: boolean }) => {
    if (options?.forceRefresh || !credentials || credentialsTreatedAsExpired(credentials)) return fetch(options);
    return credentials;
  };
}
