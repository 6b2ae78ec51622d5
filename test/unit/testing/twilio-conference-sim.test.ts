import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { WebSocketServer, type WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { createTwilioClient } from '../../../src/telephony/rest.js';
import { attachSimulatorToRest } from '../../../src/testing/twilio-sim-rest.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../../src/testing/twilio-rest.js';
import { TwilioSimulator, type PersonScript, type SimCall } from '../../../src/testing/twilio-simulator.js';
import { untilVirtual } from '../../support/virtual-time.js';

/**
 * The simulator plays Twilio's conference, person-leg and fork behaviour the
 * handoff relies on (docs/protocols.md, "Conferences, participants and forks"):
 * driven through the real `twilio` SDK against the REST fake, with every webhook
 * answered by a tiny loopback app that checks X-Twilio-Signature.
 */
const ACCOUNT_SID = 'AC' + 'a'.repeat(32);
const AUTH_TOKEN = 'sim-conference-token';
const PUBLIC_URL = 'https://voice.test';
const CALLER = '+15550001111';
const OUR_NUMBER = '+15550100002';
const PERSON = '+15550107777';

interface Hit {
  path: string;
  params: Record<string, string>;
  signed: boolean;
}

interface App {
  url: string;
  hits: Hit[];
  /** TwiML per path (query string ignored); missing paths answer an empty <Response/>. */
  twiml: Record<string, (params: Record<string, string>) => string>;
  forkSockets: { signed: boolean; messages: Record<string, unknown>[]; ws: WebSocket }[];
  close(): Promise<void>;
}

async function startApp(): Promise<App> {
  const hits: Hit[] = [];
  const app: App = { url: '', hits, twiml: {}, forkSockets: [], close: async () => {} };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(raw));
      const signed = twilio.validateRequest(AUTH_TOKEN, String(req.headers['x-twilio-signature'] ?? ''), PUBLIC_URL + req.url, params);
      const path = (req.url ?? '').split('?')[0]!;
      hits.push({ path, params, signed });
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(app.twiml[path]?.(params) ?? '<?xml version="1.0" encoding="UTF-8"?><Response/>');
    });
  });
  const wss = new WebSocketServer({ server, path: '/twilio/fork' });
  wss.on('connection', (ws, req) => {
    const signed = twilio.validateRequest(AUTH_TOKEN, String(req.headers['x-twilio-signature'] ?? ''), 'wss://voice.test/twilio/fork', {});
    const entry = { signed, messages: [] as Record<string, unknown>[], ws };
    app.forkSockets.push(entry);
    ws.on('message', (d) => entry.messages.push(JSON.parse(String(d))));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  app.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  app.close = async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  };
  return app;
}

const vr = () => new twilio.twiml.VoiceResponse();

/** The caller on hold: what the warm transfer puts the caller in. */
function holdTwiml(name: string, waitUrl = `${PUBLIC_URL}/twilio/hold`): string {
  const r = vr();
  r.dial().conference(
    {
      startConferenceOnEnter: false,
      endConferenceOnExit: true,
      beep: 'false',
      waitUrl,
      statusCallback: `${PUBLIC_URL}/twilio/conference-status`,
      statusCallbackEvent: ['start', 'end', 'join', 'leave'],
    },
    name,
  );
  return r.toString();
}

/** The person's brief and press-1 gather. */
function staffLegTwiml(): string {
  const r = vr();
  const g = r.gather({ numDigits: 1, timeout: 5, action: `${PUBLIC_URL}/twilio/staff-gather?call=x`, actionOnEmptyResult: true });
  g.say('A caller needs help with billing. Press 1 to take the call, 2 to pass.');
  return r.toString();
}

function joinTwiml(name: string): string {
  const r = vr();
  r.dial().conference({ startConferenceOnEnter: true, endConferenceOnExit: false, beep: 'false' }, name);
  return r.toString();
}

interface Rig {
  clock: ManualClock;
  app: App;
  rest: FakeTwilioRest;
  sim: TwilioSimulator;
  client: twilio.Twilio;
  until(done: () => boolean, what: string, maxMs?: number): Promise<void>;
}

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.app.close();
  await rig?.rest.close();
  rig = undefined;
});

