import { describe, expect, it } from 'vitest';
import { dtmf } from '../../support/scripted-port.js';
import { harness, makeFlow } from './harness.js';

describe('variables and templates in the interpreter', () => {
  const http = async () => new Response(JSON.stringify({ order: { id: 'A1', total: 12.5 }, tags: ['x'] }), { status: 200 });

  it('missing variables render empty; saved objects are reachable by dotted path', async () => {
    const flow = makeFlow([
      { id: 'h', type: 'http', url: 'http://127.0.0.1:9/o', save: { order: 'order', 'shop.tags': 'tags' }, next: 's' },
      { id: 's', type: 'say', text: 'Order {{order.id}} costs {{ order.total }}{{nothing}}. Tags {{shop.tags}}. Sid {{call.sid}}.', next: 'e' },
      { id: 'e', type: 'end' },
    ]);
    const h = harness(flow, { http });
    await h.interpreter.run();
    expect(h.port.texts).toEqual(['Order A1 costs 12.5. Tags ["x"]. Sid CA123.']);
  });

  it('a dotted name over a saved object renders with it and leaves the saved object as it was', async () => {
    const flow = makeFlow([
      { id: 'h', type: 'http', url: 'http://127.0.0.1:9/o', save: { order: 'order', 'order.tags': 'tags' }, next: 's' },
      { id: 's', type: 'say', text: 'Order {{order.id}} tags {{order.tags}}.', next: 't' },
      { id: 't', type: 'say', text: 'Again {{order.total}} {{order.tags}}.', next: 'e' },
      { id: 'e', type: 'end' },
    ]);
    const h = harness(flow, { http });
    await h.interpreter.run();
    expect(h.port.texts).toEqual(['Order A1 tags ["x"].', 'Again 12.5 ["x"].']);
    // Rendering built its own copy: the saved value is what the HTTP answer held, in every snapshot.
    const vars = h.interpreter.snapshot().variables;
    expect(vars.order).toEqual({ id: 'A1', total: 12.5 });
    expect(vars['order.tags']).toEqual(['x']);
    for (const snap of h.snapshots) if (snap.variables.order) expect(snap.variables.order).toEqual({ id: 'A1', total: 12.5 });
  });

  it('settings defaults are set at start and overwritten by gathered values; branches read dotted builtins', async () => {
    const flow = makeFlow(
      [
        { id: 'g', type: 'gather', prompt: 'Size for {{name}}? Current {{size}}.', variable: 'size', input: ['dtmf'], next: 'b' },
        { id: 'b', type: 'branch', branches: [{ if: { var: 'caller.number', op: 'matches', value: '^\\+1555' }, to: 'e' }], else: 'x' },
        { id: 'e', type: 'end', text: '{{name}} {{size}}' },
        { id: 'x', type: 'end', text: 'unexpected' },
      ],
      { variables: { name: 'Ann', size: 'none' } },
    );
    const h = harness(flow, { inputs: [dtmf('3')] });
    await h.interpreter.run();
    expect(h.port.texts).toEqual(['Size for Ann? Current none.', 'Ann 3']);
    // A placeholder makes the prompt uncacheable even though it is a gather prompt.
    expect(h.port.said[0]!.options.cacheable).toBe(false);
    const vars = h.interpreter.snapshot().variables;
    expect(vars).toMatchObject({ name: 'Ann', size: '3', 'caller.number': '+15550100999', 'caller.to': '+15550100001', 'call.sid': 'CA123', 'agent.name': 'Test Agent' });
  });

  it('the snapshot is plain JSON after every step', async () => {
    const flow = makeFlow([{ id: 's', type: 'say', text: 'x', next: 'e' }, { id: 'e', type: 'end' }]);
    const h = harness(flow);
    await h.interpreter.run();
    expect(h.snapshots.length).toBeGreaterThanOrEqual(3);
    for (const s of h.snapshots) expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    expect(h.snapshots[0]).toMatchObject({ schemaVersion: 1, agent: { id: 'agent-1', version: 1 }, status: 'running', position: { nodeId: 's', step: { type: 'say' } } });
    expect(h.snapshots.at(-1)).toMatchObject({ status: 'ended', result: { outcome: 'completed', lastNodeId: 'e' } });
  });
});
