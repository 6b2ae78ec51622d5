import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { axeViolations, ensureConsoleBuilt, launchBrowser, screenshots, startServer, watchForErrors } from './browser.js';
import type { TestApp } from '../support/app.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CALLER, startHarness, type Harness } from '../scenarios/harness.js';

/**
 * The console in a real browser (Debian's Chromium through playwright-core)
 * against the real server on a loopback port with a fresh SQLite database.
 * One browser for the file; each test gets a fresh context (empty storage).
 * Sign-in uses an admin API key, which works with or without staff login.
 */

type Server = TestApp & { url: string };
let server: Server;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let errors: string[];

const json = { 'content-type': 'application/json' };

async function call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await server.app.inject({
    method: method as 'GET',
    url: `/api/v1${path}`,
    headers: { authorization: `Bearer ${server.adminKey}`, ...(body === undefined ? {} : json) },
    payload: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.statusCode >= 400) throw new Error(`${method} ${path}: ${res.statusCode} ${res.body}`);
  return (res.body ? res.json() : undefined) as T;
}

/** A keypad flow that validates (no LLM, no speech), optionally with a tweak. */
function frontDesk(greeting = 'Thanks for calling the front desk.') {
  return {
    version: 1,
    name: 'Front desk',
    settings: { fallbackNode: 'bye', fallbackMessage: 'Sorry, something went wrong.' },
    start: 'hello',
    nodes: [
      { id: 'hello', type: 'say', text: greeting, next: 'menu' },
      {
        id: 'menu',
        type: 'gather',
        prompt: 'For our hours press 1. To speak to someone press 0.',
        variable: 'choice',
        input: ['dtmf'],
        valueType: 'digits',
        digits: { min: 1, max: 1, terminator: 'none' },
        next: 'route',
        onFailure: 'bye',
      },
      { id: 'route', type: 'branch', branches: [{ if: { var: 'choice', op: 'eq', value: '0' }, to: 'desk' }], else: 'hours' },
      { id: 'hours', type: 'say', text: 'We are open nine to five.', next: 'bye' },
      { id: 'desk', type: 'transfer', target: { queue: 'front' }, mode: 'cold', onUnavailable: 'bye' },
      { id: 'bye', type: 'end', text: 'Goodbye.' },
    ],
  };
}

let seq = 0;
async function activeAgent(name: string, versions: Record<string, unknown>[]) {
  const slug = `${name.toLowerCase().replace(/\W+/g, '-')}-${++seq}`;
  const a = await call<{ id: string; slug: string }>('POST', '/agents', { name, slug, flow: versions[0] });
  for (const [i, flow] of versions.entries()) {
    if (i > 0) {
      const d = await call<{ revision: number }>('GET', `/agents/${a.id}/draft`);
      await call('PUT', `/agents/${a.id}/draft`, { flow, baseRevision: d.revision });
    }
    await call('POST', `/agents/${a.id}/publish`, { note: `release ${i + 1}` });
  }
  await call('POST', `/agents/${a.id}/activate`, { reason: 'launch' });
  return a;
}

async function signIn(p: Page, shot: (p: Page, n: string) => Promise<string>) {
  await p.goto(`${server.url}/console/`);
  await p.getByRole('heading', { name: 'Sign in' }).waitFor();
  await shot(p, 'sign-in');
  await p.getByText('Sign in with an API key').click();
  await p.getByLabel('API key').fill(server.adminKey);
  await p.getByRole('button', { name: 'Sign in with key' }).click();
  await p.getByRole('heading', { name: 'Agents' }).waitFor();
}

/** Replaces the whole editor text, as a person pasting a flow would. */
/**
 * Opens the editor's completion list and waits for an option. Under a loaded CI machine a
 * Ctrl+Space can land while CodeMirror is still applying the previous change and the list
 * never opens, so ask again a few times before giving up.
 */
async function completionOption(p: Page, hasText: string, attempts = 4) {
  const option = p.locator('.cm-tooltip-autocomplete li', { hasText });
  for (let attempt = 0; attempt < attempts; attempt++) {
    await p.keyboard.press('Control+Space');
    try {
      await option.first().waitFor({ timeout: 3_000 });
      return option.first();
    } catch {
      // Close a stale list, if any, and ask again.
      await p.keyboard.press('Escape');
    }
  }
  const seen = await p.locator('.cm-tooltip-autocomplete li').allTextContents();
  const line = await p.locator('.cm-activeLine').textContent().catch(() => null);
  throw new Error(`completion never offered ${hasText}; offered ${JSON.stringify(seen)} on line ${JSON.stringify(line)}`);
}

async function replaceEditorText(p: Page, text: string) {
  const content = p.locator('.cm-content');
  await content.click();
  await p.keyboard.press('ControlOrMeta+a');
  await p.keyboard.press('Delete');
  await p.keyboard.insertText(text);
}

beforeAll(async () => {
  ensureConsoleBuilt();
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  page = await context.newPage();
  // Shorter than the test's own timeout, so a stuck step fails naming its locator.
  page.setDefaultTimeout(20_000);
  errors = watchForErrors(page);
});

afterEach(async () => {
  await context?.close();
  expect(errors).toEqual([]);
});

