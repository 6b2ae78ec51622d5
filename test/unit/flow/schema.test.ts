import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { FLOW_SCHEMA_PATH, FLOW_TEST_SCHEMA_PATH, flowSchemaFileText, flowTestSchemaFileText } from '../../../scripts/write-flow-schema.js';
import { flowJsonSchema, flowSchema, nodeSchema, settingsSchema } from '../../../src/flow/schema.js';

/** Invariant: the defaults documented in docs/flows.md hold, and the published JSON Schema matches the code. */

describe('flows/flow.schema.json', () => {
  it('is up to date with src/flow/schema.ts', async () => {
    const onDisk = await readFile(FLOW_SCHEMA_PATH, 'utf8').catch(() => '(missing)');
    const fresh = flowSchemaFileText();
    if (onDisk !== fresh) {
      expect.fail('flows/flow.schema.json is stale: run `npm run schema` and commit the result');
    }
  });

  it('is pretty JSON with a trailing newline and names itself', () => {
    const text = flowSchemaFileText();
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "');
    const schema = JSON.parse(text) as Record<string, unknown>;
    expect(schema).toMatchObject({ $id: expect.stringContaining('flow.schema.json'), title: expect.stringContaining('flow') });
    expect(flowJsonSchema()).toEqual(schema);
  });

  it('describes every node type', () => {
    const text = flowSchemaFileText();
    for (const type of ['say', 'conversation', 'gather', 'branch', 'http', 'transfer', 'end']) {
      expect(text).toContain(`"const": "${type}"`);
    }
  });
});

describe('flows/flow-test.schema.json', () => {
  it('is up to date with src/flow-tests/suite-schema.ts and names itself', async () => {
    const onDisk = await readFile(FLOW_TEST_SCHEMA_PATH, 'utf8').catch(() => '(missing)');
    if (onDisk !== flowTestSchemaFileText()) {
      expect.fail('flows/flow-test.schema.json is stale: run `npm run schema` and commit the result');
    }
    expect(JSON.parse(onDisk)).toMatchObject({ $id: expect.stringContaining('flow-test.schema.json'), title: expect.stringContaining('test suite') });
  });
});

describe('settings defaults', () => {
  it('an empty settings object gets every documented default', () => {
    expect(settingsSchema.parse({})).toEqual({
      language: 'en-US',
      pronunciations: [],
      fallbackMessage: "I'm sorry, something went wrong on our side. Please call again later.",
      silence: { repromptAfterMs: 8000, reprompt: 'Are you still there?', hangupAfterMs: 20000 },
      bargeIn: { minWords: 2, confirmMs: 600 },
      maxCallSeconds: 3600,
      variables: {},
      recording: false,
    });
  });

  it('a flow without settings gets the same defaults', () => {
    const flow = flowSchema.parse({ version: 1, name: 'n', start: 'a', nodes: [{ id: 'a', type: 'end' }] });
    expect(flow.settings).toEqual(settingsSchema.parse({}));
  });

  it('partial silence and knowledge-base objects are completed', () => {
    const s = settingsSchema.parse({ silence: { reprompt: 'Hello?' }, knowledgeBase: {} });
    expect(s.silence).toEqual({ repromptAfterMs: 8000, reprompt: 'Hello?', hangupAfterMs: 20000 });
    expect(s.knowledgeBase).toEqual({ documents: [], topK: 3 });
  });

  it('rejects unknown settings and out-of-range values', () => {
    expect(settingsSchema.safeParse({ sytemPrompt: 'typo' }).success).toBe(false);
    expect(settingsSchema.safeParse({ llm: { temperature: 3 } }).success).toBe(false);
    expect(settingsSchema.safeParse({ businessHours: { timezone: 'UTC', weekly: { mon: [['9:00', '17:00']] } } }).success).toBe(false);
    expect(settingsSchema.safeParse({ businessHours: { timezone: 'UTC', weekly: { mon: [['09:00', '24:00']] } } }).success).toBe(true);
  });
});

