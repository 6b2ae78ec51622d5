import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Calls } from '../../../src/calls/calls.js';
import type { CallEvent } from '../../../src/calls/events.js';
import { MemoryCallEventBus } from '../../../src/calls/events.js';
import { MemoryCallRepository } from '../../../src/calls/repository.js';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { Handoffs } from '../../../src/handoff/handoffs.js';
import { LiveHandoff } from '../../../src/handoff/live-handoff.js';
import type { PeoplePicker } from '../../../src/handoff/transfer-run.js';
import { installErrorHandling } from '../../../src/http/errors.js';
import { twilioHandoffRoutes } from '../../../src/http/routes/twilio-handoff.js';
import { TwilioHandoffTelephony } from '../../../src/telephony/handoff-rest.js';
import { HANDOFF_PATHS, callbackUrl, conferenceName } from '../../../src/telephony/handoff-twiml.js';
import { attachSimulatorToRest } from '../../../src/testing/twilio-sim-rest.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../../src/testing/twilio-rest.js';
import { TwilioSimulator, type PersonScript, type SimCall } from '../../../src/testing/twilio-simulator.js';
import { untilVirtual } from '../../support/virtual-time.js';

/**
 * The live call's side of a warm transfer over the simulator: the caller's
 * record moves ai → transferring → human (or back to connecting for the AI),
 * the handler names the person, the fork starts on accept, and a person who
 * leaves gives the caller back to the AI with the fork stopped first.
 */
const ACCOUNT_SID = 'AC' + 'e'.repeat(32);
const AUTH_TOKEN = 'live-handoff-token';
const PUBLIC_URL = 'https://voice.test';
const OUR_NUMBER = '+15550100002';
const ANA = { staffId: 'st-ana', dial: '+15550107001' };

interface Rig {
  clock: ManualClock;
  calls: Calls;
  events: CallEvent[];
  live: LiveHandoff;
  sim: TwilioSimulator;
  rest: FakeTwilioRest;
  app: FastifyInstance;
  caller: SimCall;
  released: string[];
  until(done: () => boolean | Promise<boolean>, what: string): Promise<void>;
}

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.app.close();
  await rig?.rest.close();
  rig = undefined;
});