describe('console in Chromium', () => {
  it('signs in with an API key, refuses a wrong one, deep-links after sign-in and signs out', { timeout: 30_000 }, async () => {
    const shot = screenshots('sign-in');
    await activeAgent('Clinic', [frontDesk()]);

    // A deep link before sign-in comes back after it.
    await page.goto(`${server.url}/console/agents`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(new URL(page.url()).searchParams.get('next')).toBe('/agents');

    await page.getByText('Sign in with an API key').click();
    await page.getByLabel('API key').fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in with key' }).click();
    await page.getByText('That API key is not valid.').waitFor();
    await shot(page, 'wrong-key');

    await page.getByLabel('API key').fill(server.adminKey);
    await page.getByRole('button', { name: 'Sign in with key' }).click();
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    const row = page.locator('tr', { has: page.getByRole('link', { name: 'Clinic' }) });
    await expect(row.locator('.badge').textContent()).resolves.toBe('Active');
    await expect(page.locator('.role-badge').textContent()).resolves.toBe('admin');
    await shot(page, 'agents');

    // The session survives a reload; signing out returns to the sign-in page.
    await page.reload();
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.goto(`${server.url}/console/agents`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });

  it('toggles an agent off and on with reasons, and the audit log shows them', { timeout: 30_000 }, async () => {
    const shot = screenshots('toggle');
    const a = await activeAgent('Pizza line', [frontDesk()]);
    await signIn(page, shot);

    const toggle = page.getByRole('switch', { name: 'Active: Pizza line' });
    await expect(toggle.getAttribute('aria-checked')).resolves.toBe('true');
    await toggle.click();
    const off = page.getByRole('dialog', { name: 'Deactivate Pizza line?' });
    await off.getByText('Calls in progress finish on the version they started with.').waitFor();
    await off.getByLabel('Reason (optional)').fill('Closed for the holiday');
    await shot(page, 'deactivate-dialog');
    await off.getByRole('button', { name: 'Deactivate' }).click();
    await page.getByRole('switch', { name: 'Active: Pizza line', checked: false }).waitFor();
    const row = page.locator(`tr[data-agent="${a.slug}"]`);
    await expect(row.locator('.badge').textContent()).resolves.toBe('Inactive');
    await shot(page, 'inactive');
    expect((await call<{ state: string }>('GET', `/agents/${a.id}`)).state).toBe('inactive');

    await toggle.click();
    const on = page.getByRole('dialog', { name: 'Activate Pizza line?' });
    await on.getByLabel('Reason (optional)').fill('Back after the holiday');
    await on.getByRole('button', { name: 'Activate' }).click();
    await page.getByRole('switch', { name: 'Active: Pizza line', checked: true }).waitFor();
    await expect(row.locator('.badge').textContent()).resolves.toBe('Active');

    await row.getByRole('link', { name: 'Pizza line' }).click();
    await page.getByRole('link', { name: 'Audit log' }).click();
    const audit = page.locator('table.audit');
    await audit.getByText('Back after the holiday').waitFor();
    const rows = await audit.locator('tbody tr').allTextContents();
    expect(rows[0]).toContain('Activated');
    expect(rows[0]).toContain('Back after the holiday');
    expect(rows[1]).toContain('Deactivated');
    expect(rows[1]).toContain('Closed for the holiday');
    expect(rows[1]).toContain('active → inactive');
    await shot(page, 'audit');
  });

  it('edits a draft: a checklist error highlights its node, the fix saves, publishes, and an older version is restored', { timeout: 45_000 }, async () => {
    const shot = screenshots('edit-publish-restore');
    const a = await activeAgent('Front desk', [frontDesk('Hello from version one.'), frontDesk('Hello from version two.')]);
    await signIn(page, shot);
    await page.goto(`${server.url}/console/agents/${a.slug}`);
    await page.locator('.cm-content').waitFor();
    await page.locator('[data-check="orphans"].check-pass').waitFor();
    await shot(page, 'agent-page');

    // An orphan: "lost" is reachable from nowhere. Auto-save (2 s after typing) stores it.
    const broken = frontDesk('Hello from the draft.');
    broken.nodes.push({ id: 'lost', type: 'say', text: 'Nobody gets here.', next: 'bye' });
    await replaceEditorText(page, JSON.stringify(broken, null, 2));
    await page.locator('[data-save="unsaved"]').waitFor();
    await page.locator('[data-save="saved"]').waitFor({ timeout: 10_000 });
    const orphan = page.locator('[data-check="orphans"].check-error');
    await orphan.waitFor();
    await expect(page.locator('g[data-node="lost"]').getAttribute('class')).resolves.toContain('has-error');
    await orphan.getByRole('button', { name: /lost/ }).click();
    await expect(page.locator('g[data-node="lost"]').getAttribute('class')).resolves.toContain('focused');
    await page.getByRole('heading', { name: /Node lost/ }).waitFor();
    await shot(page, 'orphan-highlighted');

    // Publishing now is refused with the reason.
    await page.getByRole('button', { name: 'Publish' }).click();
    const pub = page.getByRole('dialog', { name: 'Publish Front desk' });
    await pub.getByRole('button', { name: 'Publish' }).click();
    await pub.getByText('The draft has errors').waitFor();
    await pub.getByRole('button', { name: 'Cancel' }).click();

    // Fix: greet, then go to "lost", which goes on to the menu. Ctrl+S saves at once.
    const fixed = frontDesk('Hello from the draft.');
    fixed.nodes[0] = { id: 'hello', type: 'say', text: 'Hello from the draft.', next: 'lost' };
    fixed.nodes.push({ id: 'lost', type: 'say', text: 'Now somebody gets here.', next: 'menu' });
    await replaceEditorText(page, JSON.stringify(fixed, null, 2));
    await page.keyboard.press('ControlOrMeta+s');
    await page.locator('[data-save="saved"]').waitFor();
    await page.locator('[data-check="orphans"].check-pass').waitFor();
    await expect(page.locator('g[data-node="lost"]').getAttribute('class')).resolves.not.toContain('has-error');
    expect((await call<{ flow: { nodes: { id: string }[] } }>('GET', `/agents/${a.id}/draft`)).flow.nodes.map((n) => n.id)).toContain('lost');

    await page.getByRole('button', { name: 'Publish' }).click();
    await pub.getByLabel('Note (optional)').fill('Greets through the new node');
    await shot(page, 'publish-dialog');
    await pub.getByRole('button', { name: 'Publish' }).click();
    await page.getByText('Published version 3.').waitFor();
    const v3 = await call<{ note: string; flow: { nodes: { id: string }[] } }>('GET', `/agents/${a.id}/versions/3`);
    expect(v3.note).toBe('Greets through the new node');

    // Versions: compare 1 with 3, then restore version 1.
    await page.getByRole('link', { name: 'Versions' }).click();
    await page.locator('tr[data-version="3"]').waitFor();
    await page.getByLabel('Compare from').selectOption('1');
    await page.getByLabel('Compare to').selectOption('3');
    await page.locator('.diff .diff-add', { hasText: 'Now somebody gets here.' }).waitFor();
    await page.locator('.diff .diff-del', { hasText: 'Hello from version one.' }).waitFor();
    await shot(page, 'versions-diff');

    await page.getByRole('button', { name: 'Restore: version 1' }).click();
    const restore = page.getByRole('dialog', { name: 'Restore: version 1' });
    await restore.getByText('Calls in progress finish on the version they started with.').waitFor();
    await restore.getByLabel('Reason (optional)').fill('Version 2 confused callers');
    await restore.getByRole('button', { name: 'Restore' }).click();
    await page.getByText('Front desk now serves version 1.').waitFor();
    await page.locator('tr[data-version="1"] .badge', { hasText: 'Serving' }).waitFor();
    const agent = await call<{ state: string; servedVersion: number }>('GET', `/agents/${a.id}`);
    expect(agent).toMatchObject({ state: 'active', servedVersion: 1 });
    await shot(page, 'restored');

    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.locator('table.audit').getByText('Version 2 confused callers').waitFor();

    // Leaving for the agents list within 2 s of an edit still saves it.
    await page.getByRole('link', { name: 'Flow' }).click();
    await replaceEditorText(page, JSON.stringify(frontDesk('Saved on the way out.'), null, 2));
    await page.locator('[data-save="unsaved"]').waitFor();
    const put = page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().endsWith(`/agents/${a.slug}/draft`));
    await page.getByRole('link', { name: 'Agents', exact: true }).first().click();
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    expect((await put).status()).toBe(200);
    expect((await call<{ flow: { nodes: { text?: string }[] } }>('GET', `/agents/${a.id}/draft`)).flow.nodes[0]!.text).toBe('Saved on the way out.');
  });

  it('keeps unsaved work when someone else saved the draft, and saves it over theirs on request', { timeout: 30_000 }, async () => {
    const shot = screenshots('conflict');
    const a = await activeAgent('Conflict line', [frontDesk()]);
    await signIn(page, shot);
    await page.goto(`${server.url}/console/agents/${a.slug}`);
    await page.locator('.cm-content').waitFor();
    await page.locator('[data-check="orphans"].check-pass').waitFor();

    // Someone else saves first.
    const d = await call<{ revision: number }>('GET', `/agents/${a.id}/draft`);
    await call('PUT', `/agents/${a.id}/draft`, { flow: frontDesk('Their greeting.'), baseRevision: d.revision });

    await replaceEditorText(page, JSON.stringify(frontDesk('My greeting.'), null, 2));
    await page.keyboard.press('ControlOrMeta+s');
    const banner = page.getByRole('alert').filter({ hasText: 'This draft was saved somewhere else' });
    await banner.waitFor();
    await page.locator('[data-save="conflict"]').waitFor();
    expect(await page.locator('.cm-content').textContent()).toContain('My greeting.');
    await shot(page, 'conflict');
    // Publishing now would publish their copy, not what is on screen: refused.
    await page.getByRole('button', { name: 'Publish' }).click();
    const pub = page.getByRole('dialog', { name: 'Publish Conflict line' });
    await pub.getByRole('button', { name: 'Publish' }).click();
    await pub.getByText('The draft on screen is not saved').waitFor();
    await pub.getByRole('button', { name: 'Cancel' }).click();
    expect((await call<{ latestVersion: number }>('GET', `/agents/${a.id}`)).latestVersion).toBe(1);

    await banner.getByRole('button', { name: 'Keep mine and save' }).click();
    await page.locator('[data-save="saved"]').waitFor();
    const after = await call<{ flow: { nodes: { text?: string }[] } }>('GET', `/agents/${a.id}/draft`);
    expect(after.flow.nodes[0]!.text).toBe('My greeting.');
  });

  it('completes property names and node ids from the flow schema in the editor', { timeout: 30_000 }, async () => {
    const shot = screenshots('completion');
    const a = await activeAgent('Schema line', [frontDesk()]);
    await signIn(page, shot);
    await page.goto(`${server.url}/console/agents/${a.slug}`);
    await page.locator('.cm-content').waitFor();
    // Line 4 is a say node still missing its text and next: complete there. The cursor is put
    // there by clicking that line (the editor wraps long lines, so counting ArrowDowns depends on
    // the panel's width), and placed again if the editor moved it before the list opened.
    const text = ['{', '  "version": 1, "name": "x", "start": "a",', '  "nodes": [', '    { "id": "a", "type": "say",  },', '    { "id": "bye", "type": "end" }', '  ]', '}'].join('\n');
    await replaceEditorText(page, text);
    await page.locator('[data-save="unsaved"]').waitFor();
    let next: Locator | undefined;
    for (let round = 0; round < 3 && !next; round++) {
      await page.locator('.cm-line', { hasText: '"type": "say"' }).click();
      await page.keyboard.press('End');
      for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowLeft');
      next = await completionOption(page, '"next"', 2).catch(() => undefined);
    }
    if (!next) next = await completionOption(page, '"next"');
    const list = page.locator('.cm-tooltip-autocomplete');
    const options = await list.locator('li').allTextContents();
    expect(options.some((o) => o.includes('"next"'))).toBe(true);
    expect(options.some((o) => o.includes('"interruptible"'))).toBe(true);
    // Only the say node's properties: a gather's prompt is not offered, nor keys already there.
    expect(options.some((o) => o.includes('"prompt"'))).toBe(false);
    expect(options.some((o) => o.includes('"type"'))).toBe(false);
    await shot(page, 'property-completion');
    await next.click();
    const bye = await completionOption(page, '"bye"');
    await shot(page, 'node-id-completion');
    await bye.click();
    expect(await page.locator('.cm-content').textContent()).toContain('"next": "bye"');
  });

  it('offers a support key no changes: no switch, no publish, a read-only editor', { timeout: 30_000 }, async () => {
    const shot = screenshots('support-role');
    const a = await activeAgent('Read only line', [frontDesk()]);
    const key = (await call<{ key: string }>('POST', '/api-keys', { name: 'support desk', role: 'support' })).key;
    await page.goto(`${server.url}/console/`);
    await page.getByText('Sign in with an API key').click();
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in with key' }).click();
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    await expect(page.locator('.role-badge').textContent()).resolves.toBe('support');
    expect(await page.getByRole('switch').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'New agent' }).count()).toBe(0);
    await shot(page, 'agents');
    await page.goto(`${server.url}/console/agents/${a.slug}`);
    await page.locator('.cm-content').waitFor();
    await page.locator('[data-check="orphans"].check-pass').waitFor();
    expect(await page.getByRole('button', { name: 'Publish' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Test chat' }).count()).toBe(0);
    await expect(page.locator('.cm-content').getAttribute('aria-readonly')).resolves.toBe('true');
    await shot(page, 'agent');
  });

  it('shows a call in progress with its transcript growing live, then in the history', { timeout: 30_000 }, async () => {
    const shot = screenshots('calls');
    const a = await activeAgent('Hotline', [frontDesk()]);
    const calls = server.container.telephony.calls;
    const callSid = `CA${'7'.repeat(32)}`;
    await calls.open({ callSid, accountSid: 'AC1', agentId: a.id, slug: a.slug, version: 1, from: '+15550001111', to: '+15550100002', direction: 'inbound' });
    await calls.streamStarted(callSid, 'MZ1');
    // As the pipeline does: each turn on the event bus (the live feed) and in the call record.
    calls.emit({ type: 'turn.agent', callSid, text: 'Thanks for calling the front desk.', heardText: 'Thanks for calling the front desk.', outcome: 'played', cached: true, nodeId: 'hello' });
    await calls.addTurn(callSid, { role: 'agent', text: 'Thanks for calling the front desk.', at: Date.now(), nodeId: 'hello' });
    await signIn(page, shot);

    await page.getByRole('link', { name: 'Calls' }).click();
    const row = page.locator(`tr[data-call="${callSid}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('Hotline');
    expect(await row.locator('svg.robot').count()).toBe(1);
    await shot(page, 'calls-live');
    await row.getByRole('link').click();
    await page.locator('.transcript li', { hasText: 'Thanks for calling the front desk.' }).waitFor();

    // The caller speaks while the page is open: the turn appears without a reload.
    const metrics = { endpointMs: 180, responseMs: 640 };
    calls.emit({ type: 'turn.caller', callSid, text: 'What are your hours?', via: 'speech', metrics });
    await calls.addTurn(callSid, { role: 'caller', text: 'What are your hours?', at: Date.now(), via: 'speech', metrics });
    await page.locator('.transcript li', { hasText: 'What are your hours?' }).waitFor();
    await page.getByText('endpoint 180 ms').waitFor();
    await shot(page, 'call-live');
    await calls.end(callSid, 'hangup');
    await page.locator('.badge', { hasText: 'Ended' }).waitFor();
    await page.getByRole('link', { name: 'Calls', exact: true }).first().click();
    await page.locator('section', { has: page.getByRole('heading', { name: 'History' }) }).locator(`tr[data-call="${callSid}"]`).waitFor();
  });

  it('analytics: totals, calls per day, outcomes and versions side by side for the calls made', { timeout: 30_000 }, async () => {
    const shot = screenshots('analytics');
    const a = await activeAgent('Stats line', [frontDesk()]);
    const calls = server.container.telephony.calls;
    const place = async (n: number, responseMs: number, end: [reason: string, outcome: string]) => {
      const callSid = `CA${String(n).repeat(32)}`;
      await calls.open({ callSid, accountSid: 'AC1', agentId: a.id, slug: a.slug, version: 1, from: '+15550001111', to: '+15550100002', direction: 'inbound' });
      await calls.streamStarted(callSid, `MZ${n}`);
      await calls.addTurn(callSid, { role: 'caller', text: 'Hello?', at: Date.now(), via: 'speech' });
      // What the call runner does for a measured reply: the event (history, analytics) and the turn (the record).
      calls.emit({ type: 'turn.agent', callSid, text: 'Hi there.', heardText: 'Hi there.', outcome: 'played', cached: false, nodeId: 'hello', metrics: { responseMs, overheadMs: 20 } });
      await calls.addTurn(callSid, { role: 'agent', text: 'Hi there.', at: Date.now(), nodeId: 'hello' });
      await calls.end(callSid, ...end);
    };
    // Two the flow finished, one the caller left, one that failed.
    await place(3, 600, ['end', 'completed']);
    await place(4, 800, ['end', 'completed']);
    await place(5, 900, ['caller_hangup', 'completed']);
    await place(6, 1000, ['media', 'media_error']);
    await signIn(page, shot);
    await page.getByRole('link', { name: 'Analytics' }).click();
    await page.getByRole('heading', { name: 'Analytics' }).waitFor();
    await page.getByLabel('Agent', { exact: true }).selectOption({ label: 'Stats line' });
    // History is written to SQL in short batches: ask again until the four calls are in.
    const calls4 = page.locator('.tile', { hasText: 'Calls' }).locator('.tile-value', { hasText: /^4$/ });
    await expect
      .poll(async () => {
        await page.getByRole('button', { name: 'Show' }).click();
        await page.getByRole('button', { name: 'Show' }).waitFor();
        return calls4.count();
      }, { timeout: 10_000 })
      .toBe(1);
    // Nearest rank over 600, 800, 900, 1000: p50 800, p95 1000.
    await page.locator('.tile', { hasText: 'Reply time p50 / p95' }).getByText('800 ms / 1000 ms').waitFor();
    await page.locator('.tile', { hasText: 'Our overhead p50 / p95' }).getByText('20 ms / 20 ms').waitFor();
    expect(await page.locator('[data-result="completed"] .outcome-value').textContent()).toContain('2');
    expect(await page.locator('[data-result="abandoned"] .outcome-value').textContent()).toContain('1');
    expect(await page.locator('[data-result="failed"] .outcome-value').textContent()).toContain('1');
    const row = page.locator(`tr[data-version="${a.slug}@1"]`);
    expect(await row.textContent()).toContain('50 %');
    const today = new Date().toISOString().slice(0, 10);
    expect(await page.locator(`svg.chart g[data-day="${today}"] rect`).count()).toBe(3);
    await shot(page, 'analytics', { fullPage: true });
    // A support key sees no Analytics entry (the API refuses it too).
    const key = (await call<{ key: string }>('POST', '/api-keys', { name: 'support desk 2', role: 'support' })).key;
    const res = await fetch(`${server.url}/api/v1/analytics`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(403);
  });

  it('falls back to reading the call again when the live feed cannot be opened', { timeout: 30_000 }, async () => {
    const shot = screenshots('call-fallback');
    const a = await activeAgent('Fallback line', [frontDesk()]);
    const calls = server.container.telephony.calls;
    const callSid = `CA${'8'.repeat(32)}`;
    await calls.open({ callSid, accountSid: 'AC1', agentId: a.id, slug: a.slug, version: 1, from: '+15550001112', to: '+15550100002', direction: 'inbound' });
    await calls.streamStarted(callSid, 'MZ2');
    // A network that drops the call's feed socket at once (the workspace socket is left alone).
    await page.addInitScript(`{
      const Real = window.WebSocket;
      const Dropped = function (url, protocols) {
        if (!String(url).includes('/live')) return new Real(url, protocols);
        const ws = { readyState: 3, onclose: null, onmessage: null, close() {}, send() {} };
        setTimeout(() => ws.onclose && ws.onclose({ code: 1006 }), 20);
        return ws;
      };
      Object.assign(Dropped, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
      window.WebSocket = Dropped;
    }`);
    await signIn(page, shot);
    await page.goto(`${server.url}/console/calls/${callSid}`);
    await page.locator('.badge', { hasText: 'Refreshing' }).waitFor();
    // A turn only in the call record (no event on the bus): polling still shows it.
    await calls.addTurn(callSid, { role: 'agent', text: 'Still here by polling.', at: Date.now(), nodeId: 'hello' });
    await page.locator('.transcript li', { hasText: 'Still here by polling.' }).waitFor();
    expect(await page.locator('.badge', { hasText: 'Live' }).count()).toBe(0);
    await shot(page, 'call-polling');
    await calls.end(callSid, 'hangup');
    await page.locator('.badge', { hasText: 'Ended' }).waitFor();
  });

  it('staff directory: add with inline errors, edit, disable and enable, bulk disable and delete, delete one', { timeout: 45_000 }, async () => {
    const shot = screenshots('staff');
    await signIn(page, shot);
    await page.getByRole('link', { name: 'Staff' }).click();
    await page.getByRole('heading', { name: 'Usage overview' }).waitFor();

    const add = async (name: string, username: string, password: string) => {
      await page.getByRole('button', { name: 'Add person' }).click();
      const d = page.getByRole('dialog', { name: 'Add a person' });
      await d.getByLabel('Display name').fill(name);
      await d.getByLabel('Username').fill(username);
      await d.getByLabel('Initial password').fill(password);
      await d.getByRole('button', { name: 'Add' }).click();
      return d;
    };
    // A short password and a taken username keep the dialog open with a red inline error.
    let d = await add('Ann Example', 'ann', 'abc');
    await d.getByText('The password needs at least 6 characters.').waitFor();
    await d.getByLabel('Initial password').fill('secret1');
    await d.getByRole('button', { name: 'Add' }).click();
    await page.locator('tr[data-staff="ann"]').waitFor();
    d = await add('Another Ann', 'ANN', 'secret2');
    await d.getByText('That username is taken.').waitFor();
    await expect(d.getByLabel('Username').getAttribute('aria-invalid')).resolves.toBe('true');
    await shot(page, 'add-username-taken');
    await d.getByRole('button', { name: 'Cancel' }).click();

    // Edit.
    const ann = page.locator('tr[data-staff="ann"]');
    await ann.getByRole('button', { name: 'Actions for Ann Example' }).click();
    await page.getByRole('menuitem', { name: 'Edit' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit Ann Example' });
    await edit.getByLabel('Display name').fill('Ann E.');
    await edit.getByLabel('Max concurrent sessions').fill('2');
    await edit.getByLabel('Show real customer phone numbers').check();
    await shot(page, 'edit');
    await edit.getByRole('button', { name: 'Save' }).click();
    await ann.getByText('Ann E.').waitFor();
    const saved = (await call<{ items: { username: string; maxConcurrentSessions: number; showRealPhoneNumbers: boolean }[] }>('GET', '/staff')).items.find((x) => x.username === 'ann');
    expect(saved).toMatchObject({ maxConcurrentSessions: 2, showRealPhoneNumbers: true });

    // Disable and enable one.
    await ann.getByRole('button', { name: 'Actions for Ann E.' }).click();
    await page.getByRole('menuitem', { name: 'Disable' }).click();
    await ann.locator('.badge', { hasText: 'Disabled' }).waitFor();
    await shot(page, 'disabled');
    await ann.getByRole('button', { name: 'Actions for Ann E.' }).click();
    await page.getByRole('menuitem', { name: 'Enable' }).click();
    await ann.locator('.badge', { hasText: 'Disabled' }).waitFor({ state: 'detached' });

    // Bulk: two more people, disabled then deleted together.
    for (const [n, u] of [['Bob Builder', 'bob'], ['Cy Support', 'cy']] as const) {
      await add(n, u, 'secret1');
      await page.locator(`tr[data-staff="${u}"]`).waitFor();
    }
    await page.getByLabel('Select Bob Builder').check();
    await page.getByLabel('Select Cy Support').check();
    await page.getByText('2 selected').waitFor();
    await page.getByRole('region', { name: 'Bulk actions' }).getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('dialog', { name: 'Disable 2 people?' }).getByRole('button', { name: 'Disable 2' }).click();
    await page.locator('tr[data-staff="bob"] .badge', { hasText: 'Disabled' }).waitFor();
    await page.locator('tr[data-staff="cy"] .badge', { hasText: 'Disabled' }).waitFor();
    await page.getByLabel('Select Bob Builder').check();
    await page.getByLabel('Select Cy Support').check();
    await page.getByRole('region', { name: 'Bulk actions' }).getByRole('button', { name: 'Delete' }).click();
    const bulkDelete = page.getByRole('dialog', { name: 'Delete 2 people?' });
    await bulkDelete.getByText('cannot be undone').waitFor();
    await shot(page, 'bulk-delete');
    await bulkDelete.getByRole('button', { name: 'Delete 2' }).click();
    await page.locator('tr[data-staff="bob"]').waitFor({ state: 'detached' });
    await page.locator('tr[data-staff="cy"]').waitFor({ state: 'detached' });

    // Delete one.
    await ann.getByRole('button', { name: 'Actions for Ann E.' }).click();
    await page.getByRole('menuitem', { name: 'Delete' }).click();
    const del = page.getByRole('dialog', { name: 'Delete Ann E.?' });
    await del.getByText('This cannot be undone.').waitFor();
    await del.getByRole('button', { name: 'Delete' }).click();
    await ann.waitFor({ state: 'detached' });
    expect((await call<{ items: unknown[] }>('GET', '/staff')).items).toHaveLength(0);
  });

  it('an invited person activates from the link, signs in with a password and signs out', { timeout: 30_000 }, async () => {
    const shot = screenshots('activate');
    const person = await call<{ id: string }>('POST', '/staff', { displayName: 'Dee Desk', username: 'dee', role: 'builder' });
    const { activationUrl } = await call<{ activationUrl: string }>('POST', `/staff/${person.id}/invite`, {});
    const token = new URL(activationUrl).searchParams.get('token');
    await page.goto(`${server.url}/console/activate?token=${encodeURIComponent(token!)}`);
    await page.getByRole('heading', { name: 'Activate your account' }).waitFor();
    await page.getByLabel('New password').fill('dee-secret');
    await page.getByLabel('Repeat the password').fill('dee-secret');
    await shot(page, 'activate');
    await page.getByRole('button', { name: 'Activate' }).click();
    await page.getByText('Your account is active.').waitFor();
    await page.getByRole('link', { name: 'Sign in' }).click();

    await page.getByLabel('Username').fill('dee');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText('The username or password is not right').waitFor();
    await page.getByLabel('Password').fill('dee-secret');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    await page.locator('.who', { hasText: 'Dee Desk' }).waitFor();
    await expect(page.locator('.role-badge').textContent()).resolves.toBe('builder');
    expect(await page.getByRole('link', { name: 'Staff' }).count()).toBe(0);
    // The open console keeps the person online (workspace socket with heartbeats).
    await page.locator('.presence.on', { hasText: 'Online' }).waitFor();
    const dee = await call<{ presence: string }>('GET', `/staff/${person.id}`);
    expect(dee.presence).toBe('online');
    await shot(page, 'signed-in');
    // The link works once.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.goto(`${server.url}/console/activate?token=${encodeURIComponent(token!)}`);
    await page.getByLabel('New password').fill('again-secret');
    await page.getByLabel('Repeat the password').fill('again-secret');
    await page.getByRole('button', { name: 'Activate' }).click();
    await page.getByText('This activation link is not valid any more').waitFor();
  });

  it('every page and dialog passes axe-core WCAG 2.1 A/AA checks, at 1280 px and at phone width', { timeout: 60_000 }, async () => {
    const a = await activeAgent('Checked line', [frontDesk('Hello one.'), frontDesk('Hello two.')]);
    const found: Record<string, unknown> = {};
    const check = async (name: string) => {
      const v = await axeViolations(page);
      if (v.length) found[name] = v;
    };
    await page.goto(`${server.url}/console/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByText('Sign in with an API key').click();
    await check('sign-in');
    await page.goto(`${server.url}/console/activate?token=x`);
    await page.getByRole('heading', { name: 'Activate your account' }).waitFor();
    await check('activate');
    await signIn(page, async () => '');
    await check('agents');
    await page.getByRole('switch', { name: 'Active: Checked line' }).click();
    await page.getByRole('dialog').waitFor();
    await check('toggle dialog');
    await page.keyboard.press('Escape');
    for (const [tab, ready] of [
      ['', '[data-check="orphans"]'],
      ['/versions', '.diff'],
      ['/audit', 'table.audit'],
      ['/numbers', '#numbers-h'],
      ['/chat', '#chat-h'],
      ['/unavailable', '#unav-h'],
    ] as const) {
      await page.goto(`${server.url}/console/agents/${a.slug}${tab}`);
      await page.locator(ready).first().waitFor();
      await check(`agent${tab || '/flow'}`);
    }
    await page.goto(`${server.url}/console/agents/${a.slug}`);
    await page.locator('g[data-node="menu"]').click();
    await check('agent/flow with node settings');
    await page.getByRole('button', { name: 'Publish' }).click();
    await check('publish dialog');
    await page.keyboard.press('Escape');
    await page.goto(`${server.url}/console/calls`);
    await page.getByRole('heading', { name: 'Calls' }).waitFor();
    await check('calls');
    await page.goto(`${server.url}/console/analytics`);
    await page.locator('.analytics-tiles, .analytics-page p.muted').first().waitFor();
    await check('analytics');
    await page.goto(`${server.url}/console/staff`);
    await page.getByRole('heading', { name: 'Usage overview' }).waitFor();
    await check('staff');
    await page.getByRole('button', { name: 'Add person' }).click();
    await check('add person dialog');
    await page.keyboard.press('Escape');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}/console/agents/${a.slug}`);
    await page.locator('[data-check="orphans"]').waitFor();
    await check('agent at phone width');
    expect(found).toEqual({});
  });

  it('test chat answers keypad input through the real interpreter, and the page fits a phone', { timeout: 30_000 }, async () => {
    const shot = screenshots('test-chat');
    const a = await activeAgent('Keypad line', [frontDesk()]);
    await signIn(page, shot);
    await page.goto(`${server.url}/console/agents/${a.slug}/chat`);
    await page.getByRole('button', { name: 'Start' }).click();
    await page.locator('.chat-agent', { hasText: 'For our hours press 1.' }).waitFor();
    await page.getByRole('button', { name: 'Press 1' }).click();
    await page.locator('.chat-agent', { hasText: 'We are open nine to five.' }).waitFor();
    await page.getByText('The chat has ended').waitFor();
    await shot(page, 'chat');

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}/console/agents/${a.slug}`);
    await page.locator('.cm-content').waitFor();
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(page, 'phone-agent');
    await page.goto(`${server.url}/console/agents`);
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    await shot(page, 'phone-agents');
  });
});

/**
 * A call over the Twilio simulator (the handoff scenarios' harness: the whole
 * server with loopback fakes and a manual clock), watched in the browser by a
 * signed-in support person who assumes it and hands it to another agent.
 */
describe('console in Chromium: a live call handed over', () => {
  const DESK = '+15550100031';
  // Long silences and gathers: virtual time moves while the test waits for the browser.
  const quiet = { silence: { repromptAfterMs: 3_600_000, hangupAfterMs: 7_200_000 } };
  const wait = (id: string, prompt: string, next: string) =>
    ({ id, type: 'gather', prompt, variable: 'choice', input: ['dtmf'], valueType: 'digits', digits: { min: 1, max: 1, terminator: 'none' }, timeoutMs: 3_600_000, retries: 0, next, onFailure: 'bye' });
  const desk = {
    version: 1,
    name: 'Front desk',
    settings: quiet,
    start: 'hello',
    nodes: [
      { id: 'hello', type: 'say', text: 'Hello from the front desk.', next: 'menu' },
      wait('menu', 'Press 1 for our hours.', 'hours'),
      { id: 'hours', type: 'say', text: 'We are open nine to five.', next: 'more' },
      wait('more', 'Press 1 to hear that again.', 'hours'),
      { id: 'bye', type: 'end', text: 'Goodbye.' },
    ],
  };
  const bookings = (name: string) => ({
    version: 1,
    name,
    settings: { ...quiet, handoffNode: 'back' },
    start: 'hello',
    nodes: [
      { id: 'hello', type: 'say', text: `${name} here.`, next: 'book' },
      { id: 'back', type: 'say', text: `Welcome back, ${name} speaking.`, next: 'book' },
      wait('book', 'Press 1 to book a table.', 'bye'),
      { id: 'bye', type: 'end', text: 'Goodbye.' },
    ],
  });

  let h: Harness | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** Virtual time in small steps with real pauses between them, until `done` (the browser acts in real time). */
  async function settle(hh: Harness, done: () => boolean | Promise<boolean>, what: string, realMs = 15_000) {
    const deadline = Date.now() + realMs;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await hh.until(done, { maxMs: 200, what }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it('watches the transcript live, assumes the call as a signed-in person, hands it to an active agent, then ends it', { timeout: 60_000 }, async () => {
    const shot = screenshots('call-handoff');
    dir = await mkdtemp(join(tmpdir(), 'console-handoff-'));
    await writeFile(join(dir, 'desk.json'), JSON.stringify(desk));
    await writeFile(join(dir, 'bookings.json'), JSON.stringify(bookings('Bookings')));
    await writeFile(join(dir, 'closed.json'), JSON.stringify(bookings('Closed desk')));
    const hh = (h = await startHarness({ env: { FLOWS_DIR: dir, PHONE_NUMBERS: `${DESK}=desk` }, warm: ['desk'] }));
    await hh.container.persistence.agents.deactivate('closed', { reason: 'closed for the season' }, 'test');
    const phone = '+15550107001';
    await hh.container.people.staff.create({ displayName: 'Ana Support', username: 'ana', role: 'support', password: 'ana-secret-pw', phone });
    hh.sim.setPerson(phone, 'accept');
    const url = `http://127.0.0.1:${(hh.app.server.address() as { port: number }).port}`;

    await page.goto(`${url}/console/`);
    await page.getByLabel('Username').fill('ana');
    await page.getByLabel('Password').fill('ana-secret-pw');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('.who', { hasText: 'Ana Support' }).waitFor();

    const call = await hh.sim.placeCall({ from: CALLER, to: DESK });
    const sid = call.callSid;
    const agentSaid = (text: string) => hh.eventsOf(sid).some((e) => e.type === 'turn.agent' && e.text === text);
    await settle(hh, () => agentSaid('Press 1 for our hours.'), 'the menu');
    await page.getByRole('link', { name: 'Calls' }).click();
    await page.locator(`tr[data-call="${sid}"]`).first().getByRole('link').click();
    const transcript = page.locator('.transcript li');
    await transcript.filter({ hasText: 'Hello from the front desk.' }).waitFor();
    await page.locator('.badge', { hasText: 'Live' }).waitFor();

    // The caller presses 1 while the page is open: their turn, the node transition and the answer arrive over the feed.
    call.pressDigits('1');
    await settle(hh, () => agentSaid('Press 1 to hear that again.'), 'the answer');
    await transcript.filter({ hasText: '⌨ 1' }).waitFor();
    await transcript.filter({ hasText: 'We are open nine to five.' }).waitFor();
    await page.locator('.events li', { hasText: 'nodeId hours' }).first().waitFor();
    await shot(page, 'call-live-feed');

    // Assume with a reason: the person's phone rings, they answer, the call is theirs.
    await page.getByRole('button', { name: 'Assume conversation' }).click();
    const assume = page.getByRole('dialog', { name: 'Assume this conversation?' });
    await assume.getByLabel('Reason (optional)').fill('VIP guest');
    await shot(page, 'assume-dialog');
    await assume.getByRole('button', { name: 'Assume' }).click();
    await settle(hh, async () => (await hh.record(sid)).state === 'human', 'the person to take the call');
    await page.locator('.badge', { hasText: 'With a person' }).waitFor();
    await page.getByText('A person has the call.').waitFor();
    await page.locator('.events li', { hasText: 'reason VIP guest' }).waitFor();
    expect(await page.getByRole('button', { name: 'Assume conversation' }).count()).toBe(0);
    // The phone stopped ringing when they answered: the ringing notice is gone, not doubled.
    await expect.poll(() => page.locator('.offers p').count()).toBe(0);
    await shot(page, 'assumed');

    // Back to an AI: the picker lists only active agents.
    await page.getByRole('button', { name: 'Transfer to AI' }).click();
    const transfer = page.getByRole('dialog', { name: 'Transfer to an AI agent' });
    const options = await transfer.getByLabel('Agent').locator('option').allTextContents();
    expect(options.some((o) => o.startsWith('Bookings'))).toBe(true);
    expect(options.some((o) => o.startsWith('Closed desk'))).toBe(false);
    await transfer.getByLabel('Agent').selectOption({ label: options.find((o) => o.startsWith('Bookings'))! });
    await transfer.getByLabel('Reason (optional)').fill('wants a table');
    await shot(page, 'transfer-dialog');
    await transfer.getByRole('button', { name: 'Transfer' }).click();
    await settle(hh, () => agentSaid('Press 1 to book a table.'), 'the bookings agent');
    await page.locator('.badge', { hasText: 'With the AI' }).waitFor();
    await transcript.filter({ hasText: 'Welcome back, Bookings speaking.' }).waitFor();
    await page.locator('.events li', { hasText: 'reason wants a table' }).waitFor();
    await page.getByRole('button', { name: 'Assume conversation' }).waitFor();
    expect(hh.eventsOf(sid).find((e) => e.type === 'handoff.to_ai')).toMatchObject({ by: expect.stringMatching(/^staff:/), reason: 'wants a table' });
    await shot(page, 'back-with-ai', { fullPage: true });
    expect(await axeViolations(page)).toEqual([]);

    // End the call: the caller is hung up and the page shows it ended.
    await page.getByRole('button', { name: 'End call' }).click();
    const end = page.getByRole('dialog', { name: 'End this call?' });
    await end.getByLabel('Reason (optional)').fill('test over');
    expect(await axeViolations(page)).toEqual([]);
    await end.getByRole('button', { name: 'End call' }).click();
    await settle(hh, () => call.ended, 'the caller hung up');
    await page.locator('.badge', { hasText: 'Ended' }).waitFor();
    expect(await page.getByRole('button', { name: 'End call' }).count()).toBe(0);
    expect(hh.eventsOf(sid).find((e) => e.type === 'call.ended')).toMatchObject({ reason: 'hung_up:test over' });
  });
});
