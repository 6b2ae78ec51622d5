import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import twilio from 'twilio';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { mulawWav } from '../core/audio/wav.js';
import {
  DEFAULT_PARTICIPANT,
  SimConference,
  conferenceEventsOf,
  type BeepSetting,
  type ConferenceMember,
  type LeaveReason,
  type ParticipantOptions,
} from './twilio-conference.js';
import { SimFork, type ForkTrack } from './twilio-fork.js';
import { SimRecording, type RecordingInit } from './twilio-recording.js';
import { boolAttr, findNoun, parameters, parseTwiml, textOf, unescapeXml } from './twiml-reader.js';

export { parseTwiml } from './twiml-reader.js';

/**
 * A Twilio simulator speaking the real protocols to a listening server: signs
 * webhooks (getExpectedTwilioSignature over PUBLIC_URL + path), follows the
 * TwiML it gets back (Connect/Stream and its action, Say, Play, Pause, Gather,
 * Dial to a number or a Conference, Start/Stop Stream, Enqueue, Redirect,
 * Hangup), runs the media WebSocket (signed over the wss:// URL), plays received
 * audio at real time on its clock, returns marks when their audio has played,
 * honours `clear`, and posts /twilio/status when the call ends.
 *
 * It also plays the people a warm transfer rings: legs created through the
 * Calls API or the Participants API ring a scripted person (answer and press 1,
 * press 2, busy, no answer, answer and press nothing, hang up), report their
 * progress to `statusCallback`, fetch their TwiML on answer, and sit in
 * conferences (twilio-conference.ts) with hold audio and status callbacks.
 * Audio forks (`<Start><Stream>`) are twilio-fork.ts. With a ManualClock
 * nothing waits on real seconds: `advance` moves time.
 */

export type DialOutcome = 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';
export type CallStatus = 'queued' | 'initiated' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';
export const FINAL_STATUSES: ReadonlySet<CallStatus> = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);

/** How a simulated person treats a leg that rings them. */
export interface PersonBehaviour {
  pickUp: 'answer' | 'busy' | 'no-answer' | 'fail';
  /** Ringing before answering or rejecting (default 2000 ms). */
  ringMs?: number;
  /** Digits pressed at a `<Gather>`; none: the gather times out. */
  press?: string;
  /** Counted from the start of the gather (default 1000 ms). */
  pressAfterMs?: number;
  /** Hangs up this long after answering. */
  hangUpAfterMs?: number;
  /**
   * Who (or what) picks up, as answering-machine detection reports it
   * (default human): human, machine_end_beep, machine_end_silence,
   * machine_end_other, fax, unknown. With MachineDetection=Enable a machine
   * is reported as machine_start.
   */
  answeredBy?: string;
  /** From the answer to the AMD verdict (default 1500 ms for a person, 6000 ms for a machine's greeting and beep). */
  amdAfterMs?: number;
}

/** The scripted people of a warm transfer, by name; or a behaviour of one's own. */
export type PersonScript = 'accept' | 'decline' | 'busy' | 'no-answer' | 'silent' | 'hangup' | 'fail' | 'voicemail' | PersonBehaviour;

export const PERSON_SCRIPTS: Readonly<Record<Exclude<PersonScript, PersonBehaviour>, PersonBehaviour>> = {
  /** Answers, hears the brief, presses 1. */
  accept: { pickUp: 'answer', press: '1' },
  /** Answers, presses 2. */
  decline: { pickUp: 'answer', press: '2' },
  /** Rejects: the carrier reports busy. */
  busy: { pickUp: 'busy' },
  /** Rings until the leg's timeout. */
  'no-answer': { pickUp: 'no-answer' },
  /** Answers and presses nothing (a voicemail box does this). */
  silent: { pickUp: 'answer' },
  /** Answers and hangs up during the brief. */
  hangup: { pickUp: 'answer', hangUpAfterMs: 500 },
  /** The leg cannot be placed (a Twilio error). */
  fail: { pickUp: 'fail' },
  /** An answering machine: its greeting, then the beep. */
  voicemail: { pickUp: 'answer', answeredBy: 'machine_end_beep' },
};

const behaviourOf = (s: PersonScript): PersonBehaviour => (typeof s === 'string' ? PERSON_SCRIPTS[s] : s);

/** Twilio's ring timeout when the Calls or Participants API is given none. */
const DEFAULT_RING_TIMEOUT_S = 60;
const DEFAULT_RING_MS = 2000;
const DEFAULT_PRESS_AFTER_MS = 1000;
const DEFAULT_GATHER_TIMEOUT_S = 5;
const DEFAULT_AMD_HUMAN_MS = 1500;
const DEFAULT_AMD_MACHINE_MS = 6000;

/** Asynchronous (or synchronous) answering-machine detection asked for on a Calls create. */
export interface AmdRequest {
  mode: 'Enable' | 'DetectMessageEnd';
  async: boolean;
  callback?: string;
}

export interface SimulatorOptions {
  /** Where the server listens, e.g. http://127.0.0.1:PORT. */
  serverUrl: string;
  /**
   * Where media WebSockets connect (default `serverUrl`): another server process
   * behind the same load balancer, so a call's webhook and its stream land apart.
   */
  streamServerUrl?: string;
  /** The server's PUBLIC_URL: what Twilio signs. */
  publicUrl: string;
  authToken: string;
  accountSid: string;
  clock?: Clock;
  /** Outcome of every `<Dial>` to a number (default no-answer). */
  dialOutcome?: DialOutcome | ((number: string) => DialOutcome);
  /** How the person at each number or `client:` identity behaves when rung (default no-answer). */
  people?: Record<string, PersonScript> | ((to: string) => PersonScript);
}

