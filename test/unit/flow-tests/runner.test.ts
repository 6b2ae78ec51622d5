import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { flowTestMain } from '../../../src/cli/flow-test.js';
import { heardPart } from '../../../src/flow-tests/case-port.js';
import { formatReport } from '../../../src/flow-tests/report-text.js';
import { runSuite } from '../../../src/flow-tests/run-suite.js';
import { checkSuite, parseSuite, type FlowTestSuiteInput } from '../../../src/flow-tests/suite-schema.js';
import { flowSchema, type FlowInput } from '../../../src/flow/schema.js';
import { ScriptedLlm } from '../../../src/providers/llm/fake.js';

/**
 * Invariants: a case passes only when the run does what it expects; a failing
 * case names the first step where the paths part (expected vs actual), and
 * every other broken expectation; a script that does not fit the flow is a
 * failure, never a silent pass; a bad suite is refused with its JSON path.
 */
const menuFlow: FlowInput = {
  version: 1,
  name: 'Menu',
  settings: { systemPrompt: 'You are a test.', fallbackMessage: 'Sorry.', variables: { choice: '' } },
  start: 'hello',
  nodes: [
    { id: 'hello', type: 'say', text: 'Welcome to the test line, we are glad you called.', next: 'menu' },
    { id: 'menu', type: 'gather', prompt: 'Press 1 for sales, 2 for support.', variable: 'choice', input: ['dtmf'], valueType: 'digits', digits: { min: 1, max: 1, terminator: 'none' }, next: 'route', onFailure: 'bye' },
    { id: 'route', type: 'branch', branches: [{ if: { var: 'choice', op: 'eq', value: '1' }, to: 'sales' }], else: 'chat' },
    { id: 'sales', type: 'transfer', target: { queue: 'sales' }, mode: 'cold', onUnavailable: 'bye' },
    { id: 'chat', type: 'conversation', prompt: 'Help.', speakFirst: true, exits: [{ name: 'done', when: 'done', to: 'bye' }] },
    { id: 'bye', type: 'end', text: 'Goodbye.' },
  ],
};
const flow = flowSchema.parse(menuFlow);
const suite = (cases: FlowTestSuiteInput['cases']) => parseSuite({ version: 1, cases });

