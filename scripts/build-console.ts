/**
 * Builds the web console into dist/console (run by `npm install` through
 * `postinstall`, and by `npm run build:console`), then writes .br and .gz
 * copies of each text file, which src/http/console.ts serves to browsers that
 * accept them. An install without dev dependencies has no Vite: then it says so
 * and leaves /console answering 503.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

let build: typeof import('vite').build;
try {
  ({ build } = await import('vite'));
} catch {
  console.warn('console: Vite is not installed (dev dependencies omitted?); /console stays unbuilt');
  process.exit(0);
}

const started = performance.now();
await build({ configFile: fileURLToPath(new URL('../console/vite.config.ts', import.meta.url)), logLevel: 'warn' });

const out = fileURLToPath(new URL('../dist/console/', import.meta.url));
for (const entry of readdirSync(out, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !/\.(js|css|html|json|svg)$/.test(entry.name)) continue;
  const file = join(entry.parentPath, entry.name);
  const data = readFileSync(file);
  writeFileSync(`${file}.br`, brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 9 } }));
  writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }));
}
console.log(`console: built into dist/console in ${((performance.now() - started) / 1000).toFixed(1)} s`);
