import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateFlow } from '../../../bench/validator.js';
import { listFlowFiles, loadFlowFile } from '../../../src/flow/load.js';
import type { FlowInput } from '../../../src/flow/schema.js';
import {
  ERROR_CODES,
  FINDING_CODES,
  KB_MAX_BYTES,
  WARNING_CODES,
  jsonPath,
  validateFlow,
  type Finding,
} from '../../../src/flow/validator.js';

/** Invariant: every rule has a stable code, and each fixture trips exactly its own. */

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = join(root, 'test/fixtures/flows');
const codeOf = (file: string) => file.replace(/\.json$/, '').replace(/-/g, '_').toUpperCase();
const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));
const codes = (findings: Finding[]) => findings.map((f) => f.code);

/** A small flow with no findings at all; tests change one thing in it. */
function clean(): FlowInput & { settings: NonNullable<FlowInput['settings']>; nodes: FlowInput['nodes'] } {
  return {
    version: 1,
    name: 'test',
    settings: { fallbackNode: 'bye' },
    start: 'hello',
    nodes: [
      { id: 'hello', type: 'say', text: 'Hello.', next: 'desk' },
      { id: 'desk', type: 'transfer', target: { queue: 'desk' }, onUnavailable: 'bye' },
      { id: 'bye', type: 'end', text: 'Goodbye.' },
    ],
  };
}

/** Cases whose fixture would be unwieldy on disk (over 1 MiB). */
const generated: Record<string, () => unknown> = {
  KB_TOO_LARGE: () => {
    const f = clean();
    f.settings.knowledgeBase = {
      documents: [
        { id: 'a', text: 'x'.repeat(KB_MAX_BYTES / 2) },
        { id: 'b', text: 'é'.repeat(KB_MAX_BYTES / 4 + 1) },
      ],
    };
    return f;
  },
};

describe('fixtures: one problem each', () => {
  const badFiles = readdirSync(join(fixtures, 'bad')).filter((f) => f.endsWith('.json'));
  const warnFiles = readdirSync(join(fixtures, 'warn')).filter((f) => f.endsWith('.json'));

  it('cover every error and warning code', () => {
    const covered = new Set([...badFiles.map(codeOf), ...Object.keys(generated)]);
    expect(ERROR_CODES.filter((c) => !covered.has(c))).toEqual([]);
    expect(WARNING_CODES.filter((c) => !warnFiles.map(codeOf).includes(c))).toEqual([]);
  });

  it.each(badFiles)('bad/%s produces only its error', (file) => {
    const code = codeOf(file);
    expect((ERROR_CODES as readonly string[]).includes(code)).toBe(true);
    const result = validateFlow(readJson(join(fixtures, 'bad', file)));
    expect(result.errors.length).toBeGreaterThan(0);
    expect(new Set(codes(result.errors))).toEqual(new Set([code]));
    expect(result.warnings).toEqual([]);
    for (const e of result.errors) {
      expect(e.path).toMatch(/^\$/);
      expect(e.message.length).toBeGreaterThan(10);
    }
  });

  it.each(Object.keys(generated))('generated %s produces only its error', (code) => {
    const result = validateFlow(generated[code]!());
    expect(codes(result.errors)).toEqual([code]);
    expect(result.warnings).toEqual([]);
  });

  it.each(warnFiles)('warn/%s produces only its warning and no errors', (file) => {
    const code = codeOf(file);
    const result = validateFlow(readJson(join(fixtures, 'warn', file)));
    expect(result.errors).toEqual([]);
    expect(new Set(codes(result.warnings))).toEqual(new Set([code]));
    expect(result.flow).toBeDefined();
  });
});

