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
    target: 'node22',
    format: 'cjs' as OutputFormat,
    // The SDK's ES module builds tree-shake; their CommonJS builds (esbuild's default
    // for platform node) bring every command of a client along.
    mainFields: ['module', 'main'],
    // Ship the SDK versions from package-lock.json instead of the runtime's.
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
  mainFields?: string[];
  external: string[];
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
    ...(bundling.mainFields ? { mainFields: bundling.mainFields } : {}),
    external: [...(bundling.bundleAwsSDK ? [] : ['@aws-sdk/*']), ...(bundling.externalModules ?? [])],
  };
}
