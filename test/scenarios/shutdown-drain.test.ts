import { afterEach, describe, expect, it } from 'vitest';
import { createShutdown } from '../../src/http/shutdown.js';
import { SHUTDOWN_GOODBYE } from '../../src/pipeline/static-phrases.js';
import type { DrainSummary } from '../../src/pipeline/drain.js';
import { CALLER, type Harness } from './harness.js';
import { startHoldLine, type HoldLine } from './hold-line.js';

/**
 * The designed shutdown with live calls over the Twilio simulator, on virtual
 * time: /ready turns 503 at once, a new call gets the unavailable answer,
 * calls in progress keep their callbacks and may end on their own, and the
 * one still on the line when SHUTDOWN_DRAIN_MS is up hears a goodbye and is
 * hung up; the history is flushed and the process exits 0.
 */
let line: HoldLine | undefined;
let h: Harness | undefined;
afterEach(async () => {
  await line?.close();
  line = undefined;
  h = undefined;
});

const HOLD_NUMBER = '+15550100008';

const DRAIN_MS = 30_000;

describe('designed shutdown', () => {
  it('drains live calls: not ready at once, new calls unavailable, callbacks served, the last call says goodbye at the deadline, history flushed, exit 0', async () => {
    line = await startHoldLine(HOLD_NUMBER, { SHUTDOWN_DRAIN_MS: String(DRAIN_MS) });
    h = line.h;
    const atPrompt = line.atPrompt;
    const stays = await h.sim.placeCall({ from: CALLER, to: HOLD_NUMBER });
    const finishes = await h.sim.placeCall({ from: CALLER, to: HOLD_NUMBER });
    const leaves = await h.sim.placeCall({ from: CALLER, to: HOLD_NUMBER });
    await h.until(() => [stays, finishes, leaves].every((c) => atPrompt(c.callSid)), { what: 'three calls at the prompt' });
    expect(h.container.telephony.sessions.size).toBe(3);

    const exits: number[] = [];
    const shutdown = createShutdown({ app: h.app, container: h.container, exit: (code) => exits.push(code), close: async () => {} });
    let summary: DrainSummary | undefined;
    void shutdown.begin('SIGTERM').then((s) => (summary = s));
    const startedAt = h.clock.now();

    // Not ready at once; the API refuses new work; health still answers.
    const ready = await h.app.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toEqual({ status: 'shutting_down' });
    expect((await h.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'GET', url: '/api/v1/agents' })).json().error.code).toBe('SHUTTING_DOWN');

    // A new call gets the agent's unavailable answer (200 TwiML, never a 5xx) and no stream.
    const late = await h.sim.placeCall({ from: CALLER, to: HOLD_NUMBER });
    await h.until(() => late.ended, { what: 'the late call to end' });
    expect(late.events.find((e) => e.kind === 'twiml')).toMatchObject({ path: '/twilio/voice' });
    expect(late.says()).toEqual(['Sorry, this line is not available right now. Please call again later.']);
    expect(late.events.some((e) => e.kind === 'stream_open')).toBe(false);
    expect((await h.record(late.callSid)).outcome).toEqual({ kind: 'unavailable', detail: 'shutting_down' });

    // Calls in progress go on: one finishes its flow, one caller hangs up (the status callback is served).
    finishes.pressDigit('1');
    await h.until(() => finishes.ended, { what: 'the finishing call to end' });
    expect((await h.record(finishes.callSid)).outcome?.kind).toBe('completed');
    expect(finishes.events.filter((e) => e.kind === 'twiml').map((e) => (e as { path: string }).path)).toEqual([
      '/twilio/voice',
      '/twilio/stream-ended',
    ]);
    await leaves.hangUp();
    expect(leaves.events.find((e) => e.kind === 'status')).toMatchObject({ httpStatus: 200 });
    expect((await h.record(leaves.callSid)).state).toBe('ended');

    // The last call is still on the line until the deadline.
    await h.until(() => h!.clock.now() - startedAt >= DRAIN_MS - 1_000, { maxMs: DRAIN_MS });
    expect(stays.ended).toBe(false);
    expect(summary).toBeUndefined();
    const bytesBefore = stays.audioBytes;
    await h.until(() => summary !== undefined && stays.ended, { maxMs: 10_000, what: 'the drain to finish' });

    // It heard a short goodbye, then the server hung up.
    expect(h.tts.requests.map((r) => r.text)).toContain(SHUTDOWN_GOODBYE);
    expect(stays.audioBytes).toBeGreaterThan(bytesBefore);
    expect(stays.events.find((e) => e.kind === 'stream_closed')).toMatchObject({ by: 'server' });
    expect(stays.events.filter((e) => e.kind === 'twiml').at(-1)).toMatchObject({ path: '/twilio/stream-ended' });
    const record = await h.record(stays.callSid);
    expect(record.state).toBe('ended');
    expect(record.outcome?.kind).toBe('shutdown');
    expect(summary).toEqual({ seen: 3, stopped: 1 });
    expect(h.container.telephony.sessions.size).toBe(0);

    // The history was flushed before exit: the stopped call's end is in SQL, and the process exits 0.
    expect(exits).toEqual([0]);
    const stored = await h.container.callHistory.get(stays.callSid);
    expect(stored?.state).toBe('ended');
    expect(stored?.outcome?.kind).toBe('shutdown');
  });
});