describe('runSuite', () => {
  it('a passing case: path, variables, spoken text, transfer, outcome and turns all hold', async () => {
    const report = await runSuite(flow, suite([
      {
        name: 'sales',
        turns: [{ digits: '1' }],
        expect: { path: ['hello', 'menu', 'route', 'sales'], variables: { choice: '1' }, said: ['press 1 for SALES', { regex: '^Press \\d' }], transfer: { queue: 'sales' }, outcome: 'transferred', turns: { caller: 1, agent: 2 } },
      },
    ]));
    expect(report).toMatchObject({ passed: true, total: 1, failed: 0, mode: 'scripted' });
    expect(report.cases[0]!.failures).toEqual([]);
  });

  it('a failing case names the first divergence as expected vs actual path, and each other failure', async () => {
    const report = await runSuite(flow, suite([
      {
        name: 'expects sales but presses 2',
        turns: [{ digits: '2' }, { text: 'thanks, bye' }],
        llm: [{ text: 'How can I help?' }, { exit: 'done' }],
        expect: { path: ['hello', 'menu', 'route', 'sales'], variables: { choice: '1' }, said: ['sales team'], notSaid: ['Goodbye'], transfer: { queue: 'sales' }, outcome: 'transferred', turns: { caller: 1 } },
      },
    ]));
    expect(report.passed).toBe(false);
    const c = report.cases[0]!;
    expect(c.path).toEqual(['hello', 'menu', 'route', 'chat', 'bye']);
    expect(c.failures.map((f) => f.kind)).toEqual(['path', 'variable', 'said', 'notSaid', 'transfer', 'outcome', 'turns']);
    expect(c.failures[0]).toMatchObject({ step: 3, nodeId: 'chat', message: 'the path parts at step 4: expected sales, got chat' });
    const text = formatReport('menu.test.json', report);
    expect(text).toContain('✗ expects sales but presses 2');
    expect(text).toContain('expected: hello → menu → route → [sales]');
    expect(text).toContain('actual:   hello → menu → route → [chat] → bye');
    expect(text).toContain('1 case: 0 passed, 1 failed');
  });

  it('a path that stops early shows (end) where the expected path goes on', async () => {
    const report = await runSuite(flow, suite([{ name: 'hangs up', turns: [{ hangup: true }], expect: { path: ['hello', 'menu', 'route'] } }]));
    expect(formatReport('t', report)).toContain('actual:   hello → menu → [(end)]');
  });

  it('script mismatches fail the case: words where only keys are taken, unused turns and model replies, missing replies', async () => {
    const words = await runSuite(flow, suite([{ name: 'w', turns: [{ text: 'sales please' }], llm: [{ text: 'never used' }], expect: {} }]));
    expect(words.cases[0]!.failures.map((f) => f.message)).toEqual([
      'the caller said "sales please", but node menu takes keys only',
      '1 scripted model reply was never asked for',
    ]);
    const extra = await runSuite(flow, suite([{ name: 'x', turns: [{ digits: '1' }, { digits: '9' }], expect: {} }]));
    expect(extra.cases[0]!.failures[0]!.message).toBe('the call ended with 1 scripted caller turn(s) unused');
    const noReply = await runSuite(flow, suite([{ name: 'y', turns: [{ digits: '2' }], expect: { outcome: 'failed' } }]));
    expect(noReply.cases[0]!.failures[0]).toMatchObject({ kind: 'script', nodeId: 'chat', message: expect.stringContaining('asked the model for reply 1 but the case scripts only 0') });
  });

  it('an interruption cuts off the agent (heard part only) and becomes the next caller turn', async () => {
    const report = await runSuite(flow, suite([
      {
        name: 'interrupts the menu prompt of the chat',
        turns: [{ digits: '2' }, { interrupt: 'I want to leave', afterWords: 2 }],
        llm: [{ text: 'Hello there, how can I help you today?' }, { text: 'Sure.', exit: 'done' }],
        expect: { path: ['hello', 'menu', 'route', 'chat', 'bye'], turns: { caller: 2 } },
      },
    ]));
    expect(report.cases[0]!.failures).toEqual([]);
    expect(report.cases[0]!.said).toContain('Hello there… [interrupted]');
    expect(heardPart('one two three four', undefined)).toBe('one two…');
    expect(heardPart('one', undefined)).toBe('…');
  });

  it('an interruption with no interruptible speech to cut off is a script failure', async () => {
    const report = await runSuite(flow, suite([{ name: 'i', turns: [{ digits: '2' }], llm: [{ text: 'Hi.' }], expect: {} }]));
    expect(report.passed).toBe(true);
    const quiet = flowSchema.parse({
      version: 1,
      name: 'q',
      settings: { systemPrompt: 'p' },
      start: 'hello',
      nodes: [
        { id: 'hello', type: 'say', text: 'Please listen to this whole message.', interruptible: false, next: 'chat' },
        { id: 'chat', type: 'conversation', prompt: 'p', exits: [{ when: 'done', to: 'bye' }] },
        { id: 'bye', type: 'end' },
      ],
    });
    const bad = await runSuite(quiet, suite([{ name: 'i', turns: [{ interrupt: 'hey' }], expect: {} }]));
    expect(bad.cases[0]!.failures[0]!.message).toContain('found no interruptible speech');
  });

  it('silence reprompts then hangs up in a conversation; a live model replaces the scripted replies', async () => {
    const live = new ScriptedLlm([{ text: 'Live hello.' }]);
    const report = await runSuite(flow, suite([{ name: 's', turns: [{ digits: '2' }, { silence: true }, { silence: true }], llm: [{ text: 'ignored' }], expect: { outcome: 'hangup', reason: 'silence', said: ['Live hello', 'Are you still there?'] } }]), { live });
    expect(report.mode).toBe('live');
    expect(report.cases[0]!.failures).toEqual([]);
  });

  it('HTTP replies are scripted; an unscripted request fails the case and never leaves the process', async () => {
    const httpFlow = flowSchema.parse({
      version: 1,
      name: 'h',
      start: 'get',
      nodes: [
        { id: 'get', type: 'http', url: 'https://api.example.test/v1/x?id=1', save: { ref: 'ref' }, next: 'ok', onError: 'bad' },
        { id: 'ok', type: 'end', text: 'Ref {{ref}}.' },
        { id: 'bad', type: 'end', text: 'Failed.' },
      ],
    });
    const ok = await runSuite(httpFlow, suite([{ name: 'ok', http: [{ method: 'GET', url: 'https://api.example.test/v1/x', body: { ref: 'R1' } }], expect: { path: ['get', 'ok'], said: ['Ref R1.'] } }]));
    expect(ok.passed).toBe(true);
    const unscripted = await runSuite(httpFlow, suite([{ name: 'none', expect: { path: ['get', 'bad'] } }]));
    expect(unscripted.cases[0]!.failures).toEqual([expect.objectContaining({ kind: 'script', message: 'no scripted HTTP reply for GET https://api.example.test/v1/x?id=1: add one to the case\'s "http"' })]);
    const timeout = await runSuite(httpFlow, suite([{ name: 't', http: [{ url: 'https://api.example.test', error: 'timeout' }], expect: { path: ['get', 'bad'] } }]));
    expect(timeout.passed).toBe(true);
  });
});

