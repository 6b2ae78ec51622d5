import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * `npm run build:server`: compiles the server to one JavaScript file,
 * dist/server/main.js (+ source map), so `npm start` runs plain Node with no
 * TypeScript loader in the process (less memory, no loader thread, faster
 * start). Dependencies stay in node_modules (not bundled): native modules and
 * packages that read their own files keep working. The bundle sits two levels
 * under the repository, as src/http/*.ts does, so paths the code resolves from
 * its own location (the console's dist/console) stay right.
 */

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SERVER_BUNDLE = join(REPO_ROOT, 'dist', 'server', 'main.js');

/** Bundles `entry` (a TypeScript file) into `outfile`; returns how long it took in ms. */
export async function bundle(entry: string, outfile: string): Promise<number> {
  const started = performance.now();
  rmSync(dirname(outfile), { recursive: true, force: true });
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    // No keepNames: it wraps every named function and closure in a `__name(fn, "…")` call
    // (Object.defineProperty) each time it is created, 16 % of the outbound hot path's
    // instructions (bench/README.md, Hot path). esbuild keeps names
    // as written except where two modules' top-level names collide (`send` and `send2`); the
    // source map beside the bundle (node --enable-source-maps) maps stack traces back.
    logLevel: 'warning',
  });
  return Math.round(performance.now() - started);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const ms = await bundle(join(REPO_ROOT, 'src', 'main.ts'), SERVER_BUNDLE);
  // stderr: stdout belongs to the server that `npm start` runs next (its JSON log lines).
  process.stderr.write(`built ${SERVER_BUNDLE} in ${ms} ms\n`);
}