export type SimEvent =
  | { kind: 'twiml'; path: string; xml: string }
  | { kind: 'say'; text: string }
  | { kind: 'play'; url: string }
  | { kind: 'dial'; number: string; outcome: DialOutcome }
  | { kind: 'enqueue'; queue: string }
  | { kind: 'stream_open'; streamSid: string }
  | { kind: 'stream_closed'; streamSid: string; code: number; by: 'server' | 'caller' }
  | { kind: 'hangup'; by: 'twiml' | 'caller' | 'rest' | 'end_of_twiml' }
  | { kind: 'status'; status: string; httpStatus: number }
  | { kind: 'call_status'; status: CallStatus }
  | { kind: 'gather'; digits: string; posted: boolean }
  | { kind: 'conference_join'; conference: string; conferenceSid: string }
  | { kind: 'conference_leave'; conference: string; reason: LeaveReason }
  | { kind: 'hold'; source: 'default' | 'silence' | 'url'; url?: string; xml?: string }
  | { kind: 'fork_start'; name: string; streamSid: string }
  | { kind: 'fork_stop'; name: string };

export interface SimCallback {
  url: string;
  params: Record<string, string>;
  /** 0 when the URL is not our server's (nothing is sent off the machine). */
  httpStatus: number;
}

export const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');

/** What the leg does once answered: fetch TwiML, run inline TwiML, or join a conference (Participants API). */
export type OnAnswer =
  | { kind: 'url'; url: string }
  | { kind: 'twiml'; xml: string }
  | { kind: 'conference'; conference: SimConference; options: ParticipantOptions };

export interface OutboundLeg {
  to: string;
  from: string;
  onAnswer: OnAnswer;
  statusCallback?: string;
  statusEvents?: string[];
  timeoutSeconds?: number;
  amd?: AmdRequest;
}

export class TwilioSimulator {
  readonly calls: SimCall[] = [];
  /** Every recording started through the REST API, by RE… SID (deleted ones included, marked). */
  readonly recordings = new Map<string, SimRecording>();
  readonly conferences: SimConference[] = [];
  /** Every status callback posted (call progress, conference, stream), in order. */
  readonly callbacks: SimCallback[] = [];
  readonly clock: Clock;
  private readonly people = new Map<string, PersonScript>();

  constructor(readonly options: SimulatorOptions) {
    this.clock = options.clock ?? systemClock;
  }

  get accountSid(): string {
    return this.options.accountSid;
  }

  sign(path: string, params: Record<string, string>): string {
    return twilio.getExpectedTwilioSignature(this.options.authToken, this.options.publicUrl + path, params);
  }

  /** POSTs a signed form webhook; returns status and body. */
  async post(path: string, params: Record<string, string>, signature?: string | null): Promise<{ status: number; body: string }> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    const sig = signature === undefined ? this.sign(path, params) : signature;
    if (sig !== null) headers['x-twilio-signature'] = sig;
    const res = await fetch(this.options.serverUrl + path, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
    return { status: res.status, body: await res.text() };
  }

  /** The path of a URL on our server, or undefined for anyone else's (never fetched). */
  pathOf(url: string): string | undefined {
    if (url.startsWith(this.options.publicUrl)) return url.slice(this.options.publicUrl.length) || '/';
    return url.startsWith('/') ? url : undefined;
  }

  /** A status callback: posted signed when it is our server's, recorded either way. */
  async callback(url: string, params: Record<string, string>): Promise<void> {
    const path = this.pathOf(url);
    const entry: SimCallback = { url, params, httpStatus: 0 };
    this.callbacks.push(entry);
    if (path === undefined) return;
    try {
      entry.httpStatus = (await this.post(path, params)).status;
    } catch {
      // Twilio does not retry status callbacks; a dead server just misses them.
      entry.httpStatus = -1;
    }
  }

  /** The X-Twilio-Signature of the media WebSocket upgrade (over wss://, no params). */
  streamSignature(): string {
    const url = this.options.publicUrl.replace(/^http/, 'ws') + '/twilio/stream';
    return twilio.getExpectedTwilioSignature(this.options.authToken, url, {});
  }

