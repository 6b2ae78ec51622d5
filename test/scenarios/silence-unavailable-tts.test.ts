import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CALLER, PIZZA_NUMBER, startHarness, type Harness } from './harness.js';

let h: Harness | undefined;
let dir: string | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const QUIET_NUMBER = '+15550100007';
const quietFlow = {
  version: 1,
  name: 'Quiet line',
  settings: {
    systemPrompt: 'You help callers.',
    silence: { repromptAfterMs: 8000, reprompt: 'Are you still there?', hangupAfterMs: 20000 },
  },
  start: 'hello',
  nodes: [
    { id: 'hello', type: 'say', text: 'Hello, how can I help?', next: 'chat' },
    { id: 'chat', type: 'conversation', prompt: 'Help the caller.', exits: [{ when: 'the caller is done', to: 'bye' }] },
    { id: 'bye', type: 'end', text: 'Bye.' },
  ],
};

describe('silence', () => {
  it('reprompts 8 s after the last mark, then hangs up at 20 s', async () => {
    dir = await mkdtemp(join(tmpdir(), 'flows-'));
    await writeFile(join(dir, 'quiet.json'), JSON.stringify(quietFlow));
    h = await startHarness({ env: { FLOWS_DIR: dir, PHONE_NUMBERS: `${QUIET_NUMBER}=quiet` }, warm: ['quiet'] });
    const call = await h.sim.placeCall({ from: CALLER, to: QUIET_NUMBER });
    const record = await h.finish(call);
    const agent = record.turns.filter((t) => t.role === 'agent');
    expect(agent.map((t) => t.text)).toEqual(['Hello, how can I help?', 'Are you still there?']);
    // Turn times are taken when each phrase's last mark returned.
    const repromptAudioMs = (20 * 80) / 8; // the fake voice: 80 bytes per character
    const gapMs = agent[1]!.at - agent[0]!.at - repromptAudioMs;
    expect(gapMs).toBeGreaterThanOrEqual(8000);
    expect(gapMs).toBeLessThan(8000 + 200);
    const hangupAfterRepromptMs = record.endedAt! - agent[1]!.at;
    expect(hangupAfterRepromptMs).toBeGreaterThanOrEqual(12000);
    expect(hangupAfterRepromptMs).toBeLessThan(12000 + 200);
    expect(record.outcome).toEqual({ kind: 'silence_timeout', detail: 'silence' });
    expect(h.tts.requests).toHaveLength(0);
    expect(call.events.filter((e) => e.kind === 'twiml').at(-1)).toMatchObject({ path: '/twilio/stream-ended' });
  });
});

describe('unavailable behaviour', () => {
  it('a deactivated agent answers with its unavailable behaviour, never silence', async () => {
    h = await startHarness();
    await h.container.persistence.agents.deactivate('pizza', { reason: 'test' }, 'test');
    const call = await h.sim.placeCall({ from: CALLER, to: PIZZA_NUMBER });
    await h.finish(call);
    expect(call.says()).toEqual(['Sorry, this line is not available right now. Please call again later.']);
    expect(call.events.some((e) => e.kind === 'hangup' && e.by === 'twiml')).toBe(true);
    expect(call.events.some((e) => e.kind === 'stream_open')).toBe(false);
    const record = await h.record(call.callSid);
    expect(record.state).toBe('ended');
    expect(record.outcome).toEqual({ kind: 'unavailable', detail: 'agent_unavailable' });
    expect(record.nextStep).toMatchObject({ kind: 'unavailable' });
    expect(h.eventsOf(call.callSid).map((e) => e.type)).toEqual(['call.started', 'next_step.set', 'call.state', 'call.ended']);

    // A custom behaviour that forwards to a number.
    await h.container.persistence.agents.patch('pizza', { unavailable: { message: 'We are closed.', then: { number: '+15550104444' } } });
    const second = await h.sim.placeCall({ from: CALLER, to: PIZZA_NUMBER });
    await h.finish(second);
    expect(second.says()).toEqual(['We are closed.']);
    expect(second.events.find((e) => e.kind === 'dial')).toMatchObject({ number: '+15550104444' });
  });

  it('an unassigned number gets a short Say and Hangup', async () => {
    h = await startHarness();
    const call = await h.sim.placeCall({ from: CALLER, to: '+15550109876' });
    await h.until(() => call.ended);
    await call.done;
    expect(call.says()).toEqual(['Sorry, this number is not in service.']);
    expect(call.events.some((e) => e.kind === 'hangup' && e.by === 'twiml')).toBe(true);
    expect(await h.container.telephony.calls.get(call.callSid)).toBeUndefined();
  });
});