describe('checkSuite', () => {
  it('refuses a bad suite with the JSON path of each problem', () => {
    const res = checkSuite({ version: 1, cases: [{ name: 'x', turns: [{ digits: '12a' }], expect: { said: [{ regex: '(a+)+$' }], outcome: 'done' } }] });
    expect(res.ok).toBe(false);
    if (res.ok) return;
    const paths = res.issues.map((i) => i.path);
    expect(paths.some((p) => p.startsWith('cases[0].turns[0]'))).toBe(true);
    expect(paths).toContain('cases[0].expect.said[0].regex');
    expect(paths).toContain('cases[0].expect.outcome');
    expect(checkSuite({ version: 1, cases: [] }).ok).toBe(false);
    expect(checkSuite({ version: 2, cases: [{ name: 'x', expect: {} }] }).ok).toBe(false);
    expect(() => parseSuite({ version: 1 })).toThrow(/the test suite is not valid: cases: /);
  });
});

describe('npm run flow-test', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flow-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'menu.json'), JSON.stringify(menuFlow));
  const io = () => {
    const output = new PassThrough();
    const error = new PassThrough();
    let out = '';
    let err = '';
    output.on('data', (d: Buffer) => (out += d.toString()));
    error.on('data', (d: Buffer) => (err += d.toString()));
    return { io: { output, error, env: {}, flowsDir: dir, color: false }, out: () => out, err: () => err };
  };

  it('exits 0 when every case passes, 1 with the report when one fails', async () => {
    writeFileSync(join(dir, 'menu.test.json'), JSON.stringify({ version: 1, cases: [{ name: 'sales', turns: [{ digits: '1' }], expect: { path: ['hello', 'menu', 'route', 'sales'] } }] }));
    const ok = io();
    expect(await flowTestMain([], ok.io)).toBe(0);
    expect(ok.out()).toContain('✓ sales');
    expect(ok.out()).toContain('1 suite, 1 case, 0 failed');
    writeFileSync(join(dir, 'menu.test.json'), JSON.stringify({ version: 1, cases: [{ name: 'sales', turns: [{ digits: '2' }], llm: [{ exit: 'done' }], expect: { path: ['hello', 'menu', 'route', 'sales'] } }] }));
    const bad = io();
    expect(await flowTestMain([join(dir, 'menu.test.json')], bad.io)).toBe(1);
    expect(bad.out()).toContain('expected: hello → menu → route → [sales]');
    expect(bad.out()).toContain('actual:   hello → menu → route → [chat] → bye');
  });

  it('a suite that is not JSON or not valid, or has no flow beside it, exits 1 naming the problem', async () => {
    writeFileSync(join(dir, 'menu.test.json'), '{ "version": 1, "cases": [ }');
    const broken = io();
    expect(await flowTestMain([join(dir, 'menu.test.json')], broken.io)).toBe(1);
    expect(broken.out()).toMatch(/menu\.test\.json:1:28: invalid JSON/);
    writeFileSync(join(dir, 'menu.test.json'), JSON.stringify({ version: 1, cases: [{ name: 'x', expect: { path: 'hello' } }] }));
    const invalid = io();
    expect(await flowTestMain([join(dir, 'menu.test.json')], invalid.io)).toBe(1);
    expect(invalid.out()).toContain('cases[0].expect.path:');
    writeFileSync(join(dir, 'other.test.json'), JSON.stringify({ version: 1, cases: [{ name: 'x', expect: {} }] }));
    const orphan = io();
    expect(await flowTestMain([join(dir, 'other.test.json')], orphan.io)).toBe(1);
    expect(orphan.out()).toContain('other.json: no such file');
    rmSync(join(dir, 'other.test.json'));
  });

  it('usage errors exit 2: unknown options, files that are not suites, --live without a model', async () => {
    expect(await flowTestMain(['--fast'], io().io)).toBe(2);
    expect(await flowTestMain([join(dir, 'menu.json')], io().io)).toBe(2);
    const live = io();
    expect(await flowTestMain(['--live'], live.io)).toBe(2);
    expect(live.err()).toContain('OPENAI_API_KEY');
  });
});
