import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import websocket from '@fastify/websocket';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { installErrorHandling } from '../../../src/http/errors.js';
import { Handoffs } from '../../../src/handoff/handoffs.js';
import type { AttemptOutcome, PeoplePicker } from '../../../src/handoff/transfer-run.js';
import { twilioHandoffRoutes, type ConferenceEvent } from '../../../src/http/routes/twilio-handoff.js';
import { TwilioHandoffTelephony } from '../../../src/telephony/handoff-rest.js';
import { ForkTranscriber, type ForkTurn } from '../../../src/handoff/fork-transcriber.js';
import { FakeStt } from '../../../src/providers/stt/fake.js';
import { StreamTokens } from '../../../src/telephony/stream-token.js';
import { START_TIMEOUT_MS, newMediaStreamCounters, type MediaStreamCounters } from '../../../src/telephony/media-stream.js';
import { MEDIA_MESSAGE_RATE } from '../../../src/core/message-rate.js';
import twilio from 'twilio';
import WebSocket from 'ws';
import { HANDOFF_PATHS, callbackUrl, callerConferenceTwiml, conferenceName, forkName, forkUrlOf } from '../../../src/telephony/handoff-twiml.js';
import { attachSimulatorToRest } from '../../../src/testing/twilio-sim-rest.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../../src/testing/twilio-rest.js';
import { TwilioSimulator, type PersonScript, type SimCall } from '../../../src/testing/twilio-simulator.js';
import { realTick, untilVirtual } from '../../support/virtual-time.js';

/**
 * Every warm-transfer outcome at the Twilio edge: a caller waits in
 * `call-<CallSid>`, the transfer rings scripted people through the real SDK
 * against the REST fake, and the simulator plays their legs back through the
 * signed handoff callbacks. The AI side is not involved here (scenario tests
 * cover it); this is the transfer itself.
 */
const ACCOUNT_SID = 'AC' + 'd'.repeat(32);
const AUTH_TOKEN = 'handoff-edge-token';
const PUBLIC_URL = 'https://voice.test';
const OUR_NUMBER = '+15550100002';

interface Person {
  staffId: string;
  dial: string;
  script: PersonScript;
}

interface Edge {
  clock: ManualClock;
  sim: TwilioSimulator;
  rest: FakeTwilioRest;
  app: FastifyInstance;
  handoffs: Handoffs;
  released: string[];
  picks: string[][];
  outcomes: AttemptOutcome[];
  conferenceEvents: ConferenceEvent[];
  caller: SimCall;
  telephony: TwilioHandoffTelephony;
  tokens: StreamTokens;
  stt: FakeStt;
  forkTurns: ForkTurn[];
  counters: MediaStreamCounters;
  serverUrl: string;
  until(done: () => boolean, what: string, maxMs?: number): Promise<void>;
}

let edge: Edge | undefined;
afterEach(async () => {
  await edge?.app.close();
  await edge?.rest.close();
  edge = undefined;
});

