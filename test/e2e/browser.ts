import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { CONSOLE_DIST } from '../../src/http/console.js';
import { buildTestApp, type TestApp } from '../support/app.js';

export { launchChromium as launchBrowser } from '../../src/testing/chromium.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** Screenshots of every page a test visits (git-ignored). */
export const OUTPUT_DIR = join(REPO, 'test-output', 'console');

/** `npm install` builds the console; a checkout where that was skipped gets it built here once. */
export function ensureConsoleBuilt(): void {
  if (existsSync(join(CONSOLE_DIST, 'index.html'))) return;
  execFileSync(process.execPath, ['--import', 'tsx', join(REPO, 'scripts', 'build-console.ts')], { cwd: REPO, stdio: 'inherit' });
}

/** The real app listening on a loopback port, on a fresh SQLite file. */
export async function startServer(): Promise<TestApp & { url: string }> {
  const t = await buildTestApp();
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = t.app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  return { ...t, url: `http://127.0.0.1:${addr.port}` };
}

/** Numbered screenshots per test: test-output/console/<test>/01-<name>.png. */
export function screenshots(test: string) {
  const dir = join(OUTPUT_DIR, test);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let n = 0;
  return async (page: Page, name: string, opts: { fullPage?: boolean } = {}) => {
    const file = join(dir, `${String(++n).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: opts.fullPage ?? false });
    return file;
  };
}

/** Page errors and failed requests fail the test: a console that throws is broken even when it looks fine. */
export function watchForErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // The browser logs every 4xx answer as "Failed to load resource"; the console handles those itself.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console.error: ${m.text()}`);
  });
  return errors;
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * WCAG 2.1 A and AA violations on the page as it is now, found by axe-core
 * (evaluated through the DevTools protocol, so the page's CSP does not apply to it).
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  if (await page.evaluate("typeof window.axe === 'undefined'")) await page.evaluate(AXE_SOURCE);
  return page.evaluate(`axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) })))`) as Promise<AxeViolation[]>;
}
