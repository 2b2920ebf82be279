import type { BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';

const LAMBDA_CREDENTIALS = './adapters/aws/lambda-credentials.ts';

/**
 * How every Lambda function is bundled. The construct passes this to `NodejsFunction`;
 * the bundle test and the cold-start benchmark run esbuild with the same options through
 * {@link esbuildOptionsOf}. Only types are imported from CDK, so neither of those loads it.
 */
export function functionBundling(): BundlingOptions {
  return {
    minify: true,
    sourceMap: true,
    // Stack traces map to file and line without the sources inside the map, which would
    // triple the file Node reads and parses at every cold start (--enable-source-maps).
    sourcesContent: false,
    target: 'node22',
    format: 'cjs' as OutputFormat,
    // The SDK's ES module builds tree-shake; their CommonJS builds (esbuild's default
    // for platform node) bring every command of a client along.
    mainFields: ['module', 'main'],
    // Ship the SDK versions from package-lock.json instead of the runtime's.
    bundleAwsSDK: true,
    // The SDK's default credential chain, cut to the sources a Lambda function has
    // (adapters/aws/lambda-credentials.ts). Relative to the project root, where esbuild runs.
    esbuildArgs: { '--alias': [`@aws-sdk/credential-provider-node=${LAMBDA_CREDENTIALS}`] },
    forceDockerBundling: false,
  };
}

/** The esbuild options `NodejsFunction` derives from `bundling` (the ones this project sets). */
export interface EsbuildOptions {
  entryPoints: string[];
  outfile: string;
  bundle: true;
  platform: 'node';
  target: string;
  format: 'cjs' | 'esm';
  minify: boolean;
  sourcemap: boolean;
  sourcesContent: boolean;
  mainFields?: string[];
  external: string[];
  alias: Record<string, string>;
}

/** `--alias` entries of `esbuildArgs` (`from=to`); any other argument has no counterpart here yet. */
function aliasesOf(esbuildArgs: BundlingOptions['esbuildArgs'] = {}): Record<string, string> {
  const alias: Record<string, string> = {};
  for (const [key, value] of Object.entries(esbuildArgs)) {
    if (key !== '--alias') throw new Error(`esbuildOptionsOf does not translate esbuild argument ${key}`);
    for (const entry of Array.isArray(value) ? value : [String(value)]) {
      const at = entry.indexOf('=');
      alias[entry.slice(0, at)] = entry.slice(at + 1);
    }
  }
  return alias;
}

export function esbuildOptionsOf(bundling: BundlingOptions, entry: string, outfile: string): EsbuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: bundling.target ?? 'node22',
    format: bundling.format === 'esm' ? 'esm' : 'cjs',
    minify: bundling.minify ?? false,
    sourcemap: bundling.sourceMap ?? false,
    sourcesContent: bundling.sourcesContent ?? true,
    ...(bundling.mainFields ? { mainFields: bundling.mainFields } : {}),
    external: [...(bundling.bundleAwsSDK ? [] : ['@aws-sdk/*']), ...(bundling.externalModules ?? [])],
    alias: aliasesOf(bundling.esbuildArgs),
  };
}
