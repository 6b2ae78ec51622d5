import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
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

/**
 * The Node flags `npm start` runs the bundle with (package.json's start script; the Dockerfile's
 * CMD says the same, and the bench runs the product with them). `--initial-old-space-size=160`:
 * V8 starts the old generation's first full-collection limit at 160 MB instead of sizing it from
 * the small heap the server starts with, which made a loaded server mark-compact every 4–10 s with
 * 17–44 ms pauses and 16–20 ms marking steps (overhead p95 up to 180 ms at 50 calls); see
 * docs/architecture.md#memory. `--expose-gc`: the server collects its start-up garbage once, before
 * it reads ready, instead of V8 doing it during the first calls (src/core/startup-gc.ts).
 */
export function startNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const m = /\bnode((?:\s+--\S+)*)\s+dist\/server\/main\.js\b/.exec(pkg.scripts.start);
  if (!m) throw new Error(`package.json start script does not run dist/server/main.js with node: ${pkg.scripts.start}`);
  return m[1]!.split(/\s+/).filter(Boolean);
}

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
