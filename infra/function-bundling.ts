import type { BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';

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
    // ES module builds tree-shake; CommonJS builds (esbuild's default for platform node)
    // bring every export of a package along.
    mainFields: ['module', 'main'],
    // The handlers call AWS through adapters/aws/protocol, not the SDK's clients; the few
    // AWS packages they use (the SigV4 signer, DynamoDB's marshaller) ship at the versions
    // in package-lock.json rather than the runtime's.
    bundleAwsSDK: true,
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
}

export function esbuildOptionsOf(bundling: BundlingOptions, entry: string, outfile: string): EsbuildOptions {
  if (bundling.esbuildArgs)
    throw new Error('esbuildOptionsOf does not translate esbuildArgs: add each one here when the construct starts using it');
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
  };
}