  /** Opens a raw media socket (for token tests); resolves once open. */
  openSocket(signature: string | null = this.streamSignature()): Promise<WebSocket> {
    const ws = new WebSocket((this.options.streamServerUrl ?? this.options.serverUrl).replace(/^http/, 'ws') + '/twilio/stream', {
      headers: signature === null ? {} : { 'x-twilio-signature': signature },
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
  }

  /** Places an inbound call: POSTs /twilio/voice and follows the TwiML. */
  async placeCall(params: { from: string; to: string; tamperToken?: (token: string) => string }): Promise<SimCall> {
    const call = new SimCall(this, {
      callSid: sid('CA'),
      from: params.from,
      to: params.to,
      direction: 'inbound',
      ...(params.tamperToken ? { tamperToken: params.tamperToken } : {}),
    });
    this.calls.push(call);
    await call.begin();
    return call;
  }

  /** Rings a person (Calls API or Participants API): progress callbacks, then their scripted behaviour. */
  dialOut(leg: OutboundLeg): SimCall {
    const call = new SimCall(this, {
      callSid: sid('CA'),
      from: leg.from,
      to: leg.to,
      direction: 'outbound-api',
      behaviour: behaviourOf(this.personAt(leg.to)),
      ...(leg.statusCallback ? { statusCallback: leg.statusCallback } : {}),
      statusEvents: leg.statusEvents ?? [],
      ...(leg.amd ? { amd: leg.amd } : {}),
    });
    this.calls.push(call);
    call.ring(leg.onAnswer, (leg.timeoutSeconds ?? DEFAULT_RING_TIMEOUT_S) * 1000);
    return call;
  }

  /** Scripts the person at a number or `client:identity`. */
  setPerson(to: string, script: PersonScript): void {
    this.people.set(to, script);
  }

  personAt(to: string): PersonScript {
    const own = this.people.get(to);
    if (own) return own;
    const p = this.options.people;
    if (!p) return 'no-answer';
    return typeof p === 'function' ? p(to) : (p[to] ?? 'no-answer');
  }

  dialOutcome(number: string): DialOutcome {
    const o = this.options.dialOutcome ?? 'no-answer';
    return typeof o === 'function' ? o(number) : o;
  }

  call(callSid: string): SimCall | undefined {
    return this.calls.find((c) => c.callSid === callSid);
  }

  /** The legs that rang `to`, oldest first. */
  legsTo(to: string): SimCall[] {
    return this.calls.filter((c) => c.direction === 'outbound-api' && c.to === to);
  }

  /** The conference with this SID, or the live one with this friendly name. */
  conference(sidOrName: string): SimConference | undefined {
    return (
      this.conferences.find((c) => c.sid === sidOrName) ??
      this.conferences.find((c) => c.friendlyName === sidOrName && c.status !== 'completed')
    );
  }

  /** Every conference ever held under this name, oldest first (a name is reused after an end). */
  conferencesNamed(name: string): SimConference[] {
    return this.conferences.filter((c) => c.friendlyName === name);
  }

  /** The live conference of this name, created (with the creator's callbacks) when there is none. */
  conferenceFor(name: string, statusCallback: string | undefined, statusEvents: string[]): SimConference {
    const live = this.conference(name);
    if (live && live.friendlyName === name) return live;
    const conf = new SimConference(this, sid('CF'), name, statusCallback, conferenceEventsOf(statusEvents));
    this.conferences.push(conf);
    return conf;
  }
}

interface QueuedMark {
  name: string;
  timer: TimerHandle;
}

interface GatherState {
  digits: string;
  numDigits: number;
  finishOnKey: string;
  done: (digits: string | undefined) => void;
}

interface CallInit {
  callSid: string;
  from: string;
  to: string;
  direction: 'inbound' | 'outbound-api';
  tamperToken?: (token: string) => string;
  behaviour?: PersonBehaviour;
  statusCallback?: string;
  statusEvents?: string[];
  amd?: AmdRequest;
}

export const participantOptionsFromTwiml = (attrs: Record<string, string>): ParticipantOptions => ({
  ...(attrs.participantLabel ? { label: attrs.participantLabel } : {}),
  startConferenceOnEnter: boolAttr(attrs.startConferenceOnEnter, DEFAULT_PARTICIPANT.startConferenceOnEnter),
  endConferenceOnExit: boolAttr(attrs.endConferenceOnExit, DEFAULT_PARTICIPANT.endConferenceOnExit),
  beep: (['true', 'false', 'onEnter', 'onExit'].includes(attrs.beep ?? '') ? attrs.beep : 'true') as BeepSetting,
  muted: boolAttr(attrs.muted, false),
  ...(attrs.waitUrl !== undefined ? { waitUrl: attrs.waitUrl } : {}),
});

export class SimCall implements ConferenceMember {
  readonly callSid: string;
  readonly from: string;
  readonly to: string;
  readonly direction: 'inbound' | 'outbound-api';
  readonly events: SimEvent[] = [];
  /** Every outbound stream message as received, parsed. */
  readonly received: Record<string, unknown>[] = [];
  /** Messages that broke the outbound format of docs/protocols.md#media-streams (wrong fields, wrong streamSid, binary). */
  readonly protocolErrors: string[] = [];
  readonly marksReturned: string[] = [];
  readonly audio: Buffer[] = [];
  /** Audio forks started on this call, in order. */
  readonly forks: SimFork[] = [];
  /** Recordings started on this call through the REST API. */
  readonly recordings: SimRecording[] = [];
  /** The AMD verdict once reported. */
  answeredBy: string | undefined;
  audioBytes = 0;
  /** Audio bytes the caller actually heard (cleared audio excluded). */
  heardBytes = 0;
  clears = 0;
  streamSid: string | undefined;
  ended = false;
  status: CallStatus;
  lastToken: string | undefined;
  /** The conference the leg is in, if any. */
  conference: SimConference | undefined;
  private ws: WebSocket | undefined;
  private playEndMs = 0;
  private pendingMarks: QueuedMark[] = [];
  private streamDone: (() => void) | undefined;
  private closedBy: 'server' | 'caller' = 'server';
  private endWaiters: (() => void)[] = [];
  private chain: Promise<void> = Promise.resolve();
  /** Bumped by every REST redirect: TwiML of an older generation stops at its next step. */
  private gen = 0;
  /** Ends the blocking verb in progress (stream, conference, gather) when the call is redirected. */
  private interrupt: (() => void) | undefined;
  private conferenceLeft: ((reason: LeaveReason) => void) | undefined;
  private gatherState: GatherState | undefined;
  private timers: TimerHandle[] = [];
  private readonly tamperToken: ((token: string) => string) | undefined;
  private readonly behaviour: PersonBehaviour | undefined;
  private readonly statusCallback: string | undefined;
  private readonly statusEvents: Set<string>;
  private progressSeq = 0;
  private posting: Promise<void> = Promise.resolve();
  private answeredAtWallMs: number | undefined;
  /** TwiML given by a REST update while the leg was still ringing: it runs on answer. */
  private pendingAnswer: OnAnswer | undefined;
  private readonly amd: AmdRequest | undefined;

  constructor(
    readonly sim: TwilioSimulator,
    init: CallInit,
  ) {
    this.callSid = init.callSid;
    this.from = init.from;
    this.to = init.to;
    this.direction = init.direction;
    this.tamperToken = init.tamperToken;
    this.behaviour = init.behaviour;
    this.statusCallback = init.statusCallback;
    this.statusEvents = new Set(init.statusEvents ?? []);
    this.amd = init.amd;
    this.status = init.direction === 'inbound' ? 'ringing' : 'queued';
  }

  /** A webhook for this call's TwiML or status; a server that is gone answers like an error (Twilio gives up on the call). */
  private async webhook(path: string, params: Record<string, string>): Promise<{ status: number; body: string }> {
    try {
      return await this.sim.post(path, params);
    } catch {
      return { status: 599, body: '' };
    }
  }

  private baseParams(): Record<string, string> {
    return {
      CallSid: this.callSid,
      AccountSid: this.sim.options.accountSid,
      From: this.from,
      To: this.to,
      Direction: this.direction,
      ApiVersion: '2010-04-01',
      CallStatus: this.ended ? 'completed' : this.direction === 'inbound' ? 'in-progress' : this.status,
      // Synchronous detection: Twilio answers the call's URL with the verdict in hand.
      ...(this.amd && !this.amd.async && this.answeredBy ? { AnsweredBy: this.answeredBy } : {}),
    };
  }

  async begin(): Promise<void> {
    const res = await this.webhook('/twilio/voice', { ...this.baseParams(), CallStatus: 'ringing' });
    this.events.push({ kind: 'twiml', path: '/twilio/voice', xml: res.body });
    if (res.status !== 200) {
      this.events.push({ kind: 'hangup', by: 'end_of_twiml' });
      this.finish();
      return;
    }
    this.status = 'in-progress';
    this.chain = this.run(res.body, this.gen);
  }

  /** Resolves when the call has ended (and the status callback was posted). */
  whenEnded(): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((r) => this.endWaiters.push(r));
  }

  /** Everything the TwiML follow-up does, for awaiting in tests. */
  get done(): Promise<void> {
    return this.chain;
  }

  /** Every progress callback of this leg has been answered. */
  settled(): Promise<void> {
    return this.posting;
  }

  says(): string[] {
    return this.events.flatMap((e) => (e.kind === 'say' ? [e.text] : []));
  }

  /** The fork of this name (the newest when a name was reused). */
  fork(name: string): SimFork | undefined {
    return this.forks.filter((f) => f.options.name === name).at(-1);
  }

  private timer(ms: number, fn: () => void): void {
    const handle = this.sim.clock.setTimeout(() => {
      this.timers = this.timers.filter((t) => t !== handle);
      fn();
    }, ms);
    this.timers.push(handle);
  }

  // ---- An outbound leg: ringing, answer, progress callbacks ----

  /** Starts ringing: `initiated` and `ringing` on the next tick, then the person's behaviour. */
  ring(onAnswer: OnAnswer, timeoutMs: number): void {
    const b = this.behaviour ?? PERSON_SCRIPTS['no-answer'];
    this.timer(0, () => {
      if (this.ended) return;
      this.setStatus('initiated');
      this.progress('initiated');
      if (b.pickUp === 'fail') {
        void this.finishUnanswered('failed');
        return;
      }
      this.setStatus('ringing');
      this.progress('ringing');
      const ringMs = b.ringMs ?? DEFAULT_RING_MS;
      if (b.pickUp === 'answer' && ringMs < timeoutMs) this.timer(ringMs, () => this.answer(this.pendingAnswer ?? onAnswer));
      else if (b.pickUp === 'busy' && ringMs < timeoutMs) this.timer(ringMs, () => void this.finishUnanswered('busy'));
      else this.timer(timeoutMs, () => void this.finishUnanswered('no-answer'));
    });
  }

  private setStatus(status: CallStatus): void {
    this.status = status;
    this.events.push({ kind: 'call_status', status });
  }

  /** A call-progress callback (docs/protocols.md#status-callbacks): only the events asked for, `completed` always. */
  private progress(event: 'initiated' | 'ringing' | 'answered' | 'completed'): Promise<void> {
    if (!this.statusCallback || (event !== 'completed' && !this.statusEvents.has(event))) return this.posting;
    const params: Record<string, string> = {
      ...this.baseParams(),
      CallStatus: this.status,
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(this.progressSeq++),
      Timestamp: new Date(this.sim.clock.wallNow()).toUTCString(),
    };
    if (event === 'completed') {
      const answered = this.answeredAtWallMs;
      params.CallDuration = String(answered === undefined ? 0 : Math.round((this.sim.clock.wallNow() - answered) / 1000));
    }
    const url = this.statusCallback;
    this.posting = this.posting.then(() => this.sim.callback(url, params));
    return this.posting;
  }

  private answer(onAnswer: OnAnswer): void {
    if (this.ended) return;
    this.answeredAtWallMs = this.sim.clock.wallNow();
    this.setStatus('in-progress');
    const delivered = this.progress('answered');
    const hangUpAfter = this.behaviour?.hangUpAfterMs;
    if (hangUpAfter !== undefined) this.timer(hangUpAfter, () => void this.hangUp());
    if (this.amd) {
      const { verdict, afterMs } = this.amdVerdict();
      if (this.amd.async) {
        this.timer(afterMs, () => this.reportAmd(verdict, afterMs));
      } else {
        // Synchronous: the verdict comes with the URL request (the detection time is not modelled).
        this.answeredBy = verdict;
      }
    }
    const gen = this.gen;
    switch (onAnswer.kind) {
      case 'url':
        this.chain = delivered.then(() => this.fetchAndRun(onAnswer.url, gen));
        return;
      case 'twiml':
        this.chain = delivered.then(() => this.run(onAnswer.xml, gen));
        return;
      case 'conference':
        this.enterConference(onAnswer.conference, onAnswer.options);
        return;
    }
  }

  /** What detection reports for whoever picked up, and after how long. */
  private amdVerdict(): { verdict: string; afterMs: number } {
    const b = this.behaviour;
    let verdict = b?.answeredBy ?? 'human';
    if (this.amd?.mode === 'Enable' && verdict.startsWith('machine_end_')) verdict = 'machine_start';
    const machine = verdict.startsWith('machine_');
    return { verdict, afterMs: b?.amdAfterMs ?? (machine ? DEFAULT_AMD_MACHINE_MS : DEFAULT_AMD_HUMAN_MS) };
  }

  /** The AsyncAmdStatusCallback (docs/protocols.md#outbound-calls-and-recordings). */
  private reportAmd(verdict: string, afterMs: number): void {
    if (this.ended) return;
    this.answeredBy = verdict;
    const url = this.amd?.callback;
    if (!url) return;
    this.posting = this.posting.then(() =>
      this.sim.callback(url, {
        AccountSid: this.sim.accountSid,
        CallSid: this.callSid,
        AnsweredBy: verdict,
        MachineDetectionDuration: String(afterMs),
      }),
    );
  }

  /** A REST Recordings create on this live call. */
  startRecording(init: Omit<RecordingInit, 'accountSid' | 'callSid' | 'startedWallMs' | 'audioOffset'>): SimRecording {
    const rec = new SimRecording({
      ...init,
      accountSid: this.sim.accountSid,
      callSid: this.callSid,
      startedWallMs: this.sim.clock.wallNow(),
      audioOffset: this.audioBytes,
    });
    this.recordings.push(rec);
    this.sim.recordings.set(rec.sid, rec);
    if (init.statusCallback && init.statusEvents.includes('in-progress')) void this.sim.callback(init.statusCallback, rec.callbackParams());
    return rec;
  }

  /** The call is over: its recordings complete and report. */
  private async completeRecordings(): Promise<void> {
    for (const rec of this.recordings) {
      if (rec.status !== 'in-progress') continue;
      rec.complete(this.audio, this.sim.clock.wallNow());
      const url = rec.init.statusCallback;
      if (url && rec.init.statusEvents.includes('completed')) await this.sim.callback(url, rec.callbackParams());
    }
  }

  private async fetchAndRun(url: string, gen: number): Promise<void> {
    const path = this.sim.pathOf(url);
    if (path === undefined) return this.endOfTwiml();
    const res = await this.webhook(path, this.baseParams());
    this.events.push({ kind: 'twiml', path, xml: res.body });
    if (gen !== this.gen || this.ended) return;
    if (res.status !== 200) return this.complete();
    return this.run(res.body, gen);
  }

  /** Busy, no answer, failed or cancelled: the leg ends without having been answered. */
  private async finishUnanswered(status: 'busy' | 'no-answer' | 'failed' | 'canceled'): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.cancelTimers();
    this.setStatus(status);
    await this.progress('completed');
    this.finish();
  }

