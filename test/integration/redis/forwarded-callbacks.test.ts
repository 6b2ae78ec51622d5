import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { installErrorHandling } from '../../../src/http/errors.js';
import { Handoffs } from '../../../src/handoff/handoffs.js';
import type { AttemptOutcome, PeoplePicker } from '../../../src/handoff/transfer-run.js';
import { twilioHandoffRoutes, type ConferenceEvent } from '../../../src/http/routes/twilio-handoff.js';
import { RedisCallHolders } from '../../../src/store/redis/call-holders.js';
import { RedisControlBus } from '../../../src/store/redis/control-bus.js';
import { TwilioCallbackRouter } from '../../../src/telephony/callback-forwarding.js';
import { TwilioHandoffTelephony } from '../../../src/telephony/handoff-rest.js';
import { HANDOFF_PATHS, callbackUrl, callerConferenceTwiml, conferenceName } from '../../../src/telephony/handoff-twiml.js';
import { attachSimulatorToRest } from '../../../src/testing/twilio-sim-rest.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../../src/testing/twilio-rest.js';
import { TwilioSimulator, type PersonScript } from '../../../src/testing/twilio-simulator.js';
import { untilVirtual } from '../../support/virtual-time.js';
import { redisFixture } from './redis-test.js';

/**
 * A warm transfer runs in one process's memory (process B) while a load
 * balancer sends every Twilio callback to the other one (process A): the
 * person's leg status, the brief, the "press 1" gather and the conference
 * status callbacks. A checks the signature and runs each on B over the control
 * bus (real Redis), answering Twilio with B's TwiML.
 */
const ACCOUNT_SID = 'AC' + 'e'.repeat(32);
const AUTH_TOKEN = 'forwarded-callbacks-token';
const PUBLIC_URL = 'https://voice.test';
const OUR_NUMBER = '+15550100002';

let fixture = redisFixture();
const closers: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await fixture.cleanup();
  expect(await fixture.keys()).toEqual([]);
  fixture = redisFixture();
});

interface Process {
  app: FastifyInstance;
  handoffs: Handoffs;
  holders: RedisCallHolders;
  conferenceEvents: ConferenceEvent[];
  router: TwilioCallbackRouter;
  inflight: { n: number };
}

async function processOn(clock: ManualClock, restUrl: string, options: { listen: boolean }): Promise<Process> {
  const redis = await fixture.connect();
  // Control requests time out on real time: virtual steps must not expire a request in flight.
  const bus = await RedisControlBus.open(redis, systemClock, silentLogger);
  closers.push(() => bus.close());
  const holders = new RedisCallHolders(redis);
  const router = new TwilioCallbackRouter({ bus, holders, logger: silentLogger });
  closers.push(() => router.close());
  const telephony = new TwilioHandoffTelephony({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_BASE_URL: restUrl });
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
  // A test double of a server: closing it drops the simulator’s kept-alive connections at once.
  const app = Fastify({ forceCloseConnections: true });
  installErrorHandling(app);
  await app.register(formbody);
  await app.register(twilioHandoffRoutes, {
    config: { PUBLIC_URL, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_VALIDATE_SIGNATURE: true },
    logger: silentLogger,
    handoffs,
    onConferenceEvent: (e) => conferenceEvents.push(e),
    forward: router,
    knows: (callerSid) => handoffs.get(callerSid) !== undefined,
  });
  app.post('/twilio/voice', async (req, reply) => {
    reply.type('text/xml');
    return callerConferenceTwiml(PUBLIC_URL, (req.body as { CallSid: string }).CallSid);
  });
  app.post('/twilio/status', async (_req, reply) => {
    reply.type('text/xml');
    return '<Response/>';
  });
  // Callbacks still being answered (a forwarded one waits on the other process): a test ends when none is.
  const inflight = { n: 0 };
  app.addHook('onRequest', async () => void inflight.n++);
  app.addHook('onResponse', async () => void inflight.n--);
  await app.ready();
  if (options.listen) await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => app.close());
  return { app, handoffs, holders, conferenceEvents, router, inflight };
}