async function setup(people: Record<string, PersonScript> = {}): Promise<Rig> {
  const clock = new ManualClock();
  const app = await startApp();
  const rest = await startFakeTwilioRest();
  const sim = new TwilioSimulator({ serverUrl: app.url, publicUrl: PUBLIC_URL, authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID, clock, people });
  attachSimulatorToRest(sim, rest);
  const client = createTwilioClient({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_BASE_URL: rest.url });
  rig = {
    clock,
    app,
    rest,
    sim,
    client,
    until: (done, what, maxMs = 120_000) => untilVirtual(clock, done, { defaultStepMs: 100, maxMs, what }),
  };
  return rig;
}

const confEvents = (r: Rig) => r.app.hits.filter((h) => h.path === '/twilio/conference-status').map((h) => h.params);
const legStatus = (r: Rig) => r.app.hits.filter((h) => h.path === '/twilio/staff-leg-status').map((h) => h.params);

async function callerOnHold(r: Rig, name: string, twiml = holdTwiml(name)): Promise<SimCall> {
  r.app.twiml['/twilio/voice'] = () => twiml;
  const caller = await r.sim.placeCall({ from: CALLER, to: OUR_NUMBER });
  await r.until(() => caller.events.some((e) => e.kind === 'hold'), 'the caller to be on hold');
  return caller;
}

function ringPerson(r: Rig, to = PERSON, timeout = 20) {
  return r.client.calls.create({
    to,
    from: OUR_NUMBER,
    url: `${PUBLIC_URL}/twilio/staff-leg?call=x`,
    statusCallback: `${PUBLIC_URL}/twilio/staff-leg-status?call=x`,
    statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
    timeout,
  });
}