  // ---- TwiML ----

  private async run(xml: string, gen: number): Promise<void> {
    for (const verb of parseTwiml(xml)) {
      if (this.ended || gen !== this.gen) return;
      switch (verb.name) {
        case 'Say':
          this.events.push({ kind: 'say', text: unescapeXml(verb.inner) });
          break;
        case 'Play':
          this.events.push({ kind: 'play', url: textOf(verb.inner) });
          break;
        case 'Pause': {
          // A REST redirect or a hang-up cuts a pause short.
          const stop = new AbortController();
          this.interrupt = () => stop.abort();
          await this.sim.clock.sleep(Number(verb.attrs.length ?? '1') * 1000, stop.signal).catch(() => undefined);
          if (this.interrupt) this.interrupt = undefined;
          break;
        }
        case 'Hangup':
          this.events.push({ kind: 'hangup', by: 'twiml' });
          await this.complete();
          return;
        case 'Enqueue':
          this.events.push({ kind: 'enqueue', queue: unescapeXml(verb.inner) });
          await this.complete();
          return;
        case 'Redirect':
          return this.follow(textOf(verb.inner), {}, gen);
        case 'Start': {
          const stream = findNoun(verb.inner, 'Stream');
          if (stream) this.startFork({ ...stream.attrs }, parameters(stream.inner));
          break;
        }
        case 'Stop': {
          const stream = findNoun(verb.inner, 'Stream');
          if (stream?.attrs.name) void this.stopFork(stream.attrs.name);
          break;
        }
        case 'Gather': {
          for (const say of verb.inner.matchAll(/<Say\b[^>]*>([\s\S]*?)<\/Say>/g)) this.events.push({ kind: 'say', text: unescapeXml(say[1]!) });
          const digits = await this.gather(verb.attrs);
          if (digits === undefined || this.ended || gen !== this.gen) return;
          const action = verb.attrs.action;
          const post = action !== undefined && (digits !== '' || boolAttr(verb.attrs.actionOnEmptyResult, false));
          this.events.push({ kind: 'gather', digits, posted: post });
          // With no input, Twilio sends no Digits at all (docs/protocols.md).
          if (post) return this.follow(action, digits === '' ? {} : { Digits: digits, FinishedOnKey: '' }, gen);
          break;
        }
        case 'Dial': {
          const conference = findNoun(verb.inner, 'Conference');
          if (conference) {
            const reason = await this.dialConference(textOf(conference.inner), conference.attrs);
            if (this.ended || gen !== this.gen || reason === 'redirect') return;
            if (verb.attrs.action) return this.follow(verb.attrs.action, { DialCallStatus: 'completed' }, gen);
            break;
          }
          const number = textOf(verb.inner);
          const outcome = this.sim.dialOutcome(number);
          this.events.push({ kind: 'dial', number, outcome });
          if (verb.attrs.action) return this.follow(verb.attrs.action, { DialCallStatus: outcome, DialCallSid: sid('CA') }, gen);
          if (outcome === 'completed') {
            await this.complete();
            return;
          }
          break;
        }
        case 'Connect': {
          const stream = findNoun(verb.inner, 'Stream');
          if (stream) await this.runStream(parameters(stream.inner));
          if (this.ended || gen !== this.gen) return;
          if (verb.attrs.action) return this.follow(verb.attrs.action, {}, gen);
          break;
        }
        default:
          break;
      }
    }
    if (!this.ended && gen === this.gen) await this.endOfTwiml();
  }

