import { describe, expect, it } from 'vitest';
import { diffFlows, diffValues, MAX_DIFF_VALUE_CHARS } from '../../../src/agents/version-diff.js';
import { flowSchema } from '../../../src/flow/schema.js';

/** Invariant: a diff lists exactly the nodes added, removed and changed (each changed field by path) and the settings changed; parsed defaults never count as changes. */
const v1 = flowSchema.parse({
  version: 1,
  name: 'Clinic',
  settings: { systemPrompt: 'Be brief.', variables: { a: '' } },
  start: 'hello',
  nodes: [
    { id: 'hello', type: 'say', text: 'Hi.', next: 'chat' },
    { id: 'chat', type: 'conversation', prompt: 'Help.', exits: [{ when: 'done', to: 'bye' }, { when: 'person', to: 'desk' }] },
    { id: 'desk', type: 'transfer', target: { queue: 'front' }, onUnavailable: 'bye' },
    { id: 'bye', type: 'end', text: 'Bye.' },
  ],
});

describe('diffFlows', () => {
  it('an identical flow, with defaults written out, is the same', () => {
    const explicit = flowSchema.parse({ ...v1, nodes: v1.nodes.map((n) => (n.id === 'hello' ? { ...n, interruptible: true } : n)) });
    expect(diffFlows(v1, explicit)).toEqual({ nodes: { added: [], removed: [], changed: [] }, settings: [], flow: [], same: true });
  });

  it('nodes added, removed and changed field by field; settings and start changed', () => {
    const v2 = flowSchema.parse({
      ...v1,
      name: 'Clinic 2',
      settings: { ...v1.settings, systemPrompt: 'Be very brief.', fallbackNode: 'bye' },
      nodes: [
        { id: 'hello', type: 'say', text: 'Hello!', next: 'chat', interruptible: false },
        { id: 'chat', type: 'conversation', prompt: 'Help.', exits: [{ when: 'done', to: 'bye' }, { when: 'person', to: 'menu' }] },
        { id: 'menu', type: 'gather', prompt: 'Press 1.', variable: 'a', next: 'bye' },
        { id: 'bye', type: 'end', text: 'Bye.' },
      ],
    });
    const d = diffFlows(v1, v2);
    expect(d.same).toBe(false);
    expect(d.nodes.added).toEqual([{ id: 'menu', type: 'gather' }]);
    expect(d.nodes.removed).toEqual([{ id: 'desk', type: 'transfer' }]);
    expect(d.nodes.changed).toEqual([
      { id: 'hello', type: 'say', fields: [{ path: 'interruptible', from: true, to: false }, { path: 'text', from: 'Hi.', to: 'Hello!' }] },
      { id: 'chat', type: 'conversation', fields: [{ path: 'exits[1].to', from: 'desk', to: 'menu' }] },
    ]);
    expect(d.settings).toEqual([{ path: 'fallbackNode', to: 'bye' }, { path: 'systemPrompt', from: 'Be brief.', to: 'Be very brief.' }]);
    expect(d.flow).toEqual([{ path: 'name', from: 'Clinic', to: 'Clinic 2' }]);
  });

  it('array items added or removed, type changes and long values cut', () => {
    expect(diffValues({ a: [1, 2] }, { a: [1, 2, 3] })).toEqual([{ path: 'a[2]', to: 3 }]);
    expect(diffValues({ a: [1, 2] }, { a: [1] })).toEqual([{ path: 'a[1]', from: 2 }]);
    expect(diffValues({ a: 1 }, { a: { b: 1 } })).toEqual([{ path: 'a', from: 1, to: { b: 1 } }]);
    const long = 'x'.repeat(MAX_DIFF_VALUE_CHARS + 10);
    expect(diffValues({ t: 'y' }, { t: long })[0]!.to).toBe(`${'x'.repeat(MAX_DIFF_VALUE_CHARS)}…`);
  });
});