describe('Twilio simulator: conferences', () => {
  it('holds a lone caller with the waitUrl audio, starts when the person who presses 1 joins, ends when the caller leaves', async () => {
    const r = await setup({ [PERSON]: 'accept' });
    const name = 'call-CAcaller';
    r.app.twiml['/twilio/hold'] = () => '<?xml version="1.0" encoding="UTF-8"?><Response><Play>https://hold.example/music.mp3</Play></Response>';
    r.app.twiml['/twilio/staff-leg'] = () => staffLegTwiml();
    r.app.twiml['/twilio/staff-gather'] = (p) => (p.Digits === '1' ? joinTwiml(name) : '<Response><Hangup/></Response>');
    const caller = await callerOnHold(r, name);

    // Alone, with startConferenceOnEnter=false: not started, hold audio fetched (signed) from waitUrl.
    const conf = r.sim.conference(name)!;
    expect(conf.status).toBe('init');
    await r.until(() => r.app.hits.some((h) => h.path === '/twilio/hold'), 'the waitUrl fetch');
    expect(r.app.hits.find((h) => h.path === '/twilio/hold')).toMatchObject({ signed: true, params: { CallSid: caller.callSid } });
    await r.until(() => caller.events.some((e) => e.kind === 'hold' && e.xml !== undefined), 'the hold TwiML');

    const leg = await ringPerson(r);
    expect(leg.status).toBe('queued');
    await r.until(() => conf.status === 'in-progress', 'the conference to start');
    const person = r.sim.call(leg.sid)!;
    expect(person.says()).toEqual(['A caller needs help with billing. Press 1 to take the call, 2 to pass.']);
    expect(r.app.hits.find((h) => h.path === '/twilio/staff-gather')?.params).toMatchObject({ Digits: '1', CallSid: leg.sid });
    expect(conf.members()).toEqual([caller.callSid, leg.sid]);

    // Progress callbacks: each asked-for event once, in order, numbered from 0, all signed.
    await r.until(() => legStatus(r).length >= 3, 'progress callbacks');
    expect(legStatus(r).map((p) => [p.CallStatus, p.SequenceNumber, p.CallbackSource])).toEqual([
      ['initiated', '0', 'call-progress-events'],
      ['ringing', '1', 'call-progress-events'],
      ['in-progress', '2', 'call-progress-events'],
    ]);

    // The caller goes back to the AI by REST: they leave, and endConferenceOnExit ends it for the person too.
    await r.client.calls(caller.callSid).update({ twiml: '<Response><Say>Back to the AI.</Say><Hangup/></Response>' });
    await r.until(() => person.ended && caller.ended, 'both legs to end');
    expect(conf.status).toBe('completed');
    expect(conf.reasonEnded).toBe('participant-with-end-conference-on-exit-left');
    expect(caller.says()).toContain('Back to the AI.');
    await conf.settled();
    expect(confEvents(r).map((p) => [p.StatusCallbackEvent, p.CallSid ?? '', p.SequenceNumber])).toEqual([
      ['participant-join', caller.callSid, '1'],
      ['participant-join', leg.sid, '2'],
      ['conference-start', '', '3'],
      ['participant-leave', caller.callSid, '4'],
      ['participant-leave', leg.sid, '5'],
      ['conference-end', '', '6'],
    ]);
    const end = confEvents(r).at(-1)!;
    expect(end).toMatchObject({ ConferenceSid: conf.sid, FriendlyName: name, ReasonConferenceEnded: 'participant-with-end-conference-on-exit-left', CallSidEndingConference: caller.callSid });
    expect(confEvents(r)[0]).toMatchObject({ StartConferenceOnEnter: 'false', EndConferenceOnExit: 'true', Muted: 'false', Hold: 'false' });
    expect(r.app.hits.every((h) => h.signed)).toBe(true);
    // beep="false": nobody heard a beep.
    expect(conf.log.some((e) => e.event === 'beep')).toBe(false);
    await person.settled();
    expect(legStatus(r).at(-1)).toMatchObject({ CallStatus: 'completed', SequenceNumber: '3' });
  });

  it('default hold music without waitUrl, silence with waitUrl="", and beeps when beep is left on', async () => {
    const r = await setup();
    const twiml = (n: string) => {
      const x = vr();
      x.dial().conference({ startConferenceOnEnter: true }, n);
      return x.toString();
    };
    const a = await callerOnHold(r, 'room', twiml('room'));
    expect(a.events.find((e) => e.kind === 'hold')).toEqual({ kind: 'hold', source: 'default' });
    const b = await r.sim.placeCall({ from: '+15550002222', to: OUR_NUMBER });
    await r.until(() => r.sim.conference('room')?.status === 'in-progress', 'the second caller to start it');
    expect(r.sim.conference('room')!.log.filter((e) => e.event === 'beep')).toMatchObject([{ callSid: b.callSid, on: 'enter' }]);
    await a.hangUp();
    await r.until(() => r.sim.conference('room')!.log.some((e) => e.event === 'beep' && e.on === 'exit'), 'the exit beep');
    // Only b is left: no endConferenceOnExit, so it goes on until the last one leaves.
    expect(r.sim.conference('room')!.status).toBe('in-progress');
    await b.hangUp();
    expect(r.sim.conferencesNamed('room')[0]!.reasonEnded).toBe('last-participant-left');

    const c = await callerOnHold(r, 'quiet', holdTwiml('quiet', ''));
    expect(c.events.find((e) => e.kind === 'hold')).toEqual({ kind: 'hold', source: 'silence' });
    // No callback URLs outside our server are ever fetched.
    expect(r.app.hits.filter((h) => h.path === '/twilio/hold')).toHaveLength(0);
  });

  it('a name is reused after the conference ended: a new conference with a new SID', async () => {
    const r = await setup();
    const first = await callerOnHold(r, 'call-CAx');
    await first.hangUp();
    const second = await callerOnHold(r, 'call-CAx');
    const [c1, c2] = r.sim.conferencesNamed('call-CAx');
    expect(c1!.status).toBe('completed');
    expect(c1!.reasonEnded).toBe('participant-with-end-conference-on-exit-left');
    expect(c2!.sid).not.toBe(c1!.sid);
    expect(c2!.members()).toEqual([second.callSid]);
  });

  it('ends through the REST API: everyone leaves, conference-end says why', async () => {
    const r = await setup();
    const caller = await callerOnHold(r, 'call-CAy');
    const conf = r.sim.conference('call-CAy')!;
    const [listed] = await r.client.conferences.list({ friendlyName: 'call-CAy', status: 'init' });
    expect(listed?.sid).toBe(conf.sid);
    await r.client.conferences(conf.sid).update({ status: 'completed' });
    await r.until(() => caller.ended, 'the caller to leave and hang up (end of TwiML)');
    expect(conf.reasonEnded).toBe('conference-ended-via-api');
    expect(caller.events).toContainEqual({ kind: 'conference_leave', conference: 'call-CAy', reason: 'conference-ended' });
  });
});

