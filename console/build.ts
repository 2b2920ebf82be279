/**
 * Builds the console's browser assets in memory with esbuild (already the project's
 * bundler through tsx): no output directory to go stale, no manual build step, and a
 * build takes a fraction of a second, so servers build on the first request.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export interface ConsoleAsset {
  contentType: string;
  body: Buffer;
}

/** Asset name (as served under the console's base path) → content. */
export type ConsoleAssets = ReadonlyMap<string, ConsoleAsset>;

export class ConsoleBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConsoleBuildError';
  }
}

const root = new URL('./', import.meta.url);

async function build(): Promise<ConsoleAssets> {
  const { build: esbuild } = await import('esbuild');
  const result = await esbuild({
    entryPoints: { app: fileURLToPath(new URL('src/main.tsx', root)) },
    bundle: true,
    write: false,
    outdir: 'out',
    format: 'esm',
    target: ['es2022'],
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  }).catch((error: Error) => {
    throw new ConsoleBuildError(`The console failed to build: ${error.message}`);
  });
  const assets = new Map<string, ConsoleAsset>();
  for (const file of result.outputFiles) {
    const name = file.path.split(/[\\/]/).pop()!;
    const contentType = name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
    assets.set(name, { contentType, body: Buffer.from(file.contents) });
  }
  assets.set('index.html', { contentType: 'text/html; charset=utf-8', body: await readFile(new URL('index.html', root)) });
  return assets;
}

let built: Promise<ConsoleAssets> | undefined;

/** The console's assets, built once per process (a failed build is retried on the next call). */
export function consoleAssets(): Promise<ConsoleAssets> {
  built ??= build().catch((error) => {
    built = undefined;
    throw error;
  });
  return built;
}