describe('example flows', () => {
  it('every flows/*.json validates with no errors and no warnings', async () => {
    const files = await listFlowFiles(join(root, 'flows'));
    expect(files.map((f) => f.slug)).toEqual(expect.arrayContaining(['after-hours', 'clinic', 'pizza']));
    for (const { slug, path } of files) {
      const result = validateFlow(await loadFlowFile(path));
      expect({ slug, errors: result.errors, warnings: result.warnings }).toEqual({ slug, errors: [], warnings: [] });
    }
  });

  it('pizza needs no LLM: no conversation node and no speech input', async () => {
    const { flow } = validateFlow(await loadFlowFile(join(root, 'flows/pizza.json')));
    expect(flow).toBeDefined();
    for (const node of flow!.nodes) {
      expect(node.type).not.toBe('conversation');
      if (node.type === 'gather') expect(node.input).toEqual(['dtmf']);
    }
    expect(flow!.nodes.some((n) => n.type === 'transfer' && n.mode === 'cold' && 'number' in n.target)).toBe(true);
  });

  it('clinic inlines its knowledge base from kb/ files', async () => {
    const { flow } = validateFlow(await loadFlowFile(join(root, 'flows/clinic.json')));
    const docs = flow!.settings.knowledgeBase!.documents;
    expect(docs.length).toBeGreaterThanOrEqual(2);
    for (const d of docs) expect('text' in d && d.text.length > 50).toBe(true);
  });
});