describe('node defaults', () => {
  const parse = (node: unknown) => nodeSchema.parse(node);

  it('say: interruptible', () => {
    expect(parse({ id: 's', type: 'say', text: 'Hi', next: 'n' })).toEqual({ id: 's', type: 'say', text: 'Hi', next: 'n', interruptible: true });
  });

  it('conversation: no tools, no exits, waits for the caller', () => {
    expect(parse({ id: 'c', type: 'conversation', prompt: 'p' })).toEqual({
      id: 'c',
      type: 'conversation',
      prompt: 'p',
      tools: [],
      speakFirst: false,
      exits: [],
    });
  });

  it('conversation tools: GET, 5 s, no headers, no params, nothing saved; params required strings', () => {
    const node = parse({
      id: 'c',
      type: 'conversation',
      prompt: 'p',
      tools: [{ name: 't', description: 'd', url: 'https://a.example', parameters: { day: {} } }],
    });
    expect(node.type === 'conversation' && node.tools[0]).toEqual({
      name: 't',
      description: 'd',
      url: 'https://a.example',
      method: 'GET',
      headers: {},
      timeoutMs: 5000,
      save: {},
      parameters: { day: { type: 'string', required: true } },
    });
  });

  it('gather: dtmf and speech, text, 2 retries, 5 s', () => {
    expect(parse({ id: 'g', type: 'gather', prompt: 'p', variable: 'v', next: 'n' })).toEqual({
      id: 'g',
      type: 'gather',
      prompt: 'p',
      variable: 'v',
      next: 'n',
      input: ['dtmf', 'speech'],
      valueType: 'text',
      retries: 2,
      timeoutMs: 5000,
    });
    const withDigits = parse({ id: 'g', type: 'gather', prompt: 'p', variable: 'v', next: 'n', digits: {} });
    expect(withDigits.type === 'gather' && withDigits.digits).toEqual({ min: 1, max: 32, terminator: '#' });
  });

  it('branch: no defaults, at least one branch', () => {
    const b = { id: 'b', type: 'branch', branches: [{ if: { var: 'x', op: 'exists' }, to: 'n' }], else: 'e' };
    expect(parse(b)).toEqual(b);
    expect(nodeSchema.safeParse({ ...b, branches: [] }).success).toBe(false);
  });

  it('http: GET, no headers, nothing saved, 5 s', () => {
    expect(parse({ id: 'h', type: 'http', url: 'https://a.example', next: 'n' })).toEqual({
      id: 'h',
      type: 'http',
      url: 'https://a.example',
      next: 'n',
      method: 'GET',
      headers: {},
      save: {},
      timeoutMs: 5000,
    });
  });

  it('transfer: warm, rings each person 20 s, waits 60 s in all; queue or E.164 number', () => {
    expect(parse({ id: 't', type: 'transfer', target: { queue: 'q' } })).toEqual({
      id: 't',
      type: 'transfer',
      target: { queue: 'q' },
      mode: 'warm',
      ringSeconds: 20,
      maxWaitSeconds: 60,
    });
    expect(nodeSchema.safeParse({ id: 't', type: 'transfer', target: { queue: 'q' }, ringSeconds: 2 }).success).toBe(false);
    expect(nodeSchema.safeParse({ id: 't', type: 'transfer', target: { number: '+15550109999' } }).success).toBe(true);
    expect(nodeSchema.safeParse({ id: 't', type: 'transfer', target: { number: '5550109999' } }).success).toBe(false);
    expect(nodeSchema.safeParse({ id: 't', type: 'transfer', target: {} }).success).toBe(false);
  });

  it('end: text optional', () => {
    expect(parse({ id: 'e', type: 'end' })).toEqual({ id: 'e', type: 'end' });
  });

  it('ids are restricted to a safe alphabet', () => {
    expect(nodeSchema.safeParse({ id: 'has space', type: 'end' }).success).toBe(false);
    expect(nodeSchema.safeParse({ id: 'ok_id-1.2', type: 'end' }).success).toBe(true);
  });
});