describe('Twilio simulator: person legs through the Calls API', () => {
  const cases: { script: PersonScript; statuses: string[]; gather?: Record<string, string> | 'none' }[] = [
    { script: 'decline', statuses: ['initiated', 'ringing', 'in-progress', 'completed'], gather: { Digits: '2' } },
    { script: 'silent', statuses: ['initiated', 'ringing', 'in-progress', 'completed'], gather: {} },
    { script: 'busy', statuses: ['initiated', 'ringing', 'busy'] },
    { script: 'no-answer', statuses: ['initiated', 'ringing', 'no-answer'] },
    { script: 'fail', statuses: ['initiated', 'failed'] },
    { script: 'hangup', statuses: ['initiated', 'ringing', 'in-progress', 'completed'], gather: 'none' },
  ];
  for (const c of cases) {
    it(`${typeof c.script === 'string' ? c.script : 'custom'}: progress ${c.statuses.join(' → ')}`, async () => {
      const r = await setup({ [PERSON]: c.script });
      r.app.twiml['/twilio/staff-leg'] = () => staffLegTwiml();
      r.app.twiml['/twilio/staff-gather'] = () => '<Response><Hangup/></Response>';
      const leg = await ringPerson(r);
      const call = r.sim.call(leg.sid)!;
      await r.until(() => call.ended, 'the leg to end', 60_000);
      await call.settled();
      expect(legStatus(r).map((p) => p.CallStatus)).toEqual(c.statuses);
      const gathers = r.app.hits.filter((h) => h.path === '/twilio/staff-gather');
      if (c.gather === undefined || c.gather === 'none') expect(gathers).toHaveLength(0);
      else {
        expect(gathers).toHaveLength(1);
        // With nothing pressed, actionOnEmptyResult still posts the action, with no Digits at all.
        if (!('Digits' in c.gather)) expect('Digits' in gathers[0]!.params).toBe(false);
        expect(gathers[0]!.params).toMatchObject(c.gather);
      }
    });
  }

  it('no answer takes the ring timeout: 20 s, not Twilio’s default 60', async () => {
    const r = await setup({ [PERSON]: 'no-answer' });
    const leg = await ringPerson(r, PERSON, 20);
    const call = r.sim.call(leg.sid)!;
    await r.clock.advance(19_900);
    expect(call.ended).toBe(false);
    await r.until(() => call.ended, 'the timeout', 1000);
    expect(call.status).toBe('no-answer');
  });

  it('without actionOnEmptyResult a silent gather falls through to the next verb', async () => {
    const r = await setup({ [PERSON]: 'silent' });
    r.app.twiml['/twilio/staff-leg'] = () => {
      const x = vr();
      x.gather({ numDigits: 1, action: `${PUBLIC_URL}/twilio/staff-gather` }).say('Press 1.');
      x.say('Nothing pressed.');
      return x.toString();
    };
    const leg = await ringPerson(r);
    const call = r.sim.call(leg.sid)!;
    await r.until(() => call.ended, 'the leg to end');
    expect(call.says()).toEqual(['Press 1.', 'Nothing pressed.']);
    expect(r.app.hits.some((h) => h.path === '/twilio/staff-gather')).toBe(false);
  });

  it('Status=completed cancels a ringing leg at once (canceled) and hangs up a live one (completed)', async () => {
    const r = await setup({ [PERSON]: 'no-answer', '+15550108888': 'silent' });
    const ringing = await ringPerson(r);
    await r.until(() => r.sim.call(ringing.sid)!.status === 'ringing', 'ringing');
    const updated = await r.client.calls(ringing.sid).update({ status: 'completed' });
    expect(updated.status).toBe('canceled');
    await r.until(() => r.sim.call(ringing.sid)!.ended, 'the cancel');
    expect(r.sim.call(ringing.sid)!.status).toBe('canceled');

    r.app.twiml['/twilio/staff-leg'] = () => '<Response><Pause length="30"/></Response>';
    const live = await ringPerson(r, '+15550108888');
    await r.until(() => r.sim.call(live.sid)!.status === 'in-progress', 'answered');
    await r.client.calls(live.sid).update({ status: 'completed' });
    await r.until(() => r.sim.call(live.sid)!.ended, 'the hang-up');
    expect(r.sim.call(live.sid)!.status).toBe('completed');
  });

  it('refuses what Twilio refuses: unknown calls (20404), redirecting an ended call (21220), TwiML over 4000 characters (32018)', async () => {
    const r = await setup();
    await expect(r.client.calls('CA' + '0'.repeat(32)).update({ twiml: '<Response/>' })).rejects.toMatchObject({ status: 404, code: 20404 });
    const caller = await callerOnHold(r, 'call-CAz');
    await expect(r.client.calls(caller.callSid).update({ twiml: `<Response><Say>${'x'.repeat(4001)}</Say></Response>` })).rejects.toMatchObject({ code: 32018 });
    await caller.hangUp();
    await expect(r.client.calls(caller.callSid).update({ twiml: '<Response/>' })).rejects.toMatchObject({ status: 400, code: 21220 });
  });
});

