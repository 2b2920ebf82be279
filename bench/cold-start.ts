import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { esbuildOptionsOf, functionBundling } from '../infra/function-bundling';

export const FUNCTIONS = ['ingest', 'operator', 'deliverer', 'prober', 'aggregator'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

export interface ColdStartResult {
  runs: number;
  /** The version of the Node binary that timed the imports (its path is left out: it is this machine's). */
  nodeVersion: string;
  /** Median wall time of `node -e "0"`: the part of every import time that is Node itself. */
  nodeBaselineMedianMs: number;
  /** One-minute load average before and after timing: import times on a busy machine are worth little. */
  loadAverage1m: { before: number; after: number };
  /**
   * Per function: `importMedianMs` is the wall time of `require()` of the bundle inside a
   * fresh process (Node's own start-up excluded: that is `nodeBaselineMedianMs`), and
   * `importCpuMedianMs` the CPU time of that `require()`, which a busy machine inflates less.
   */
  functions: {
    name: string;
    bundleBytes: number;
    importMedianMs: number;
    importRunsMs: number[];
    importCpuMedianMs: number;
    importCpuRunsMs: number[];
  }[];
  bundling: string;
}

/** `summary.bundles` of the benchmark's results; each median names the Node version that timed it. */
export function bundlesSummary(result: ColdStartResult): { name: string; bytes: number; importMedianMs: number; nodeVersion: string }[] {
  return result.functions.map((f) => ({
    name: f.name,
    bytes: f.bundleBytes,
    importMedianMs: f.importMedianMs,
    nodeVersion: result.nodeVersion,
  }));
}

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Dummy settings the entry modules read at import (configFromEnvironment), as the construct sets them. */
export const ENTRY_ENV = {
  SLUICE_TABLE_NAME: 'bench-table',
  SLUICE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/bench.fifo',
  SLUICE_BUCKET_NAME: 'bench-bucket',
  AWS_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  // The construct sets it: Node then reads the bundle's source map when loading it.
  NODE_OPTIONS: '--enable-source-maps',
};

export interface FunctionBundle {
  name: FunctionName;
  outfile: string;
  bytes: number;
  metafile: Metafile;
}

/** Bundles one Lambda entry point with the construct's bundling options (infra/function-bundling.ts). */
export async function bundleFunction(name: FunctionName, outDir: string): Promise<FunctionBundle> {
  const outfile = join(outDir, name, 'index.js');
  const result = await build({
    ...esbuildOptionsOf(functionBundling(), join(REPO_ROOT, 'functions', name, 'index.ts'), outfile),
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: REPO_ROOT,
  });
  return { name, outfile, bytes: statSync(outfile).size, metafile: result.metafile };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function runNode(node: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    execFile(node, args, { env }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve({ ms: performance.now() - started, stdout });
    });
  });
}

/** A script that requires `file` and prints the wall and CPU time of that alone. */
function timedRequire(file: string): string {
  return (
    `const c=process.cpuUsage(),t=performance.now();require(${JSON.stringify(file)});` +
    `const w=performance.now()-t,u=process.cpuUsage(c);` +
    `process.stdout.write(JSON.stringify({wallMs:w,cpuMs:(u.user+u.system)/1000}))`
  );
}

export interface ColdStartOptions {
  /** Fresh processes per function. @default 5 */
  runs?: number;
  /** The Node binary to time with (Lambda runs nodejs22.x). @default SLUICE_BENCH_NODE (`npm run bench -- --node-binary`), else this process's */
  node?: string;
}

/**
 * Bundles each Lambda entry point as the CDK construct does and times `require()` of each
 * bundle in a fresh Node process, with the source map beside it as Lambda has it.
 * Functions are timed in interleaved rounds, so a burst of load spreads over all of them.
 */
export async function coldStart(options: ColdStartOptions = {}): Promise<ColdStartResult> {
  const runs = options.runs ?? 5;
  const node = options.node ?? process.env.SLUICE_BENCH_NODE ?? process.execPath;
  const outDir = mkdtempSync(join(tmpdir(), 'sluice-bench-bundles-'));
  const env = { PATH: process.env.PATH ?? '', ...ENTRY_ENV };
  try {
    const bundles: FunctionBundle[] = [];
    for (const name of FUNCTIONS) bundles.push(await bundleFunction(name, outDir));
    const loadBefore = loadavg()[0]!;
    const version = (await runNode(node, ['--version'], env)).stdout.trim();
    const baseline: number[] = [];
    for (let i = 0; i < runs; i++) baseline.push((await runNode(node, ['-e', '0'], env)).ms);
    const functions: ColdStartResult['functions'] = bundles.map((b) => ({
      name: b.name,
      bundleBytes: b.bytes,
      importMedianMs: 0,
      importRunsMs: [],
      importCpuMedianMs: 0,
      importCpuRunsMs: [],
    }));
    for (let i = 0; i < runs; i++) {
      for (const [index, f] of functions.entries()) {
        const { stdout } = await runNode(node, ['-e', timedRequire(bundles[index]!.outfile)], env);
        const { wallMs, cpuMs } = JSON.parse(stdout) as { wallMs: number; cpuMs: number };
        f.importRunsMs.push(Math.round(wallMs));
        f.importCpuRunsMs.push(Math.round(cpuMs));
      }
    }
    for (const f of functions) {
      f.importMedianMs = Math.round(median(f.importRunsMs));
      f.importCpuMedianMs = Math.round(median(f.importCpuRunsMs));
    }
    const bundling = functionBundling();
    return {
      runs,
      nodeVersion: version,
      nodeBaselineMedianMs: Math.round(median(baseline)),
      loadAverage1m: { before: Math.round(loadBefore * 100) / 100, after: Math.round(loadavg()[0]! * 100) / 100 },
      functions,
      bundling:
        `esbuild as the construct runs it (infra/function-bundling.ts): platform node, target ${bundling.target}, ` +
        `format cjs, minify, main fields ${bundling.mainFields?.join(',')}, no AWS SDK client (adapters/aws/protocol), source map beside it and --enable-source-maps`,
    };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}