  private async endOfTwiml(): Promise<void> {
    this.events.push({ kind: 'hangup', by: 'end_of_twiml' });
    await this.complete();
  }

  private async follow(actionUrl: string, extra: Record<string, string>, gen: number): Promise<void> {
    const path = this.sim.pathOf(actionUrl) ?? actionUrl;
    const res = await this.webhook(path, { ...this.baseParams(), ...extra });
    this.events.push({ kind: 'twiml', path, xml: res.body });
    if (this.ended || gen !== this.gen) return;
    if (res.status !== 200) {
      await this.complete();
      return;
    }
    return this.run(res.body, gen);
  }

  /** Collects digits until numDigits, finishOnKey or the timeout; undefined when the call moved on. */
  private gather(attrs: Record<string, string>): Promise<string | undefined> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (digits: string | undefined) => {
        if (settled) return;
        settled = true;
        this.gatherState = undefined;
        this.interrupt = undefined;
        resolve(digits);
      };
      this.gatherState = {
        digits: '',
        numDigits: attrs.numDigits ? Number(attrs.numDigits) : Infinity,
        finishOnKey: attrs.finishOnKey ?? '#',
        done,
      };
      this.interrupt = () => done(undefined);
      // The timeout counts from the start of the gather (the prompt's length is not modelled).
      const timeoutS = attrs.timeout ? Number(attrs.timeout) : DEFAULT_GATHER_TIMEOUT_S;
      this.timer(timeoutS * 1000, () => done(this.gatherState?.digits ?? ''));
      const press = this.behaviour?.press;
      if (press) this.timer(this.behaviour?.pressAfterMs ?? DEFAULT_PRESS_AFTER_MS, () => this.pressDigits(press));
    });
  }

  // ---- Conferences ----

  private dialConference(name: string, attrs: Record<string, string>): Promise<LeaveReason> {
    const conf = this.sim.conferenceFor(name, attrs.statusCallback, (attrs.statusCallbackEvent ?? '').split(/\s+/).filter(Boolean));
    return new Promise<LeaveReason>((resolve) => {
      this.conferenceLeft = resolve;
      this.interrupt = () => conf.leave(this.callSid, 'redirect');
      this.enterConference(conf, participantOptionsFromTwiml(attrs));
    });
  }

  private enterConference(conf: SimConference, options: ParticipantOptions): void {
    this.conference = conf;
    this.events.push({ kind: 'conference_join', conference: conf.friendlyName, conferenceSid: conf.sid });
    conf.join(this, options);
  }

  /** ConferenceMember: out of the conference; a `<Dial>` returns, a Participants-API leg hangs up. */
  leftConference(reason: LeaveReason): void {
    const conf = this.conference;
    this.conference = undefined;
    if (conf) this.events.push({ kind: 'conference_leave', conference: conf.friendlyName, reason });
    const resolve = this.conferenceLeft;
    this.conferenceLeft = undefined;
    this.interrupt = undefined;
    if (resolve) resolve(reason);
    else if (reason === 'kicked' || reason === 'conference-ended') void this.complete();
  }

  /** ConferenceMember: waiting for the conference to start, the leg hears its wait audio. */
  hearHold(waitUrl: string | undefined): void {
    if (waitUrl === undefined) {
      this.events.push({ kind: 'hold', source: 'default' });
      return;
    }
    if (waitUrl === '') {
      this.events.push({ kind: 'hold', source: 'silence' });
      return;
    }
    const event: SimEvent & { kind: 'hold' } = { kind: 'hold', source: 'url', url: waitUrl };
    this.events.push(event);
    const path = this.sim.pathOf(waitUrl);
    // Fetched once; Twilio loops the wait TwiML, which changes nothing a test can see.
    if (path !== undefined) void this.sim.post(path, this.baseParams()).then((r) => (event.xml = r.body), () => undefined);
  }

  // ---- Forks ----

  startFork(attrs: Record<string, string>, params: Record<string, string>): SimFork {
    const fork = new SimFork(
      {
        accountSid: this.sim.accountSid,
        serverUrl: this.sim.options.serverUrl,
        publicUrl: this.sim.options.publicUrl,
        authToken: this.sim.options.authToken,
        callback: (url, p) => this.sim.callback(url, p),
        wallNow: () => this.sim.clock.wallNow(),
      },
      this.callSid,
      {
        name: attrs.name ?? '',
        url: attrs.url ?? '',
        track: (attrs.track ?? 'inbound_track') as ForkTrack,
        parameters: params,
        ...(attrs.statusCallback ? { statusCallback: attrs.statusCallback } : {}),
      },
    );
    this.forks.push(fork);
    this.events.push({ kind: 'fork_start', name: fork.options.name, streamSid: fork.streamSid });
    return fork;
  }

  /** Stops a fork by name or StreamSid; false when there is no such running fork. */
  async stopFork(nameOrSid: string): Promise<boolean> {
    const fork = this.forks.find(
      (f) => (f.options.name === nameOrSid || f.streamSid === nameOrSid) && (f.state === 'open' || f.state === 'connecting'),
    );
    if (!fork) return false;
    this.events.push({ kind: 'fork_stop', name: fork.options.name });
    await fork.stop();
    return true;
  }

  // ---- The bidirectional media stream ----

  private runStream(params: Record<string, string>): Promise<void> {
    return new Promise<void>((resolve) => {
      this.streamDone = resolve;
      const streamSid = sid('MZ');
      this.streamSid = streamSid;
      this.playEndMs = this.sim.clock.now();
      const token = params.token !== undefined && this.tamperToken ? this.tamperToken(params.token) : params.token;
      this.lastToken = token;
      this.interrupt = () => this.stopStream();
      this.sim.openSocket().then(
        (ws) => {
          this.ws = ws;
          this.closedBy = 'server';
          this.events.push({ kind: 'stream_open', streamSid });
          ws.on('message', (data, isBinary) => this.onServerMessage(data as Buffer, isBinary));
          ws.on('close', (code) => {
            this.events.push({ kind: 'stream_closed', streamSid, code, by: this.closedBy });
            this.ws = undefined;
            this.interrupt = undefined;
            // Pending marks never come back once the stream is gone.
            for (const m of this.pendingMarks) m.timer.cancel();
            this.pendingMarks = [];
            this.streamDone?.();
          });
          ws.on('error', () => {});
          ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
          ws.send(
            JSON.stringify({
              event: 'start',
              sequenceNumber: '1',
              streamSid,
              start: {
                streamSid,
                accountSid: this.sim.options.accountSid,
                callSid: this.callSid,
                tracks: ['inbound'],
                customParameters: token === undefined ? {} : { token },
                mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
              },
            }),
          );
        },
        () => {
          this.events.push({ kind: 'stream_closed', streamSid, code: 0, by: 'server' });
          this.interrupt = undefined;
          resolve();
        },
      );
    });
  }

  /** Twilio ends the stream (a REST update or a hang-up): `stop`, then close. */
  private stopStream(): void {
    if (!this.ws) return;
    this.closedBy = 'caller';
    this.send({ event: 'stop', sequenceNumber: String(this.seq++), streamSid: this.streamSid, stop: { accountSid: this.sim.options.accountSid, callSid: this.callSid } });
    this.ws.close(1000);
  }

  private seq = 2;

  private onServerMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      this.protocolErrors.push('binary frame');
      return;
    }
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      this.protocolErrors.push('not json');
      return;
    }
    this.received.push(msg);
    const keys = Object.keys(msg).sort().join(',');
    if (msg.streamSid !== this.streamSid) this.protocolErrors.push(`wrong streamSid in ${String(msg.event)}`);
    const now = this.sim.clock.now();
    switch (msg.event) {
      case 'media': {
        const media = msg.media as Record<string, unknown>;
        if (keys !== 'event,media,streamSid' || Object.keys(media).join(',') !== 'payload') this.protocolErrors.push(`media fields ${keys}`);
        const bytes = Buffer.from(String(media.payload), 'base64');
        if (bytes.length % 160 !== 0) this.protocolErrors.push(`media of ${bytes.length} bytes`);
        this.audio.push(bytes);
        this.audioBytes += bytes.length;
        this.playEndMs = Math.max(this.playEndMs, now) + bytes.length / 8;
        this.heardBytes += bytes.length;
        return;
      }
      case 'mark': {
        const name = String((msg.mark as Record<string, unknown>).name);
        if (keys !== 'event,mark,streamSid') this.protocolErrors.push(`mark fields ${keys}`);
        const due = Math.max(0, this.playEndMs - now);
        const entry: QueuedMark = {
          name,
          timer: this.sim.clock.setTimeout(() => {
            this.pendingMarks = this.pendingMarks.filter((m) => m !== entry);
            this.returnMark(name);
          }, due),
        };
        this.pendingMarks.push(entry);
        return;
      }
      case 'clear': {
        if (keys !== 'event,streamSid') this.protocolErrors.push(`clear fields ${keys}`);
        this.clears++;
        // Unplayed audio is dropped; its marks come back at once.
        const unplayedMs = Math.max(0, this.playEndMs - now);
        this.heardBytes -= Math.round(unplayedMs * 8);
        this.playEndMs = now;
        const marks = this.pendingMarks;
        this.pendingMarks = [];
        for (const m of marks) {
          m.timer.cancel();
          this.returnMark(m.name);
        }
        return;
      }
      default:
        this.protocolErrors.push(`unknown event ${String(msg.event)}`);
    }
  }

  private returnMark(name: string): void {
    this.marksReturned.push(name);
    this.send({ event: 'mark', sequenceNumber: String(this.seq++), streamSid: this.streamSid, mark: { name } });
  }

  /** Sends a message on the live stream (no-op when none). */
  send(message: unknown): void {
    this.sendRaw(JSON.stringify(message));
  }

  sendRaw(data: string | Buffer, options: { binary?: boolean } = {}): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(data, { binary: options.binary ?? false });
  }

  /** A key press: input to a running `<Gather>`, else a `dtmf` message on the stream. */
  pressDigit(digit: string): void {
    const g = this.gatherState;
    if (g) {
      if (digit === g.finishOnKey && g.finishOnKey !== '') return g.done(g.digits);
      g.digits += digit;
      if (g.digits.length >= g.numDigits) g.done(g.digits);
      return;
    }
    this.send({ event: 'dtmf', sequenceNumber: String(this.seq++), streamSid: this.streamSid, dtmf: { track: 'inbound_track', digit } });
  }

  pressDigits(digits: string): void {
    for (const d of digits) this.pressDigit(d);
  }

  /** Caller audio: 160-byte μ-law frames (20 ms each). */
  sendAudio(mulaw: Uint8Array, startTimestampMs = 0): void {
    for (let i = 0, chunk = 1; i < mulaw.length; i += 160, chunk++) {
      const payload = Buffer.from(mulaw.subarray(i, i + 160)).toString('base64');
      this.send({
        event: 'media',
        sequenceNumber: String(this.seq++),
        streamSid: this.streamSid,
        media: { track: 'inbound', chunk: String(chunk), timestamp: String(startTimestampMs + (i / 160) * 20), payload },
      });
    }
  }

  /**
   * The caller (or the person on an outbound leg) hangs up: `stop` on a live
   * stream, out of any conference, then the final status callback. A person
   * who rejects a ringing leg makes it `busy`.
   */
  async hangUp(): Promise<void> {
    if (this.ended) return;
    if (this.direction === 'outbound-api' && this.status !== 'in-progress') return this.finishUnanswered('busy');
    this.events.push({ kind: 'hangup', by: 'caller' });
    if (this.ws) this.stopStream();
    await this.complete();
  }

  /** A REST update replaced the call's TwiML: whatever blocks (stream, conference, gather) ends and the new TwiML runs. */
  redirect(twimlXml: string): void {
    this.replace({ kind: 'twiml', xml: twimlXml });
  }

  /** A REST update with a `Url`: the TwiML is fetched from it, then runs. */
  redirectToUrl(url: string): void {
    this.replace({ kind: 'url', url });
  }

  private replace(next: { kind: 'twiml'; xml: string } | { kind: 'url'; url: string }): void {
    if (this.ended) return;
    if (this.direction === 'outbound-api' && this.status !== 'in-progress') {
      // Still ringing: the new instructions run once the person answers.
      this.pendingAnswer = next;
      return;
    }
    const gen = ++this.gen;
    const interrupt = this.interrupt;
    this.interrupt = undefined;
    interrupt?.();
    this.chain = this.chain.then(() => (next.kind === 'twiml' ? this.run(next.xml, gen) : this.fetchAndRun(next.url, gen)));
  }

  /** REST `Status=completed` (or `canceled`): a ringing leg is cancelled, a live one hung up. */
  async restHangup(): Promise<void> {
    if (this.ended) return;
    if (this.direction === 'outbound-api' && this.status !== 'in-progress') return this.finishUnanswered('canceled');
    this.events.push({ kind: 'hangup', by: 'rest' });
    if (this.ws) {
      this.closedBy = 'caller';
      this.ws.close(1000);
    }
    await this.complete();
  }

  /** The received audio as a μ-law WAV file. */
  wav(): Uint8Array {
    return mulawWav(this.audio);
  }

  private cancelTimers(): void {
    for (const t of this.timers) t.cancel();
    this.timers = [];
  }

  private async complete(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.cancelTimers();
    this.gatherState?.done(undefined);
    const interrupt = this.interrupt;
    this.interrupt = undefined;
    if (!this.conference && !this.ws) interrupt?.();
    this.conference?.leave(this.callSid, 'hangup');
    await Promise.all(this.forks.map((f) => f.stop()));
    if (this.direction === 'inbound') {
      this.status = 'completed';
      const res = await this.webhook('/twilio/status', { ...this.baseParams(), CallStatus: 'completed', CallDuration: '1' });
      this.events.push({ kind: 'status', status: 'completed', httpStatus: res.status });
    } else {
      this.setStatus('completed');
      await this.progress('completed');
    }
    await this.completeRecordings();
    this.finish();
  }

  private finish(): void {
    this.ended = true;
    for (const w of this.endWaiters.splice(0)) w();
  }
}