async function setup(people: Person[]): Promise<Edge> {
  const clock = new ManualClock();
  const rest = await startFakeTwilioRest();
  const telephony = new TwilioHandoffTelephony({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_BASE_URL: rest.url });
  const handoffs = new Handoffs({
    telephony,
    clock,
    logger: silentLogger,
    conferenceName,
    urls: (call) => ({
      staffLeg: (attempt) => callbackUrl(PUBLIC_URL, HANDOFF_PATHS.staffLeg, { call, attempt }),
      staffLegStatus: (attempt) => callbackUrl(PUBLIC_URL, HANDOFF_PATHS.staffLegStatus, { call, attempt }),
      conferenceStatus: () => callbackUrl(PUBLIC_URL, HANDOFF_PATHS.conferenceStatus, { call }),
    }),
  });
  const conferenceEvents: ConferenceEvent[] = [];
  const tokens = new StreamTokens('handoff-edge-secret-key-0123', clock);
  const stt = new FakeStt();
  const forkTurns: ForkTurn[] = [];
  const counters = newMediaStreamCounters();
  const app = Fastify();
  installErrorHandling(app);
  await app.register(formbody);
  await app.register(websocket);
  await app.register(twilioHandoffRoutes, {
    config: { PUBLIC_URL, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_VALIDATE_SIGNATURE: true },
    logger: silentLogger,
    handoffs,
    onConferenceEvent: (e) => conferenceEvents.push(e),
    tokens,
    openFork: () => new ForkTranscriber({ stt, language: 'en-US', logger: silentLogger, onTurn: (t) => forkTurns.push(t) }),
    clock,
    counters,
  });
  // The caller's side: straight onto hold (the AI part is not under test), hang-ups reported.
  app.post('/twilio/voice', async (req, reply) => {
    reply.type('text/xml');
    return callerConferenceTwiml(PUBLIC_URL, (req.body as { CallSid: string }).CallSid);
  });
  app.post('/twilio/status', async (req, reply) => {
    handoffs.callerHungUp((req.body as { CallSid: string }).CallSid);
    reply.type('text/xml');
    return '<Response/>';
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const serverUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const sim = new TwilioSimulator({
    serverUrl,
    publicUrl: PUBLIC_URL,
    authToken: AUTH_TOKEN,
    accountSid: ACCOUNT_SID,
    clock,
    people: Object.fromEntries(people.map((p) => [p.dial, p.script])),
  });
  attachSimulatorToRest(sim, rest);
  const until = (done: () => boolean, what: string, maxMs = 180_000) => untilVirtual(clock, done, { defaultStepMs: 250, maxMs, what });
  const caller = await sim.placeCall({ from: '+15550001111', to: OUR_NUMBER });
  await until(() => caller.events.some((e) => e.kind === 'hold'), 'the caller on hold');
  edge = { clock, sim, rest, app, handoffs, released: [], picks: [], outcomes: [], conferenceEvents, caller, until, telephony, tokens, stt, forkTurns, counters, serverUrl };
  return edge;
}

/** The queue: people in order, each offered once. */
function picker(e: Edge, people: Person[]): PeoplePicker {
  return {
    async pick(exclude) {
      e.picks.push([...exclude]);
      const next = people.find((p) => !exclude.includes(p.staffId));
      return next ? { staffId: next.staffId, dial: next.dial } : undefined;
    },
    async release(staffId) {
      e.released.push(staffId);
    },
  };
}

function transfer(e: Edge, people: Person[], options: { mode?: 'warm' | 'assume'; maxWaitMs?: number } = {}) {
  return e.handoffs.start({
    callerSid: e.caller.callSid,
    callerId: OUR_NUMBER,
    people: picker(e, people),
    mode: options.mode ?? 'warm',
    ringSeconds: 20,
    maxWaitMs: options.maxWaitMs ?? 60_000,
    brief: 'Ann wants to change a delivery address.',
    onOutcome: (o) => e.outcomes.push(o),
  });
}

/** Advances virtual time until the transfer ends; its result. */
async function settle(e: Edge, done: Promise<unknown>): Promise<unknown> {
  let result: unknown;
  void done.then((r) => (result = r));
  await e.until(() => result !== undefined, 'the transfer to end');
  return result;
}

const ana = (script: PersonScript): Person => ({ staffId: 'st-ana', dial: '+15550107001', script });
const bo = (script: PersonScript): Person => ({ staffId: 'st-bo', dial: 'client:bo', script });

describe('warm transfer over Twilio', () => {
  it('accepted: the person hears the brief, presses 1 and joins; the conference starts with both', async () => {
    const people = [ana('accept')];
    const e = await setup(people);
    const { done } = transfer(e, people);
    expect(await settle(e, done)).toMatchObject({ result: 'accepted', staffId: 'st-ana' });
    const conf = e.sim.conference(conferenceName(e.caller.callSid))!;
    await e.until(() => conf.status === 'in-progress', 'the conference to start');
    const leg = e.sim.legsTo('+15550107001')[0]!;
    expect(leg.says()).toEqual(['Ann wants to change a delivery address.', 'Press 1 to take the call, 2 to pass.']);
    expect(conf.members()).toEqual([e.caller.callSid, leg.callSid]);
    expect(e.outcomes).toEqual([{ outcome: 'accepted', staffId: 'st-ana', attempt: 1, legSid: leg.callSid }]);
    // The person keeps their session: nobody is released.
    expect(e.released).toEqual([]);
    await e.until(() => e.conferenceEvents.some((c) => c.event === 'conference-start'), 'conference-start reported');
    expect(e.conferenceEvents.map((c) => [c.event, c.callSid ?? ''])).toEqual([
      ['participant-join', e.caller.callSid],
      ['participant-join', leg.callSid],
      ['conference-start', ''],
    ]);
  });

  it('no_answer, then declined (2), then busy, then accepted: one person at a time, each once, all released but the one who took it', async () => {
    const people = [
      ana('no-answer'),
      bo('decline'),
      { staffId: 'st-cy', dial: '+15550107003', script: 'busy' as const },
      { staffId: 'st-di', dial: '+15550107004', script: 'accept' as const },
    ];
    const e = await setup(people);
    const { done } = transfer(e, people, { maxWaitMs: 120_000 });
    let result: unknown;
    void done.then((r) => (result = r));
    await e.until(() => result !== undefined, 'the transfer to end');
    expect(result).toMatchObject({ result: 'accepted', staffId: 'st-di' });
    expect(e.outcomes.map((o) => [o.outcome, o.staffId, o.detail])).toEqual([
      ['no_answer', 'st-ana', 'no-answer'],
      ['declined', 'st-bo', 'pressed_2'],
      ['declined', 'st-cy', 'busy'],
      ['accepted', 'st-di', undefined],
    ]);
    expect(e.released).toEqual(['st-ana', 'st-bo', 'st-cy']);
    expect(e.picks).toEqual([[], ['st-ana'], ['st-ana', 'st-bo'], ['st-ana', 'st-bo', 'st-cy']]);
    // Never two legs up at once: each leg was over before the next one was created.
    const legs = e.sim.calls.filter((c) => c.direction === 'outbound-api');
    expect(legs.map((l) => l.to)).toEqual(['+15550107001', 'client:bo', '+15550107003', '+15550107004']);
    for (let i = 1; i < legs.length; i++) {
      const created = e.rest.requests.filter((r) => r.path.endsWith('/Calls.json'))[i]!;
      expect(created.form.To).toBe(legs[i]!.to);
      expect(legs[i - 1]!.ended).toBe(true);
    }
    expect(legs[1]!.events).toContainEqual({ kind: 'gather', digits: '2', posted: true });
  });

  it('machine: answered and nothing pressed; the leg is let go and the caller is unavailable when nobody else is there', async () => {
    const people = [ana('silent')];
    const e = await setup(people);
    const { done } = transfer(e, people);
    let result: unknown;
    void done.then((r) => (result = r));
    await e.until(() => result !== undefined, 'the transfer to end');
    expect(result).toEqual({ result: 'unavailable' });
    expect(e.outcomes[0]).toMatchObject({ outcome: 'machine', staffId: 'st-ana', detail: 'nothing_pressed' });
    const leg = e.sim.legsTo('+15550107001')[0]!;
    await e.until(() => leg.ended, 'the leg to hang up');
    expect(leg.events).toContainEqual({ kind: 'gather', digits: '', posted: true });
    expect(e.released).toEqual(['st-ana']);
    // The caller is still on hold for the AI to take back.
    expect(e.caller.ended).toBe(false);
  });

  it('failed: the leg cannot be placed; a REST refusal is failed too', async () => {
    const people = [ana('fail'), bo('accept')];
    const e = await setup(people);
    e.rest.failNext(500);
    const { done } = transfer(e, people);
    let result: unknown;
    void done.then((r) => (result = r));
    await e.until(() => result !== undefined, 'the transfer to end');
    // The first create was refused (500): failed; then Bo accepted.
    expect(e.outcomes.map((o) => [o.outcome, o.staffId])).toEqual([
      ['failed', 'st-ana'],
      ['accepted', 'st-bo'],
    ]);
  });

  it('a Twilio-failed leg is failed', async () => {
    const people = [ana('fail')];
    const e = await setup(people);
    const { done } = transfer(e, people);
    let result: unknown;
    void done.then((r) => (result = r));
    await e.until(() => result !== undefined, 'the transfer to end');
    expect(e.outcomes[0]).toMatchObject({ outcome: 'failed', detail: 'failed' });
  });

  it('caller_hung_up: the ringing person’s leg is cancelled at once and they are released', async () => {
    const people = [ana('no-answer')];
    const e = await setup(people);
    const { done } = transfer(e, people);
    await e.until(() => e.sim.legsTo('+15550107001')[0]?.status === 'ringing', 'the person to ring');
    const leg = e.sim.legsTo('+15550107001')[0]!;
    const ringingAt = e.clock.now();
    await e.caller.hangUp();
    await expect(done).resolves.toEqual({ result: 'caller_hung_up' });
    await e.until(() => leg.ended, 'the leg to be cancelled');
    expect(leg.status).toBe('canceled');
    // "At once": well before the 20 s ring timeout.
    expect(e.clock.now() - ringingAt).toBeLessThan(2000);
    expect(e.outcomes).toEqual([{ outcome: 'caller_hung_up', staffId: 'st-ana', attempt: 1, legSid: leg.callSid }]);
    await e.handoffs.get(e.caller.callSid)?.idle();
    expect(e.released).toEqual(['st-ana']);
  });

  it('nobody eligible: unavailable at once, nobody rung', async () => {
    const e = await setup([]);
    await expect(transfer(e, []).done).resolves.toEqual({ result: 'unavailable' });
    expect(e.sim.calls.filter((c) => c.direction === 'outbound-api')).toHaveLength(0);
  });

  it('maxWait: the person ringing at the deadline is cancelled, nobody else is tried', async () => {
    const people = [ana('no-answer'), bo('accept')];
    const e = await setup(people);
    const { done } = transfer(e, people, { maxWaitMs: 10_000 });
    let result: unknown;
    void done.then((r) => (result = r));
    await e.until(() => result !== undefined, 'the transfer to end');
    expect(result).toEqual({ result: 'unavailable' });
    expect(e.outcomes).toEqual([expect.objectContaining({ outcome: 'no_answer', staffId: 'st-ana', detail: 'max_wait' })]);
    await e.until(() => e.sim.legsTo('+15550107001')[0]!.ended, 'the cancel');
    expect(e.sim.legsTo('client:bo')).toHaveLength(0);
  });

  it('assume: the person is added as a participant and joins at answer, no brief', async () => {
    const people = [ana('accept')];
    const e = await setup(people);
    const { done } = transfer(e, people, { mode: 'assume' });
    expect(await settle(e, done)).toMatchObject({ result: 'accepted', staffId: 'st-ana' });
    const conf = e.sim.conference(conferenceName(e.caller.callSid))!;
    await e.until(() => conf.status === 'in-progress', 'the conference to start');
    const leg = e.sim.legsTo('+15550107001')[0]!;
    expect(leg.says()).toEqual([]);
    expect(conf.participant(leg.callSid)).toMatchObject({ label: 'staff-1', startConferenceOnEnter: true, endConferenceOnExit: false });
  });

  it('refuses unsigned or forged handoff callbacks (403) and ignores a gather for another attempt', async () => {
    const people = [ana('no-answer')];
    const e = await setup(people);
    transfer(e, people);
    const path = `${HANDOFF_PATHS.staffGather}?call=${e.caller.callSid}&attempt=1`;
    expect((await e.sim.post(path, { Digits: '1' }, null)).status).toBe(403);
    expect((await e.sim.post(path, { Digits: '1' }, e.sim.sign(`${HANDOFF_PATHS.staffGather}?call=${e.caller.callSid}&attempt=2`, { Digits: '1' }))).status).toBe(403);
    // Signed, but for an attempt that is not ringing-and-answered: the leg is let go.
    const stale = await e.sim.post(`${HANDOFF_PATHS.staffGather}?call=${e.caller.callSid}&attempt=7`, { Digits: '1' });
    expect(stale.body).toContain('<Hangup/>');
  });

  it('the audio fork: started by REST once the person has the call, both voices transcribed apart, the last words kept at the stop', async () => {
    const people = [ana('accept')];
    const e = await setup(people);
    await settle(e, transfer(e, people).done);
    const callerSid = e.caller.callSid;
    await e.telephony.startFork(callerSid, { name: forkName(callerSid), url: forkUrlOf(PUBLIC_URL), token: e.tokens.issue(callerSid, ACCOUNT_SID) });
    const fork = e.caller.fork(forkName(callerSid))!;
    await e.until(() => fork.state === 'open', 'the fork to open');
    // What the caller hears (the person) first, then what the caller says.
    fork.sendAudio('outbound', new Uint8Array(1600).fill(0xff));
    await e.until(() => e.stt.sessions.length === 1 && e.stt.sessions[0]!.bytesReceived === 1600, 'the person’s track');
    fork.sendAudio('inbound', new Uint8Array(800).fill(0xff));
    await e.until(() => e.stt.sessions.length === 2 && e.stt.sessions[1]!.bytesReceived === 800, 'the caller’s track');
    e.stt.sessions[0]!.say('Hi Ann, I can change that for you.');
    e.stt.sessions[1]!.say('Great, it is 12 Elm Street.', { speechFinal: false, utteranceEnd: false });
    expect(e.forkTurns).toEqual([{ speaker: 'staff', text: 'Hi Ann, I can change that for you.' }]);
    await e.telephony.stopFork(callerSid, forkName(callerSid));
    await e.until(() => e.forkTurns.length === 2, 'the caller’s words to be flushed at the stop');
    expect(e.forkTurns[1]).toEqual({ speaker: 'caller', text: 'Great, it is 12 Elm Street.' });
    expect(e.stt.sessions.every((x) => x.closed)).toBe(true);
    expect(fork.protocolErrors).toEqual([]);
  });

  it('a fork with a forged or reused token is refused: no transcription', async () => {
    const e = await setup([]);
    const callerSid = e.caller.callSid;
    const token = e.tokens.issue(callerSid, ACCOUNT_SID);
    e.tokens.verify(token, callerSid, ACCOUNT_SID);
    await e.telephony.startFork(callerSid, { name: 'fork-a', url: forkUrlOf(PUBLIC_URL), token });
    const fork = e.caller.fork('fork-a')!;
    await e.until(() => fork.state === 'stopped', 'the server to close the fork');
    fork.sendAudio('inbound', new Uint8Array(160));
    expect(e.stt.sessions).toHaveLength(0);
  });

  it('a flood on the audio fork is dropped past its rate, counted, then the fork is closed with 1008; the caller keeps the person', async () => {
    const people = [ana('accept')];
    const e = await setup(people);
    await settle(e, transfer(e, people).done);
    const callerSid = e.caller.callSid;
    await e.telephony.startFork(callerSid, { name: forkName(callerSid), url: forkUrlOf(PUBLIC_URL), token: e.tokens.issue(callerSid, ACCOUNT_SID) });
    const fork = e.caller.fork(forkName(callerSid))!;
    await e.until(() => fork.state === 'open', 'the fork to open');
    // 2,000 frames in one virtual instant (no virtual time passes while they arrive): the burst
    // passes (less `connected` and `start`), the rest is dropped until the flood closes the fork.
    fork.sendAudio('inbound', new Uint8Array(160 * 2_000).fill(0xff));
    for (let i = 0; i < 2_000 && fork.state !== 'stopped'; i++) await realTick();
    expect(fork.closedBy).toEqual({ code: 1008, reason: 'message rate limit' });
    expect(e.counters.forkDroppedForRate).toBe(MEDIA_MESSAGE_RATE.closeAfterDropped);
    expect(e.counters.forksClosedForRate).toBe(1);
    // What passed was transcribed; nothing after the burst reached speech-to-text, and its session ended.
    expect(e.stt.sessions[0]!.bytesReceived).toBe((MEDIA_MESSAGE_RATE.burst - 2) * 160);
    await e.until(() => e.stt.sessions.every((x) => x.closed), 'the fork transcriber to close');
    // Only the fork is gone: the caller is still talking to the person in the conference.
    await e.clock.advance(5_000);
    expect(e.caller.ended).toBe(false);
    expect(e.sim.conference(conferenceName(callerSid))?.status).toBe('in-progress');
  });

  it('an audio fork that never sends start is closed after START_TIMEOUT_MS and counted', async () => {
    const e = await setup([]);
    const url = forkUrlOf(PUBLIC_URL);
    const path = url.slice(PUBLIC_URL.replace(/^http/, 'ws').length);
    const ws = new WebSocket(e.serverUrl.replace(/^http/, 'ws') + path, { headers: { 'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, {}) } });
    let closed: number | undefined;
    ws.on('close', (code) => (closed = code));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    await e.clock.advance(START_TIMEOUT_MS - 1_000);
    expect(closed).toBeUndefined();
    await e.until(() => closed !== undefined, 'the server to close the idle fork', 5_000);
    expect(closed).toBe(1008);
    expect(e.counters.forksClosedWithoutStart).toBe(1);
  });
});