async function setup(script: PersonScript | undefined): Promise<Rig> {
  const clock = new ManualClock();
  const calls = new Calls(new MemoryCallRepository(), new MemoryCallEventBus(), clock, silentLogger);
  const events: CallEvent[] = [];
  calls.bus.subscribe((e) => events.push(e));
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
  const released: string[] = [];
  const people: PeoplePicker = {
    pick: async (exclude) => (script && !exclude.includes(ANA.staffId) ? ANA : undefined),
    release: async (id) => void released.push(id),
  };
  const live = new LiveHandoff({
    calls,
    handoffs,
    telephony,
    streamToken: (callSid) => `token-for-${callSid}`,
    publicUrl: PUBLIC_URL,
    clock,
    logger: silentLogger,
    peopleFor: () => people,
    handoffNodeOf: async () => 'welcome-back',
    releasePerson: async (id) => void released.push(`person:${id}`),
  });
  const app = Fastify();
  installErrorHandling(app);
  await app.register(formbody);
  await app.register(twilioHandoffRoutes, {
    config: { PUBLIC_URL, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_VALIDATE_SIGNATURE: true },
    logger: silentLogger,
    handoffs,
    onConferenceEvent: (e) => void live.onConferenceEvent(e),
  });
  // The caller: a call the AI has (its media stream is not under test here: a long pause stands in).
  app.post('/twilio/voice', async (_req, reply) => reply.type('text/xml').send('<Response><Pause length="3600"/></Response>'));
  app.post('/twilio/status', async (req, reply) => {
    live.callerEnded((req.body as { CallSid: string }).CallSid);
    return reply.type('text/xml').send('<Response/>');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const sim = new TwilioSimulator({
    serverUrl: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    publicUrl: PUBLIC_URL,
    authToken: AUTH_TOKEN,
    accountSid: ACCOUNT_SID,
    clock,
    people: script ? { [ANA.dial]: script } : {},
  });
  attachSimulatorToRest(sim, rest);
  const caller = await sim.placeCall({ from: '+15550001111', to: OUR_NUMBER });
  await calls.open({ callSid: caller.callSid, accountSid: ACCOUNT_SID, agentId: 'ag1', slug: 'shop', version: 3, from: caller.from, to: OUR_NUMBER, direction: 'inbound' });
  await calls.signal(caller.callSid, 'stream_started');
  rig = { clock, calls, events, live, sim, rest, app, caller, released, until: (done, what) => untilVirtual(clock, done, { defaultStepMs: 250, maxMs: 120_000, what }) };
  return rig;
}

const request = (callSid: string) => ({
  callSid,
  nodeId: 'operator',
  target: { queue: 'support' },
  onUnavailable: 'sorry',
  ringSeconds: 20,
  maxWaitSeconds: 60,
});
const states = (r: Rig) => r.events.flatMap((e) => (e.type === 'call.state' ? [e.to] : []));
const twimlSent = (r: Rig) => r.rest.requests.flatMap((q) => (typeof q.form.Twiml === 'string' && q.callSid === r.caller.callSid ? [q.form.Twiml] : []));

describe('live handoff', () => {
  it('accepted: ai → transferring → human, the handler is the person, the fork starts, transfer.accepted', async () => {
    const r = await setup('accept');
    const started = await r.live.warmTransfer(request(r.caller.callSid));
    expect(started.ok).toBe(true);
    let done = false;
    void (started as { done: Promise<unknown> }).done.then(() => (done = true));
    await r.until(() => done, 'the transfer');
    const record = (await r.calls.get(r.caller.callSid))!;
    expect(record.state).toBe('human');
    expect(record.handler).toEqual({ kind: 'person', staffId: 'st-ana' });
    expect(states(r)).toEqual(['ai', 'transferring', 'human']);
    expect(r.events.filter((e) => e.type.startsWith('transfer.'))).toMatchObject([{ type: 'transfer.accepted', staffId: 'st-ana', attempt: 1 }]);
    expect(twimlSent(r)[0]).toContain(`<Conference startConferenceOnEnter="false" endConferenceOnExit="true" beep="false"`);
    expect(r.rest.requests.at(-1)).toMatchObject({ path: expect.stringMatching(/\/Streams\.json$/), form: { Name: `fork-${r.caller.callSid}`, Track: 'both_tracks', 'Parameter1.Value': `token-for-${r.caller.callSid}` } });
    // The brief fell back to the last turns (none yet).
    expect(r.sim.legsTo(ANA.dial)[0]!.says()[0]).toBe('A caller is waiting for you.');
  });

  it('nobody takes it: back to the AI at onUnavailable on a new stream', async () => {
    const r = await setup(undefined);
    const started = await r.live.warmTransfer(request(r.caller.callSid));
    let done = false;
    void (started as { done: Promise<unknown> }).done.then(() => (done = true));
    await r.until(() => done, 'the transfer');
    const record = (await r.calls.get(r.caller.callSid))!;
    expect(record.state).toBe('connecting');
    expect(record.resume).toEqual({ at: 'sorry', reason: 'transfer_unavailable' });
    expect(record.handler).toEqual({ kind: 'ai', agentId: 'ag1', version: 3 });
    const back = twimlSent(r).at(-1)!;
    expect(back).toContain('<Connect action="https://voice.test/twilio/stream-ended"><Stream url="wss://voice.test/twilio/stream">');
    expect(back).not.toContain('<Stop>');
  });

  it('a person who leaves without handing back gives the caller back to the AI at handoffNode, fork stopped first', async () => {
    const r = await setup('accept');
    const started = await r.live.warmTransfer(request(r.caller.callSid));
    let done = false;
    void (started as { done: Promise<unknown> }).done.then(() => (done = true));
    await r.until(() => done, 'the transfer');
    const leg = r.sim.legsTo(ANA.dial)[0]!;
    await r.until(() => r.sim.conference(conferenceName(r.caller.callSid))?.status === 'in-progress', 'the conference');
    await leg.hangUp();
    await r.until(async () => (await r.calls.get(r.caller.callSid))?.state === 'connecting', 'the caller back with the AI');
    expect(r.events.some((e) => e.type === 'handoff.person_left' && e.staffId === 'st-ana')).toBe(true);
    expect((await r.calls.get(r.caller.callSid))!.resume).toEqual({ at: 'welcome-back', reason: 'person_left' });
    expect(twimlSent(r).at(-1)).toMatch(/^<\?xml[^>]*><Response><Stop><Stream name="fork-CA[0-9a-f]+"\/><\/Stop><Connect /);
    expect(states(r)).toEqual(['ai', 'transferring', 'human', 'connecting']);
    // The caller was never left alone in the conference and never hung up.
    expect(r.caller.ended).toBe(false);
  });

  it('the caller hangs up while the person rings: the leg is cancelled at once', async () => {
    const r = await setup('no-answer');
    await r.live.warmTransfer(request(r.caller.callSid));
    await r.until(() => r.sim.legsTo(ANA.dial)[0]?.status === 'ringing', 'ringing');
    await r.caller.hangUp();
    await r.until(() => r.sim.legsTo(ANA.dial)[0]!.ended, 'the cancel');
    expect(r.sim.legsTo(ANA.dial)[0]!.status).toBe('canceled');
    expect(r.events.some((e) => e.type === 'transfer.caller_hung_up')).toBe(true);
  });

  it('refuses a transfer of a call the AI does not have', async () => {
    const r = await setup('accept');
    await r.calls.signal(r.caller.callSid, 'transfer_requested');
    expect(await r.live.warmTransfer(request(r.caller.callSid))).toEqual({ ok: false, reason: 'call_not_with_ai' });
  });

  it('hand back: the person’s and the caller’s words join the saved transcript, the chosen agent takes over at its entry node', async () => {
    const r = await setup('accept');
    const sid = r.caller.callSid;
    await r.calls.saveSnapshot(sid, { schema: 1, transcript: [{ role: 'agent', text: 'Hello!', at: 1 }], variables: { name: 'Ann' } });
    const started = await r.live.warmTransfer(request(sid));
    let done = false;
    void (started as { done: Promise<unknown> }).done.then(() => (done = true));
    await r.until(() => done, 'the transfer');
    await r.live.forkTurn(sid, { speaker: 'staff', text: 'I have updated your address.' });
    await r.live.forkTurn(sid, { speaker: 'caller', text: 'Thanks, can the bot book a delivery slot?' });
    const during = (await r.calls.get(sid))!;
    expect(during.turns.map((t) => [t.role, t.text])).toEqual([
      ['staff', 'I have updated your address.'],
      ['caller', 'Thanks, can the bot book a delivery slot?'],
    ]);
    expect((during.snapshot as { transcript: unknown[] }).transcript.slice(1)).toMatchObject([
      { role: 'system', text: 'A support person on the call said: I have updated your address.' },
      { role: 'caller', text: 'Thanks, can the bot book a delivery slot?' },
    ]);
    expect(r.events.filter((e) => e.type === 'turn.staff' || e.type === 'turn.caller').map((e) => e.type)).toEqual(['turn.staff', 'turn.caller']);

    expect(await r.live.transferToAi(sid, { agentId: 'ag2', slug: 'booking', version: 7, entryNode: 'booking-entry' })).toEqual({ ok: true });
    const after = (await r.calls.get(sid))!;
    expect(after).toMatchObject({ state: 'connecting', agentId: 'ag2', slug: 'booking', version: 7, resume: { at: 'booking-entry', reason: 'transfer_to_ai' } });
    expect(after.handler).toEqual({ kind: 'ai', agentId: 'ag2', version: 7 });
    expect(twimlSent(r).at(-1)).toContain('<Stop><Stream name="fork-');
    expect(r.events.find((e) => e.type === 'handoff.to_ai')).toMatchObject({ agentId: 'ag2', version: 7, resumes: false });
    // The person's session is given back; leaving the conference (the caller went) is not a second hand back.
    expect(r.released).toEqual(['person:st-ana']);
    await r.until(() => r.sim.legsTo(ANA.dial)[0]!.ended, 'the person’s leg to be let go');
    expect(r.events.some((e) => e.type === 'handoff.person_left')).toBe(false);
  });

  it('hand back to the same agent and version resumes where it left off; refused when no person has the call', async () => {
    const r = await setup('accept');
    const sid = r.caller.callSid;
    const same = { agentId: 'ag1', slug: 'shop', version: 3, entryNode: 'start' };
    expect(await r.live.transferToAi(sid, same)).toEqual({ ok: false, reason: 'not_with_person' });
    const started = await r.live.warmTransfer(request(sid));
    let done = false;
    void (started as { done: Promise<unknown> }).done.then(() => (done = true));
    await r.until(() => done, 'the transfer');
    expect(await r.live.transferToAi(sid, same)).toEqual({ ok: true });
    expect((await r.calls.get(sid))!.resume).toEqual({ reason: 'transfer_to_ai' });
  });
});
