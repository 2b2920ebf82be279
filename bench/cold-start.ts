import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const FUNCTIONS = ['ingest', 'operator', 'deliverer', 'prober'] as const;

export interface ColdStartResult {
  runs: number;
  /** Median wall time of `node -e "0"`: the part of every import time that is Node itself. */
  nodeBaselineMedianMs: number;
  functions: { name: string; bundleBytes: number; importMedianMs: number; importRunsMs: number[] }[];
  bundling: string;
}

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Dummy settings the entry modules read at import (configFromEnvironment). */
const ENTRY_ENV = {
  SLUICE_TABLE_NAME: 'bench-table',
  SLUICE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/bench.fifo',
  SLUICE_BUCKET_NAME: 'bench-bucket',
  AWS_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function timeNode(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    execFile(process.execPath, args, { env }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(performance.now() - started);
    });
  });
}

/**
 * Bundles each Lambda entry point as the CDK construct does (esbuild: node22, CJS, minified,
 * AWS SDK bundled) and times `require()` of each bundle in a fresh Node process.
 */
export async function coldStart(options: { runs?: number } = {}): Promise<ColdStartResult> {
  const runs = options.runs ?? 5;
  const outDir = mkdtempSync(join(tmpdir(), 'sluice-bench-bundles-'));
  const env = { PATH: process.env.PATH ?? '', ...ENTRY_ENV };
  try {
    const functions: ColdStartResult['functions'] = [];
    for (const name of FUNCTIONS) {
      const outfile = join(outDir, `${name}.js`);
      await build({
        entryPoints: [join(REPO_ROOT, 'functions', name, 'index.ts')],
        outfile,
        bundle: true,
        platform: 'node',
        target: 'node22',
        format: 'cjs',
        minify: true,
        logLevel: 'silent',
        absWorkingDir: REPO_ROOT,
      });
      functions.push({ name, bundleBytes: statSync(outfile).size, importMedianMs: 0, importRunsMs: [] });
    }
    const baseline: number[] = [];
    for (let i = 0; i < runs; i++) baseline.push(await timeNode(['-e', '0'], env));
    for (const f of functions) {
      const path = join(outDir, `${f.name}.js`);
      for (let i = 0; i < runs; i++) f.importRunsMs.push(Math.round(await timeNode(['-e', `require(${JSON.stringify(path)})`], env)));
      f.importMedianMs = Math.round(median(f.importRunsMs));
    }
    return {
      runs,
      nodeBaselineMedianMs: Math.round(median(baseline)),
      functions,
      bundling: 'esbuild JS API: bundle, platform node, target node22, format cjs, minify, AWS SDK bundled, no source map',
    };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}
