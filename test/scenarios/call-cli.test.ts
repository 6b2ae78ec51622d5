import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { callMain, parseCallArgs } from '../../src/cli/call.js';

/**
 * `npm run call` from a clean clone: fakes and its own server on free ports,
 * dummy keys, the flow imported as a temporary agent through the API, a short
 * keypad call, the transcript printed, the agent's audio written as a WAV.
 */
function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream, text: () => text };
}

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('npm run call', () => {
  it('runs a short pizza call by keypad and exits 0 with the transcript and a WAV', async () => {
    dir = await mkdtemp(join(tmpdir(), 'call-cli-'));
    const wav = join(dir, 'out.wav');
    const out = sink();
    const err = sink();
    const code = await callMain(['--flow', 'pizza', '--dtmf', '2', '--dtmf', '3', '--wav', wav, '--timeout', '3'], {
      output: out.stream,
      error: err.stream,
      env: {},
      fakeVoiceBytesPerChar: 16,
    });
    expect(err.text()).toBe('');
    expect(code).toBe(0);
    const text = out.text();
    expect(text).toContain('→ menu (gather)');
    expect(text).toContain('caller (keys): 2');
    expect(text).toContain('agent: Got it: 3 pepperoni.');
    expect(text).toMatch(/call ended: completed/);
    const bytes = await readFile(wav);
    expect(bytes.subarray(0, 4).toString('ascii')).toBe('RIFF');
    expect(bytes.length).toBeGreaterThan(2000);
  }, 15_000);

  it('--handoff: the simulated person in the queue hears the brief, accepts, joins the conference and leaves; the AI takes the caller back', async () => {
    dir = await mkdtemp(join(tmpdir(), 'call-cli-'));
    const out = sink();
    const err = sink();
    const code = await callMain(['--handoff', '--wav', join(dir, 'h.wav'), '--timeout', '15'], {
      output: out.stream,
      error: err.stream,
      env: {},
      fakeVoiceBytesPerChar: 16,
    });
    expect(err.text()).toBe('');
    expect(code).toBe(0);
    const lines = out.text().split('\n');
    const at = (needle: string) => lines.findIndex((l) => l.includes(needle));
    // In order: the transfer, the person taking the call, the person leaving, the AI at handoffNode, the end.
    const order = [
      '⇢ transfer requested (warm) to {"queue":"front-desk"}',
      '⇢ transfer.accepted by stf_',
      'call state: transferring → human',
      '⇠ the person left',
      '→ welcome-back (say)',
      'agent: You are back with the assistant.',
      'call ended: completed',
    ].map(at);
    expect(order.every((i) => i >= 0), out.text()).toBe(true);
    expect([...order].sort((x, y) => x - y)).toEqual(order);
    expect(out.text()).toContain('handoff: Sam (simulated) (+15550107777) in queue "front-desk"');
    expect(out.text()).toContain('person heard: A caller asked for a person at the front desk.');
    expect(out.text()).toContain('person pressed: 1');
    expect(out.text()).toMatch(/person joined conference call-CA\w+/);
    expect(out.text()).toMatch(/caller left conference call-CA\w+ \(redirect\)/);
  }, 30_000);

  it('refuses bad arguments with exit 2 and the usage', async () => {
    const out = sink();
    const err = sink();
    expect(await callMain(['--say'], { output: out.stream, error: err.stream, env: {} })).toBe(2);
    expect(err.text()).toContain('--say needs a value');
    expect(await callMain(['--flow', 'no-such-flow'], { output: out.stream, error: err.stream, env: {} })).toBe(2);
    expect(err.text()).toContain('no flow file');
    expect(() => parseCallArgs(['--flow', 'pizza', '--url', 'http://127.0.0.1:3000'])).toThrow(/--key/);
    expect(() => parseCallArgs(['--flow', 'pizza', '--barge-in'])).toThrow(/--barge-in/);
    expect(() => parseCallArgs(['--handoff', '--url', 'http://127.0.0.1:3000', '--key', 'k', '--auth-token', 't'])).toThrow(/not --url/);
    expect(parseCallArgs(['--handoff']).handoff).toBe(true);
    // A flow without a transfer to a queue cannot show a handoff.
    expect(await callMain(['--handoff', '--flow', 'pizza'], { output: out.stream, error: err.stream, env: {} })).toBe(1);
    expect(err.text()).toContain('--handoff needs a flow with a transfer node whose target is a queue');
    expect(parseCallArgs(['--flow', 'x', '--say', 'a', '--barge-in', '--say', 'b', '--dtmf', '1#']).steps).toEqual([
      { kind: 'say', text: 'a', bargeIn: false },
      { kind: 'say', text: 'b', bargeIn: true },
      { kind: 'dtmf', digits: '1#' },
    ]);
  });
});