async function setup(script: PersonScript) {
  const clock = new ManualClock();
  const rest: FakeTwilioRest = await startFakeTwilioRest();
  closers.push(() => rest.close());
  const a = await processOn(clock, rest.url, { listen: true });
  const b = await processOn(clock, rest.url, { listen: false });
  // Every webhook and callback goes to A.
  const sim = new TwilioSimulator({
    serverUrl: `http://127.0.0.1:${(a.app.server.address() as AddressInfo).port}`,
    publicUrl: PUBLIC_URL,
    authToken: AUTH_TOKEN,
    accountSid: ACCOUNT_SID,
    clock,
    people: { '+15550107001': script },
  });
  attachSimulatorToRest(sim, rest);
  const until = (done: () => boolean, what: string) => untilVirtual(clock, done, { defaultStepMs: 100, maxMs: 120_000, what });
  const caller = await sim.placeCall({ from: '+15550001111', to: OUR_NUMBER });
  await until(() => caller.events.some((e) => e.kind === 'hold'), 'the caller on hold');
  // B holds the call (its AI had it) and runs the transfer.
  await b.holders.hold(caller.callSid);
  const outcomes: AttemptOutcome[] = [];
  const released: string[] = [];
  const picker: PeoplePicker = {
    async pick(exclude) {
      return exclude.includes('st-ana') ? undefined : { staffId: 'st-ana', dial: '+15550107001' };
    },
    async release(staffId) {
      released.push(staffId);
    },
  };
  const { done } = b.handoffs.start({
    callerSid: caller.callSid,
    callerId: OUR_NUMBER,
    people: picker,
    mode: 'warm',
    ringSeconds: 20,
    maxWaitMs: 60_000,
    brief: 'Ann wants to change a delivery address.',
    onOutcome: (o) => outcomes.push(o),
  });
  let result: unknown;
  void done.then((r) => (result = r));
  const settled = () => until(() => a.inflight.n === 0 && b.inflight.n === 0, 'every callback answered');
  return { a, b, sim, caller, until, settled, outcomes, released, result: () => result };
}

describe('Twilio callbacks landing on a process that does not run the transfer', () => {
  it('press 1 on the other process: the brief, the gather and the join come from the transfer’s process; conference events reach it', async () => {
    const t = await setup('accept');
    await t.until(() => t.result() !== undefined, 'the transfer to end');
    expect(t.result()).toMatchObject({ result: 'accepted', staffId: 'st-ana' });
    expect(t.a.handoffs.active()).toEqual([]);
    const leg = t.sim.legsTo('+15550107001')[0]!;
    // The brief came from B's memory, though every request went to A.
    expect(leg.says()).toEqual(['Ann wants to change a delivery address.', 'Press 1 to take the call, 2 to pass.']);
    expect(leg.events).toContainEqual({ kind: 'gather', digits: '1', posted: true });
    expect(t.outcomes.map((o) => [o.outcome, o.staffId])).toEqual([['accepted', 'st-ana']]);
    const conf = t.sim.conference(conferenceName(t.caller.callSid))!;
    await t.until(() => conf.status === 'in-progress', 'the conference to start');
    expect(conf.members()).toEqual([t.caller.callSid, leg.callSid]);
    await t.until(() => t.b.conferenceEvents.some((c) => c.event === 'conference-start'), 'conference-start reported to B');
    expect(t.b.conferenceEvents.map((c) => [c.event, c.callSid ?? ''])).toEqual([
      ['participant-join', t.caller.callSid],
      ['participant-join', leg.callSid],
      ['conference-start', ''],
    ]);
    expect(t.a.conferenceEvents).toEqual([]);
    await t.settled();
  });

  it('press 2 on the other process: declined in the transfer’s process, the leg let go', async () => {
    const t = await setup('decline');
    await t.until(() => t.result() !== undefined, 'the transfer to end');
    expect(t.result()).toEqual({ result: 'unavailable' });
    expect(t.outcomes.map((o) => [o.outcome, o.detail])).toEqual([['declined', 'pressed_2']]);
    expect(t.released).toEqual(['st-ana']);
    // The person hears B's goodbye (the gather's answer came back through A) and the leg ends.
    const leg = t.sim.legsTo('+15550107001')[0]!;
    await t.until(() => leg.ended, 'the leg to hang up');
    expect(leg.events).toContainEqual({ kind: 'gather', digits: '2', posted: true });
    await t.settled();
  });

  it('a callback for a call nobody holds is answered where it landed (the leg is let go)', async () => {
    const t = await setup('decline');
    await t.until(() => t.result() !== undefined, 'the transfer to end');
    const leg = t.sim.legsTo('+15550107001')[0]!;
    await t.until(() => leg.ended, 'the leg to hang up');
    await t.settled();
    // A stale gather for an unknown caller: no process holds it, so A answers it itself.
    const path = `${HANDOFF_PATHS.staffGather}?call=CA${'0'.repeat(32)}&attempt=1`;
    const res = await t.a.app.inject({
      method: 'POST',
      url: path,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': t.sim.sign(path, { Digits: '1' }) },
      payload: 'Digits=1',
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<Hangup');
    // Unsigned: refused on the receiving process, nothing forwarded.
    const unsigned = await t.a.app.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'Digits=1' });
    expect(unsigned.statusCode).toBe(403);
  });
});