describe('validateFlow', () => {
  it('returns the parsed flow with defaults when the schema passes', () => {
    const result = validateFlow(clean());
    expect(result).toMatchObject({ errors: [], warnings: [] });
    expect(result.flow?.settings.maxCallSeconds).toBe(3600);
    expect(result.flow?.nodes[0]).toMatchObject({ interruptible: true });
  });

  it('reports one SCHEMA finding per zod issue, with path, node id and a readable message, and no flow', () => {
    const f = clean() as unknown as { nodes: Record<string, unknown>[]; extra?: number };
    delete f.nodes[0]!.next;
    f.nodes[1]!.target = { number: '555-0100' };
    f.nodes.push({ id: 'weird', type: 'dance' });
    f.extra = 1;
    const result = validateFlow(f);
    expect(result.flow).toBeUndefined();
    expect(result.warnings).toEqual([]);
    expect(result.errors.every((e) => e.code === FINDING_CODES.SCHEMA)).toBe(true);
    const byPath = Object.fromEntries(result.errors.map((e) => [e.path, e]));
    expect(byPath['$.nodes[0].next']).toMatchObject({ nodeId: 'hello', message: 'nodes[0].next: is required (string)' });
    expect(byPath['$.nodes[1].target.number']).toMatchObject({ nodeId: 'desk' });
    expect(byPath['$.nodes[1].target.number']!.message).toMatch(/E\.164/);
    expect(byPath['$.nodes[3].type']).toMatchObject({ nodeId: 'weird' });
    expect(byPath['$.nodes[3].type']!.message).toMatch(/must be one of say, conversation, gather, branch, http, transfer, end/);
    expect(byPath['$']!.message).toMatch(/unknown field "extra"/);
    expect(result.errors).toHaveLength(4);
  });

  it('rejects non-objects as SCHEMA', () => {
    for (const input of [null, 42, 'flow', [], undefined]) {
      const result = validateFlow(input);
      expect(codes(result.errors)).toEqual(['SCHEMA']);
      expect(result.errors[0]!.path).toBe('$');
    }
  });

  it('an empty start is MISSING_START', () => {
    const f = clean();
    f.start = '';
    expect(validateFlow(f).errors).toEqual([{ code: 'MISSING_START', message: expect.any(String), path: '$.start' }]);
  });

  it('a start of the wrong type is SCHEMA, not MISSING_START', () => {
    const f = { ...clean(), start: 7 };
    expect(validateFlow(f).errors).toEqual([{ code: 'SCHEMA', message: 'start: expected string, got number', path: '$.start' }]);
  });

  it('UNKNOWN_START does not cascade into orphans', () => {
    const f = clean();
    f.start = 'nope';
    expect(validateFlow(f).errors).toEqual([{ code: 'UNKNOWN_START', message: expect.stringContaining('"nope"'), path: '$.start' }]);
  });

  describe('MISSING_NODE on every kind of reference', () => {
    const cases: [string, (f: ReturnType<typeof clean>) => void, string, string | undefined][] = [
      [
        'say next',
        (f) => {
          Object.assign(f.nodes[0]!, { next: 'x' });
          f.settings.fallbackNode = 'desk'; // keeps desk reachable, so only the typo is reported
        },
        '$.nodes[0].next',
        'hello',
      ],
      ['transfer onUnavailable', (f) => void Object.assign(f.nodes[1]!, { onUnavailable: 'x' }), '$.nodes[1].onUnavailable', 'desk'],
      ['settings.fallbackNode', (f) => void (f.settings.fallbackNode = 'x'), '$.settings.fallbackNode', undefined],
      [
        'businessHours.closedNode',
        (f) => void (f.settings.businessHours = { timezone: 'UTC', weekly: {}, closedNode: 'x' }),
        '$.settings.businessHours.closedNode',
        undefined,
      ],
      [
        'branch branches[].to and else',
        (f) =>
          void f.nodes.splice(1, 0, {
            id: 'b',
            type: 'branch',
            branches: [
              { if: { var: 'caller.number', op: 'exists' }, to: 'desk' },
              { if: { var: 'caller.number', op: 'exists' }, to: 'x' },
            ],
            else: 'desk',
          }),
        '$.nodes[1].branches[1].to',
        'b',
      ],
      [
        'branch else',
        (f) =>
          void f.nodes.splice(1, 0, {
            id: 'b',
            type: 'branch',
            branches: [{ if: { var: 'caller.number', op: 'exists' }, to: 'desk' }],
            else: 'x',
          }),
        '$.nodes[1].else',
        'b',
      ],
      [
        'gather next',
        (f) => void f.nodes.splice(1, 0, { id: 'g', type: 'gather', prompt: 'p', variable: 'v', next: 'x', onFailure: 'desk' }),
        '$.nodes[1].next',
        'g',
      ],
      [
        'gather onFailure',
        (f) => void f.nodes.splice(1, 0, { id: 'g', type: 'gather', prompt: 'p', variable: 'v', next: 'desk', onFailure: 'x' }),
        '$.nodes[1].onFailure',
        'g',
      ],
      [
        'http onError',
        (f) => void f.nodes.splice(1, 0, { id: 'h', type: 'http', url: 'https://a.example/x', next: 'desk', onError: 'x' }),
        '$.nodes[1].onError',
        'h',
      ],
      [
        'http next',
        (f) => void f.nodes.splice(1, 0, { id: 'h', type: 'http', url: 'https://a.example/x', next: 'x', onError: 'desk' }),
        '$.nodes[1].next',
        'h',
      ],
      [
        'conversation exits[].to',
        (f) => {
          f.settings.systemPrompt = 'Be nice.';
          f.nodes.splice(1, 0, { id: 'c', type: 'conversation', prompt: 'p', exits: [{ when: 'w', to: 'desk' }, { when: 'v', to: 'x' }] });
        },
        '$.nodes[1].exits[1].to',
        'c',
      ],
      [
        'conversation onMaxTurns',
        (f) => {
          f.settings.systemPrompt = 'Be nice.';
          f.nodes.splice(1, 0, { id: 'c', type: 'conversation', prompt: 'p', maxTurns: 3, onMaxTurns: 'x', exits: [{ when: 'w', to: 'desk' }] });
        },
        '$.nodes[1].onMaxTurns',
        'c',
      ],
    ];
    it.each(cases)('%s', (_name, mutate, path, nodeId) => {
      const f = clean();
      mutate(f);
      // Lead into the inserted node so it is reachable.
      if (path.startsWith('$.nodes[1]')) (f.nodes[0] as { next: string }).next = f.nodes[1]!.id;
      const result = validateFlow(f);
      const expected: Finding = { code: 'MISSING_NODE', message: expect.stringContaining('"x" is not the id of any node') as string, path };
      if (nodeId) expected.nodeId = nodeId;
      expect(result.errors).toEqual([expected]);
    });
  });

  it('a missing reference is not also reported as a cascade of dead ends', () => {
    const f = clean();
    f.nodes.unshift({ id: 'a', type: 'say', text: 'a', next: 'b' }, { id: 'b', type: 'say', text: 'b', next: 'typo' });
    f.start = 'a';
    f.settings.fallbackNode = 'hello';
    expect(codes(validateFlow(f).errors)).toEqual(['MISSING_NODE']);
  });

  it('DUPLICATE_ID points at the second occurrence', () => {
    const f = clean();
    f.nodes.push({ id: 'hello', type: 'end' });
    expect(validateFlow(f).errors).toEqual([
      { code: 'DUPLICATE_ID', message: expect.stringContaining('nodes[0] and nodes[3]'), path: '$.nodes[3].id', nodeId: 'hello' },
    ]);
  });

  it('ORPHAN_NODE: closedNode and fallbackNode count as entry points; everything else must be reachable from start', () => {
    const f = clean();
    f.nodes.push(
      { id: 'closed', type: 'say', text: 'We are closed.', next: 'closed-bye' },
      { id: 'closed-bye', type: 'end' },
      { id: 'lost', type: 'say', text: 'Nobody hears this.', next: 'bye' },
    );
    f.settings.businessHours = { timezone: 'UTC', weekly: { mon: [['09:00', '17:00']] }, closedNode: 'closed' };
    expect(validateFlow(f).errors).toEqual([
      { code: 'ORPHAN_NODE', message: expect.stringContaining('"lost"'), path: '$.nodes[5]', nodeId: 'lost' },
    ]);
    // Only reachable through the fallback node: still fine.
    f.settings.fallbackNode = 'lost';
    expect(validateFlow(f).errors).toEqual([]);
  });

  it('DEAD_END covers cycles without a way out, and counts the implicit edge to fallbackNode', () => {
    const f = clean();
    f.settings.fallbackNode = 'desk';
    f.nodes[0] = { id: 'hello', type: 'say', text: 'Hello.', next: 'ask' };
    f.nodes.push(
      { id: 'ask', type: 'gather', prompt: 'Code?', variable: 'code', next: 'again' },
      { id: 'again', type: 'say', text: 'Once more.', next: 'ask' },
    );
    // ask → again → ask loops, but ask's missing onFailure goes to fallbackNode "desk".
    const ok = validateFlow(f);
    expect(ok.errors).toEqual([]);
    expect(codes(ok.warnings)).toEqual(['MISSING_FAILURE_EDGE']);
    expect(ok.warnings[0]!.message).toContain('fallbackNode "desk"');

    delete f.settings.fallbackNode;
    const bad = validateFlow(f);
    expect(bad.errors.map((e) => [e.code, e.nodeId, e.path])).toEqual([
      ['ORPHAN_NODE', 'desk', '$.nodes[1]'],
      ['ORPHAN_NODE', 'bye', '$.nodes[2]'],
      ['DEAD_END', 'hello', '$.nodes[0]'],
      ['DEAD_END', 'ask', '$.nodes[3]'],
      ['DEAD_END', 'again', '$.nodes[4]'],
    ]);
  });

  it('a conversation with no exits and no maxTurns is a dead end', () => {
    const f = clean();
    f.settings.systemPrompt = 'You help.';
    f.nodes[0] = { id: 'hello', type: 'conversation', prompt: 'Chat.' };
    f.settings.fallbackNode = 'desk';
    const result = validateFlow(f);
    expect(result.errors.map((e) => [e.code, e.nodeId])).toEqual([
      ['DEAD_END', 'hello'],
    ]);
    expect(codes(result.warnings)).toEqual(['NO_EXITS']);
  });

  it('NO_SYSTEM_PROMPT names the first conversation node; a blank prompt counts as none', () => {
    const f = clean();
    f.settings.systemPrompt = '   ';
    f.nodes[0] = { id: 'hello', type: 'conversation', prompt: 'Chat.', exits: [{ when: 'done', to: 'desk' }] };
    expect(validateFlow(f).errors).toEqual([
      { code: 'NO_SYSTEM_PROMPT', message: expect.any(String), path: '$.settings.systemPrompt', nodeId: 'hello' },
    ]);
  });

  describe('business hours', () => {
    const withHours = (weekly: Record<string, [string, string][]>, timezone = 'America/New_York') => {
      const f = clean();
      f.settings.businessHours = { timezone, weekly, closedNode: 'bye' };
      return validateFlow(f);
    };
    it('accepts real zones and well-formed ranges, including a close at 24:00', () => {
      expect(withHours({ mon: [['09:00', '12:00'], ['13:00', '24:00']] }, 'Europe/London').errors).toEqual([]);
      expect(withHours({}, 'UTC').errors).toEqual([]);
    });
    it('INVALID_TIMEZONE when Intl rejects the zone', () => {
      expect(withHours({}, 'America/Atlantis').errors).toEqual([
        { code: 'INVALID_TIMEZONE', message: expect.stringContaining('America/Atlantis'), path: '$.settings.businessHours.timezone' },
      ]);
    });
    it('BAD_HOURS for empty, reversed and overlapping ranges', () => {
      const r = withHours({ tue: [['10:00', '10:00']], wed: [['18:00', '08:00']], thu: [['13:00', '17:00'], ['09:00', '14:00']] });
      expect(r.errors.map((e) => [e.code, e.path])).toEqual([
        ['BAD_HOURS', '$.settings.businessHours.weekly.tue[0]'],
        ['BAD_HOURS', '$.settings.businessHours.weekly.wed[0]'],
        ['BAD_HOURS', '$.settings.businessHours.weekly.thu[0]'],
      ]);
    });
  });

  it('gather checks: CHOICES_MISSING (also for an empty list) and DIGITS_RANGE', () => {
    const f = clean();
    f.nodes[0] = { id: 'hello', type: 'gather', prompt: 'Which?', variable: 'pick', valueType: 'choice', choices: [], next: 'desk', onFailure: 'bye' };
    expect(validateFlow(f).errors).toEqual([
      { code: 'CHOICES_MISSING', message: expect.any(String), path: '$.nodes[0].choices', nodeId: 'hello' },
    ]);
    f.nodes[0] = { id: 'hello', type: 'gather', prompt: 'Code?', variable: 'pin', digits: { min: 6, max: 4 }, next: 'desk', onFailure: 'bye' };
    expect(validateFlow(f).errors).toEqual([
      { code: 'DIGITS_RANGE', message: expect.stringMatching(/min \(6\).*max \(4\)/), path: '$.nodes[0].digits', nodeId: 'hello' },
    ]);
  });

  it('branch checks: BAD_REGEX, BRANCH_VALUE_MISSING, and exists needs no value', () => {
    const f = clean();
    f.nodes[0] = {
      id: 'hello',
      type: 'branch',
      branches: [
        { if: { var: 'caller.number', op: 'exists' }, to: 'desk' },
        { if: { var: 'caller.number', op: 'matches', value: '^\\+1[' }, to: 'desk' },
        { if: { var: 'caller.number', op: 'gt' }, to: 'desk' },
        { if: { var: 'caller.number', op: 'matches', value: '^\\+44' }, to: 'desk' },
      ],
      else: 'bye',
    };
    expect(validateFlow(f).errors.map((e) => [e.code, e.path, e.nodeId])).toEqual([
      ['BAD_REGEX', '$.nodes[0].branches[1].if.value', 'hello'],
      ['BRANCH_VALUE_MISSING', '$.nodes[0].branches[2].if.value', 'hello'],
    ]);
  });

  it('UNSAFE_REGEX for patterns that can backtrack exponentially; the message echoes at most 80 characters', () => {
    const f = clean();
    const long = `^(a+)+${'x'.repeat(10_000)}$`;
    f.nodes[0] = {
      id: 'hello',
      type: 'branch',
      branches: [
        { if: { var: 'caller.number', op: 'matches', value: '^(a+)+$' }, to: 'desk' },
        { if: { var: 'caller.number', op: 'matches', value: '(\\w)\\1' }, to: 'desk' },
        { if: { var: 'caller.number', op: 'matches', value: long }, to: 'desk' },
        { if: { var: 'caller.number', op: 'matches', value: '^\\+1(555|800)\\d{7}$' }, to: 'desk' },
      ],
      else: 'bye',
    };
    const errors = validateFlow(f).errors;
    expect(errors.map((e) => [e.code, e.path])).toEqual([
      ['UNSAFE_REGEX', '$.nodes[0].branches[0].if.value'],
      ['UNSAFE_REGEX', '$.nodes[0].branches[1].if.value'],
      ['UNSAFE_REGEX', '$.nodes[0].branches[2].if.value'],
    ]);
    expect(errors[2]!.message.length).toBeLessThan(300);
  });

  it('BAD_URL for non-http URLs, while templated URLs pass', () => {
    const f = clean();
    const http = (url: string) => ({ id: 'hello', type: 'http' as const, url, next: 'desk', onError: 'bye' });
    f.settings.variables = { apiBase: 'https://api.example.com' };
    for (const url of ['https://api.example.com/x', 'http://127.0.0.1:8080/y?q={{caller.number}}', '{{apiBase}}/slots']) {
      f.nodes[0] = http(url);
      expect(validateFlow(f).errors, url).toEqual([]);
    }
    for (const url of ['ftp://files.example.com/x', '/relative/path', 'https://exa mple.com']) {
      f.nodes[0] = http(url);
      expect(codes(validateFlow(f).errors), url).toEqual(['BAD_URL']);
    }
  });

  it('DUPLICATE_FUNCTION between tools and exits; distinct exit names fix it', () => {
    const f = clean();
    f.settings.systemPrompt = 'Help.';
    f.nodes[0] = {
      id: 'hello',
      type: 'conversation',
      prompt: 'Chat.',
      tools: [{ name: 'exit_desk', description: 'confusing', url: 'https://a.example/t' }],
      exits: [{ when: 'wants a person', to: 'desk' }],
    };
    expect(validateFlow(f).errors).toEqual([
      { code: 'DUPLICATE_FUNCTION', message: expect.stringContaining('exit_desk'), path: '$.nodes[0].exits[0]', nodeId: 'hello' },
    ]);
    (f.nodes[0] as { exits: { name?: string }[] }).exits[0]!.name = 'to_person';
    expect(validateFlow(f).errors).toEqual([]);
  });

  it('knowledge-base checks have document paths', () => {
    const f = clean();
    f.settings.knowledgeBase = { documents: [{ id: 'a', text: 'x' }, { id: 'b', file: 'kb/b.md' }, { id: 'a', text: 'y' }] };
    expect(validateFlow(f).errors).toEqual([
      { code: 'KB_FILE_NOT_INLINED', message: expect.stringContaining('kb/b.md'), path: '$.settings.knowledgeBase.documents[1].file' },
      { code: 'KB_DUPLICATE_ID', message: expect.any(String), path: '$.settings.knowledgeBase.documents[2].id' },
    ]);
  });

  it('KB_TOO_LARGE counts UTF-8 bytes, and exactly the limit is fine', () => {
    const f = clean();
    f.settings.knowledgeBase = { documents: [{ id: 'a', text: 'x'.repeat(KB_MAX_BYTES) }] };
    expect(validateFlow(f).errors).toEqual([]);
    f.settings.knowledgeBase = { documents: [{ id: 'a', text: 'x'.repeat(KB_MAX_BYTES - 1) + 'é' }] };
    expect(codes(validateFlow(f).errors)).toEqual(['KB_TOO_LARGE']);
  });

  describe('warnings', () => {
    it('MISSING_FAILURE_EDGE for gather, http, conversation with maxTurns and transfer', () => {
      const f = clean();
      f.settings.systemPrompt = 'Help.';
      f.nodes = [
        { id: 'hello', type: 'gather', prompt: 'Code?', variable: 'code', next: 'h' },
        { id: 'h', type: 'http', url: 'https://a.example/x', next: 'c' },
        { id: 'c', type: 'conversation', prompt: 'Chat.', maxTurns: 4, exits: [{ when: 'done', to: 'desk' }] },
        { id: 'c2', type: 'conversation', prompt: 'No limit here.', exits: [{ when: 'done', to: 'desk' }] },
        { id: 'desk', type: 'transfer', target: { queue: 'desk' } },
      ];
      f.settings.fallbackNode = 'c2';
      const r = validateFlow(f);
      expect(r.errors).toEqual([]);
      expect(r.warnings.map((w) => [w.code, w.path, w.nodeId])).toEqual([
        ['MISSING_FAILURE_EDGE', '$.nodes[0].onFailure', 'hello'],
        ['MISSING_FAILURE_EDGE', '$.nodes[1].onError', 'h'],
        ['MISSING_FAILURE_EDGE', '$.nodes[2].onMaxTurns', 'c'],
        ['MISSING_FAILURE_EDGE', '$.nodes[4].onUnavailable', 'desk'],
      ]);
    });

    it('NO_TRANSFER, NO_FALLBACK_NODE and NO_CLOSED_NODE have settings-level paths', () => {
      const f = clean();
      delete f.settings.fallbackNode;
      f.nodes = [
        { id: 'hello', type: 'say', text: 'Hi.', next: 'bye' },
        { id: 'bye', type: 'end' },
      ];
      f.settings.businessHours = { timezone: 'UTC', weekly: {} };
      expect(validateFlow(f).warnings.map((w) => [w.code, w.path])).toEqual([
        ['NO_FALLBACK_NODE', '$.settings.fallbackNode'],
        ['NO_TRANSFER', '$.nodes'],
        ['NO_CLOSED_NODE', '$.settings.businessHours'],
      ]);
    });

    it('a variable counts as used when read by a template or branch, or set by gather, http or tool save', () => {
      const f = clean();
      f.settings.systemPrompt = 'You help {{inPrompt.first}}.';
      f.settings.variables = {
        inPrompt: 'x',
        inBranch: 'x',
        byGather: '',
        byHttp: '',
        byTool: '',
        'odd-name': 1,
        neverUsed: true,
      };
      f.nodes = [
        { id: 'hello', type: 'branch', branches: [{ if: { var: 'inBranch', op: 'eq', value: 'x' }, to: 'g' }], else: 'g' },
        { id: 'g', type: 'gather', prompt: 'Name?', variable: 'byGather', next: 'h', onFailure: 'desk' },
        { id: 'h', type: 'http', url: 'https://a.example/x', save: { byHttp: 'a.b' }, next: 'c', onError: 'desk' },
        {
          id: 'c',
          type: 'conversation',
          prompt: 'Chat.',
          tools: [{ name: 'look', description: 'd', url: 'https://a.example/t', save: { byTool: 'x' } }],
          exits: [{ when: 'done', to: 'desk' }],
        },
        { id: 'desk', type: 'transfer', target: { queue: 'desk' }, onUnavailable: 'bye' },
        { id: 'bye', type: 'end' },
      ];
      f.settings.fallbackNode = 'bye';
      const r = validateFlow(f);
      expect(r.errors).toEqual([]);
      expect(r.warnings).toEqual([
        { code: 'UNUSED_VARIABLE', message: expect.any(String), path: '$.settings.variables["odd-name"]' },
        { code: 'UNUSED_VARIABLE', message: expect.stringContaining('neverUsed'), path: '$.settings.variables.neverUsed' },
      ]);
    });

    it('UNDEFINED_VARIABLE: builtins, now.*, dotted names of known variables and tool args are allowed', () => {
      const f = clean();
      f.settings.systemPrompt = 'Today is {{now.date}}; the caller is {{caller.number}} calling {{caller.to}}.';
      f.settings.fallbackMessage = 'Sorry from {{agent.name}} ({{call.sid}}).';
      f.settings.silence = { reprompt: 'Still there, {{order.customer}}?' };
      f.settings.variables = { order: 'x' };
      f.nodes[0] = {
        id: 'hello',
        type: 'conversation',
        prompt: 'Chat.',
        tools: [
          {
            name: 'slots',
            description: 'free slots',
            parameters: { date: { type: 'string' } },
            url: 'https://a.example/slots?d={{args.date}}',
            headers: { 'X-Caller': '{{caller.number}}' },
            body: { when: ['{{args.date}}', { nested: '{{order}}' }] },
          },
        ],
        exits: [{ when: 'done', to: 'desk' }],
      };
      expect(validateFlow(f)).toMatchObject({ errors: [], warnings: [] });
    });

    it('UNDEFINED_VARIABLE reports each unknown reference with its exact path', () => {
      const f = clean();
      f.settings.systemPrompt = 'Be brief.';
      f.nodes = [
        { id: 'hello', type: 'say', text: 'Hi {{name}}, your {{now}} {{caller.email}}', next: 'route' },
        { id: 'route', type: 'branch', branches: [{ if: { var: 'tier', op: 'eq', value: 'gold' }, to: 'c' }], else: 'c' },
        {
          id: 'c',
          type: 'conversation',
          prompt: 'Ask about {{args.date}}.',
          tools: [
            {
              name: 'book',
              description: 'd',
              parameters: { date: { type: 'string' } },
              url: 'https://a.example/book',
              headers: { 'X-Api-Key': '{{apiKey}}' },
              body: { slot: '{{args.slot}}', items: ['{{args.date}}', '{{lost}}'] },
            },
          ],
          exits: [{ when: 'done', to: 'desk' }],
        },
        { id: 'desk', type: 'transfer', target: { queue: 'desk' }, summary: 'VIP {{name}}', onUnavailable: 'bye' },
        { id: 'bye', type: 'end', text: 'Bye {{name}} {{name}}' },
      ];
      const r = validateFlow(f);
      expect(r.errors).toEqual([]);
      expect(r.warnings.map((w) => [w.code, w.nodeId, w.path, w.message.match(/"\{\{(.*?)\}\}"/)?.[1]])).toEqual([
        ['UNDEFINED_VARIABLE', 'hello', '$.nodes[0].text', 'name'],
        ['UNDEFINED_VARIABLE', 'hello', '$.nodes[0].text', 'now'],
        ['UNDEFINED_VARIABLE', 'hello', '$.nodes[0].text', 'caller.email'],
        ['UNDEFINED_VARIABLE', 'route', '$.nodes[1].branches[0].if.var', 'tier'],
        ['UNDEFINED_VARIABLE', 'c', '$.nodes[2].prompt', 'args.date'],
        ['UNDEFINED_VARIABLE', 'c', '$.nodes[2].tools[0].headers["X-Api-Key"]', 'apiKey'],
        ['UNDEFINED_VARIABLE', 'c', '$.nodes[2].tools[0].body.slot', 'args.slot'],
        ['UNDEFINED_VARIABLE', 'c', '$.nodes[2].tools[0].body.items[1]', 'lost'],
        ['UNDEFINED_VARIABLE', 'desk', '$.nodes[3].summary', 'name'],
        ['UNDEFINED_VARIABLE', 'bye', '$.nodes[4].text', 'name'],
      ]);
      expect(r.warnings.find((w) => w.path.endsWith('body.slot'))!.message).toContain('tool "book" has no parameter "slot"');
    });
  });

  it('jsonPath quotes keys that are not identifiers', () => {
    expect(jsonPath([])).toBe('$');
    expect(jsonPath(['nodes', 3, 'next'])).toBe('$.nodes[3].next');
    expect(jsonPath(['headers', 'X-Api-Key'])).toBe('$.headers["X-Api-Key"]');
  });

  it('scales linearly: large generated flows validate clean, including a 20,000-node chain', () => {
    const big = validateFlow(generateFlow(10_000));
    expect(big.errors).toEqual([]);
    expect(big.warnings).toEqual([]);
    expect(big.flow!.nodes.length).toBeGreaterThanOrEqual(10_000);

    // A long chain would overflow a recursive traversal; BFS handles it.
    const n = 20_000;
    const chain = clean();
    chain.nodes = Array.from({ length: n }, (_, i) => ({ id: `s${i}`, type: 'say' as const, text: 'x', next: i + 1 < n ? `s${i + 1}` : 'desk' }));
    chain.nodes.push({ id: 'desk', type: 'transfer', target: { queue: 'q' }, onUnavailable: 'bye' }, { id: 'bye', type: 'end' });
    chain.start = 's0';
    expect(validateFlow(chain)).toMatchObject({ errors: [], warnings: [] });

    // And a long chain ending in a cycle reports every node as a dead end, once each.
    (chain.nodes[n - 1] as { next: string }).next = 's0';
    const dead = validateFlow(chain);
    expect(dead.errors.filter((e) => e.code === 'DEAD_END')).toHaveLength(n);
  });
});