describe('Twilio simulator: participants API', () => {
  it('a participant created into an existing conference keeps the creator’s callbacks; remove kicks and hangs up the leg', async () => {
    const r = await setup({ [PERSON]: 'accept' });
    const caller = await callerOnHold(r, 'call-CAp');
    const conf = r.sim.conference('call-CAp')!;
    const p = await r.client.conferences('call-CAp').participants.create({
      from: OUR_NUMBER,
      to: PERSON,
      label: 'staff',
      startConferenceOnEnter: true,
      endConferenceOnExit: false,
      beep: 'false',
      timeout: 20,
      statusCallback: `${PUBLIC_URL}/twilio/staff-leg-status?call=p`,
      statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
      conferenceStatusCallback: `${PUBLIC_URL}/twilio/elsewhere`,
      conferenceStatusCallbackEvent: ['start', 'end', 'join', 'leave'],
    });
    expect(p).toMatchObject({ conferenceSid: conf.sid, label: 'staff', status: 'queued' });
    await r.until(() => conf.status === 'in-progress', 'the participant to join and start it');
    expect((await r.client.conferences(conf.sid).participants('staff').fetch()).callSid).toBe(p.callSid);
    expect(await r.client.conferences(conf.sid).participants.list()).toHaveLength(2);

    await r.client.conferences(conf.sid).participants('staff').update({ hold: true });
    expect(conf.participant(p.callSid)?.hold).toBe(true);
    await r.client.conferences(conf.sid).participants(p.callSid).remove();
    const person = r.sim.call(p.callSid)!;
    await r.until(() => person.ended, 'the kicked leg to hang up');
    expect(person.events).toContainEqual({ kind: 'conference_leave', conference: 'call-CAp', reason: 'kicked' });
    // The caller stays: the person had no endConferenceOnExit.
    expect(conf.members()).toEqual([caller.callSid]);
    await conf.settled();
    expect(r.app.hits.some((h) => h.path === '/twilio/elsewhere')).toBe(false);
    expect(confEvents(r).map((e) => e.StatusCallbackEvent)).toEqual(['participant-join', 'participant-join', 'conference-start', 'participant-leave']);
  });

  it('a participant that creates the conference sets its callbacks; it starts only once a second participant joins', async () => {
    const r = await setup({ [PERSON]: 'accept', '+15550109999': 'accept' });
    const conferenceStatusCallback = `${PUBLIC_URL}/twilio/conference-status`;
    const common = { from: OUR_NUMBER, conferenceStatusCallback, conferenceStatusCallbackEvent: ['start', 'join'], timeout: 20 };
    const a = await r.client.conferences('fresh').participants.create({ ...common, to: PERSON });
    await r.until(() => r.sim.conference('fresh')?.has(a.callSid) === true, 'the first participant');
    expect(r.sim.conference('fresh')!.status).toBe('init');
    await r.client.conferences('fresh').participants.create({ ...common, to: '+15550109999' });
    await r.until(() => r.sim.conference('fresh')?.status === 'in-progress', 'the start');
    await r.sim.conference('fresh')!.settled();
    expect(confEvents(r).map((e) => e.StatusCallbackEvent)).toEqual(['participant-join', 'participant-join', 'conference-start']);
  });

  it('a participant that is still ringing can be removed: its leg is cancelled', async () => {
    const r = await setup({ [PERSON]: 'no-answer' });
    await callerOnHold(r, 'call-CAq');
    const p = await r.client.conferences('call-CAq').participants.create({ from: OUR_NUMBER, to: PERSON, label: 'staff', timeout: 20 });
    await r.until(() => r.sim.call(p.callSid)!.status === 'ringing', 'ringing');
    await r.client.conferences('call-CAq').participants('staff').remove();
    await r.until(() => r.sim.call(p.callSid)!.ended, 'the cancel');
    expect(r.sim.call(p.callSid)!.status).toBe('canceled');
  });
});