describe('TTS failure on a live phrase', () => {
  it('ElevenLabs 500 → the cached fallback message, then hang up', async () => {
    h = await startHarness();
    h.tts.setBehaviour((text) => (text.startsWith('Got it') ? { status: 500 } : {}));
    const call = await h.sim.placeCall({ from: CALLER, to: PIZZA_NUMBER });
    await h.until(() => h!.eventsOf(call.callSid).some((e) => e.type === 'turn.agent' && e.nodeId === 'menu'));
    call.pressDigit('1');
    await h.until(() => h!.eventsOf(call.callSid).some((e) => e.type === 'turn.agent' && e.nodeId === 'quantity'));
    call.pressDigit('2');
    const record = await h.finish(call);
    // Both sentences were requested (two in flight); the first failed.
    expect(h.tts.requests[0]!.status).toBe(500);
    expect(h.tts.requests.length).toBeLessThanOrEqual(2);
    expect(record.outcome?.kind).toBe('tts_failed');
    expect(h.eventsOf(call.callSid).find((e) => e.type === 'tts.failed')).toMatchObject({ fallback: 'cached', text: expect.stringMatching(/^Got it: 2 margherita./) });
    // The caller heard the fallback message's audio (from the cache) before the hang-up.
    const lastMark = call.marksReturned.at(-1);
    expect(lastMark).toBeDefined();
    expect(record.metrics.cachedPhrases).toBe(4); // greeting, menu, quantity, fallback
    expect(call.says()).toEqual([]);
    expect(call.events.filter((e) => e.kind === 'twiml').at(-1)).toMatchObject({ path: '/twilio/stream-ended' });
  });

  it('not cached either → the stream closes and /twilio/stream-ended says it with <Say>', async () => {
    dir = await mkdtemp(join(tmpdir(), 'flows-'));
    await copyFile('flows/pizza.json', join(dir, 'pizza.json'));
    h = await startHarness({ env: { FLOWS_DIR: dir }, warm: [] });
    h.tts.setBehaviour(() => ({ status: 500 }));
    const call = await h.sim.placeCall({ from: CALLER, to: PIZZA_NUMBER });
    const record = await h.finish(call);
    expect(call.audioBytes).toBe(0);
    expect(call.says()).toEqual(["Sorry, something went wrong. Please call Tony's Pizza again."]);
    expect(record.outcome?.kind).toBe('tts_failed');
    expect(record.nextStep).toMatchObject({ kind: 'say' });
    expect(h.eventsOf(call.callSid).find((e) => e.type === 'tts.failed')).toMatchObject({ fallback: 'twiml' });
  });

  it('a fallback message with variables is said with the call variables, not blanks', async () => {
    dir = await mkdtemp(join(tmpdir(), 'flows-'));
    const pizza = JSON.parse(await readFile('flows/pizza.json', 'utf8')) as { settings: Record<string, unknown> & { variables: Record<string, string> } };
    pizza.settings.fallbackMessage = 'Sorry, something went wrong. Please call {{shop}} again.';
    pizza.settings.variables = { ...pizza.settings.variables, shop: "Tony's Pizza" };
    await writeFile(join(dir, 'pizza.json'), JSON.stringify(pizza));
    h = await startHarness({ env: { FLOWS_DIR: dir }, warm: [] });
    h.tts.setBehaviour(() => ({ status: 500 }));
    const call = await h.sim.placeCall({ from: CALLER, to: PIZZA_NUMBER });
    const record = await h.finish(call);
    // A templated message is never cached: it is said through <Say>, rendered like every other text of the call.
    expect(call.says()).toEqual(["Sorry, something went wrong. Please call Tony's Pizza again."]);
    expect(record.outcome?.kind).toBe('tts_failed');
    expect(h.eventsOf(call.callSid).find((e) => e.type === 'tts.failed')).toMatchObject({ fallback: 'twiml' });
  });
});