describe('answering-machine detection in flows', () => {
  const amdFlow = (value: string, voicemail?: string) => ({
    version: 1,
    name: 'AMD',
    start: 'route',
    settings: { ...(voicemail !== undefined ? { voicemail: { message: voicemail } } : {}) },
    nodes: [
      { id: 'route', type: 'branch', branches: [{ if: { var: 'call.answeredBy', op: 'eq', value }, to: 'bye' }], else: 'bye' },
      { id: 'bye', type: 'end' },
    ],
  });

  it('call.answeredBy is a built-in; a value AMD never reports is a warning', async () => {
    const { validateFlow } = await import('../../../src/flow/validator.js');
    const good = validateFlow(amdFlow('machine_end_beep'));
    expect(good.errors).toEqual([]);
    expect(good.warnings.map((w) => w.code)).not.toContain('UNDEFINED_VARIABLE');
    expect(good.warnings.map((w) => w.code)).not.toContain('UNKNOWN_ANSWERED_BY');
    const typo = validateFlow(amdFlow('voicemail'));
    expect(typo.warnings.find((w) => w.code === 'UNKNOWN_ANSWERED_BY')).toMatchObject({ nodeId: 'route', path: '$.nodes[0].branches[0].if.value' });
  });

  it('the voicemail message is a template checked like the others', async () => {
    const { validateFlow } = await import('../../../src/flow/validator.js');
    const res = validateFlow(amdFlow('human', 'Hi {{nobody}}'));
    expect(res.warnings.find((w) => w.code === 'UNDEFINED_VARIABLE')).toMatchObject({ path: '$.settings.voicemail.message' });
    expect(validateFlow(amdFlow('human', '')).errors).toEqual([]);
  });
});