describe('Twilio simulator: audio forks', () => {
  it('<Start><Stream track="both_tracks"> opens a signed one-way stream with both tracks; <Stop><Stream name> stops it', async () => {
    const r = await setup();
    const start = vr();
    start.start().stream({ name: 'fork-CA1', url: 'wss://voice.test/twilio/fork', track: 'both_tracks' }).parameter({ name: 'token', value: 'tok' });
    start.dial().conference({ beep: 'false' }, 'forked');
    r.app.twiml['/twilio/voice'] = () => start.toString();
    const caller = await r.sim.placeCall({ from: CALLER, to: OUR_NUMBER });
    await r.until(() => r.app.forkSockets[0]?.messages.length === 2, 'connected and start');
    const sock = r.app.forkSockets[0]!;
    expect(sock.signed).toBe(true);
    expect(sock.messages[1]).toMatchObject({
      event: 'start',
      start: { callSid: caller.callSid, tracks: ['inbound', 'outbound'], customParameters: { token: 'tok' } },
    });
    const fork = caller.fork('fork-CA1')!;
    fork.sendAudio('outbound', new Uint8Array(320).fill(0xff));
    fork.sendAudio('inbound', new Uint8Array(160).fill(0xff));
    await r.until(() => sock.messages.length === 5, 'three media frames');
    expect(sock.messages.slice(2).map((m) => [(m.media as { track: string; chunk: string }).track, (m.media as { chunk: string }).chunk])).toEqual([
      ['outbound', '1'],
      ['outbound', '2'],
      ['inbound', '1'],
    ]);
    // A REST update moves the caller but does not stop a <Start> fork.
    const stop = vr();
    stop.stop().stream({ name: 'fork-CA1' });
    stop.pause({ length: 60 });
    await r.client.calls(caller.callSid).update({ twiml: stop.toString() });
    await r.until(() => sock.messages.at(-1)?.event === 'stop', 'the stop message');
    expect(fork.state).toBe('stopped');
  });

  it('the Streams REST resource starts and stops a fork by name; hanging up stops it too', async () => {
    const r = await setup();
    const caller = await callerOnHold(r, 'call-CAf');
    const stream = await r.client.calls(caller.callSid).streams.create({ url: 'wss://voice.test/twilio/fork', name: 'fork-x', track: 'both_tracks', 'parameter1.name': 'token', 'parameter1.value': 't1' });
    expect(stream).toMatchObject({ name: 'fork-x', status: 'in-progress' });
    await r.until(() => r.app.forkSockets[0]?.messages.length === 2, 'the fork to start');
    expect(r.app.forkSockets[0]!.messages[1]).toMatchObject({ start: { customParameters: { token: 't1' } } });
    await r.client.calls(caller.callSid).streams('fork-x').update({ status: 'stopped' });
    await r.until(() => r.app.forkSockets[0]!.messages.at(-1)?.event === 'stop', 'stop');

    await r.client.calls(caller.callSid).streams.create({ url: 'wss://voice.test/twilio/fork', name: 'fork-y' });
    await r.until(() => r.app.forkSockets[1]?.messages.length === 2, 'the second fork');
    expect(r.app.forkSockets[1]!.messages[1]).toMatchObject({ start: { tracks: ['inbound'] } });
    await caller.hangUp();
    await r.until(() => r.app.forkSockets[1]!.messages.at(-1)?.event === 'stop', 'stop on hang-up');
  });
});
