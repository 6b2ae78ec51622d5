import { describe, expect, it } from 'vitest';
import { lookup, render } from '../../../src/flow/template.js';
import { harness, makeFlow } from './harness.js';

describe('templates read only the call’s own variables', () => {
  it('built-in object properties render empty, like any missing variable', () => {
    const vars = { name: 'Ann', order: { id: 'A1' }, list: ['x'] };
    expect(render('[{{constructor}}][{{toString}}][{{__proto__}}][{{hasOwnProperty}}]', vars)).toBe('[][][][]');
    expect(render('[{{order.constructor}}][{{order.__proto__}}][{{name.length}}][{{list.map}}]', vars)).toBe('[][][][]');
    expect(render('{{name}} {{order.id}} {{list.0}}', vars)).toBe('Ann A1 x');
    expect(lookup(vars, 'constructor')).toBeUndefined();
  });

  it('a variable that is really named like a built-in still renders', () => {
    expect(render('{{constructor}}', { constructor: 'mine' })).toBe('mine');
  });

  it('branches and speech in a call see no built-ins, and a saved "__proto__" name pollutes nothing', async () => {
    const http = async () => new Response(JSON.stringify({ a: 'polluted' }), { status: 200 });
    const flow = makeFlow([
      { id: 'h', type: 'http', url: 'https://api.example/x', save: { '__proto__.polluted': 'a', __proto__x: 'a' }, next: 'b', onError: 'e' },
      { id: 'b', type: 'branch', branches: [{ if: { var: 'toString', op: 'exists' }, to: 'bad' }], else: 's' },
      { id: 's', type: 'say', text: 'x{{constructor}}{{valueOf}}y', next: 'e' },
      { id: 'e', type: 'end' },
      { id: 'bad', type: 'end', text: 'built-in seen' },
    ]);
    const h = harness(flow, { http });
    await h.interpreter.run();
    expect(h.port.texts).toEqual(['xy']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
