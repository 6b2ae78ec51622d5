import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createContainer } from '../src/container.js';
import { silentLogger } from '../src/core/logger.js';
import { CONSOLE_DIST } from '../src/http/console.js';
import { launchChromium } from '../src/testing/chromium.js';

/**
 * `npm run bench:console`: the console's bundle sizes (gzip -9) and first-load
 * times in headless Chromium against a local server (loopback, cold cache: a
 * new browser context per page). Prints a Markdown table for the README.
 */
if (!existsSync(join(CONSOLE_DIST, 'index.html'))) {
  execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../scripts/build-console.ts', import.meta.url))], { stdio: 'inherit' });
}
const assets = join(CONSOLE_DIST, 'assets');
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
console.log('| file | size | gzip |\n| --- | ---: | ---: |');
for (const f of readdirSync(assets).sort().filter((n) => !/\.(br|gz)$/.test(n))) {
  const buf = readFileSync(join(assets, f));
  console.log(`| ${f.replace(/-[\w-]{8}\./, '.')} | ${kb(buf.length)} | ${kb(gzipSync(buf, { level: 9 }).length)} |`);
}

// The real app in this process on a loopback port, with a throwaway database.
const dir = mkdtempSync(join(tmpdir(), 'console-bench-'));
const adminKey = 'console-bench-admin-key-0123456789';
const config = loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, FLOWS_DIR: join(dir, 'flows'), LOG_LEVEL: 'silent', ADMIN_API_KEY: adminKey });
const container = await createContainer(config, silentLogger);
const app = await buildApp(container);
const url = await app.listen({ host: '127.0.0.1', port: 0 });
const server = { app, adminKey, url };
const browser = await launchChromium();
try {
  const flow = {
    version: 1,
    name: 'Bench',
    start: 'hello',
    nodes: [
      { id: 'hello', type: 'say', text: 'Hello', next: 'bye' },
      { id: 'bye', type: 'end', text: 'Goodbye' },
    ],
  };
  await server.app.inject({
    method: 'POST',
    url: '/api/v1/agents',
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ name: 'Bench', slug: 'bench', flow }),
  });
  const pages: [string, string, string][] = [
    ['sign-in', '/console/', 'h1'],
    ['agents list', '/console/agents', 'table'],
    ['agent page (graph + editor)', '/console/agents/bench', '.cm-content'],
  ];
  console.log('\n| page | ready (median of 5) | JS + CSS transferred (brotli) |\n| --- | ---: | ---: |');
  for (const [name, path, ready] of pages) {
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 5; i++) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      if (name !== 'sign-in') {
        await ctx.addInitScript(`localStorage.setItem('console.session', ${JSON.stringify(JSON.stringify({ token: server.adminKey, kind: 'key', role: 'admin', name: 'bench' }))})`);
      }
      const page = await ctx.newPage();
      let sum = 0;
      // What a browser that accepts brotli receives: the .br copy of every console file the page loaded.
      page.on('response', (r) => {
        const m = /\/console\/(assets\/[^?]+)/.exec(r.url());
        if (m) sum += statSync(join(CONSOLE_DIST, `${m[1]}.br`)).size;
      });
      const t0 = Date.now();
      await page.goto(`${server.url}${path}`);
      await page.locator(ready).first().waitFor();
      times.push(Date.now() - t0);
      bytes = sum;
      await ctx.close();
    }
    times.sort((a, b) => a - b);
    console.log(`| ${name} | ${times[2]} ms | ${kb(bytes)} |`);
  }
} finally {
  await browser.close();
  await app.close();
  await container.close();
  rmSync(dir, { recursive: true, force: true });
}
