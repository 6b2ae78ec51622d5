import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import twilio from 'twilio';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { mulawWav } from '../core/audio/wav.js';

/**
 * A Twilio simulator speaking the real protocols to a listening server: signs
 * webhooks (getExpectedTwilioSignature over PUBLIC_URL + path), follows the
 * TwiML it gets back (Connect/Stream and its action, Say, Dial and its action,
 * Enqueue, Hangup), runs the media WebSocket (signed over the wss:// URL),
 * plays received audio at real time on its clock, returns marks when their
 * audio has played, honours `clear`, and posts /twilio/status when the call
 * ends. With a ManualClock nothing waits on real seconds: `advance` moves time.
 */

export type DialOutcome = 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';

export interface SimulatorOptions {
  /** Where the server listens, e.g. http://127.0.0.1:PORT. */
  serverUrl: string;
  /** The server's PUBLIC_URL: what Twilio signs. */
  publicUrl: string;
  authToken: string;
  accountSid: string;
  clock?: Clock;
  /** Outcome of every `<Dial>` (default no-answer). */
  dialOutcome?: DialOutcome | ((number: string) => DialOutcome);
}

export type SimEvent =
  | { kind: 'twiml'; path: string; xml: string }
  | { kind: 'say'; text: string }
  | { kind: 'dial'; number: string; outcome: DialOutcome }
  | { kind: 'enqueue'; queue: string }
  | { kind: 'stream_open'; streamSid: string }
  | { kind: 'stream_closed'; streamSid: string; code: number; by: 'server' | 'caller' }
  | { kind: 'hangup'; by: 'twiml' | 'caller' | 'rest' | 'end_of_twiml' }
  | { kind: 'status'; status: string; httpStatus: number };

interface Verb {
  name: string;
  attrs: Record<string, string>;
  inner: string;
}

const VERB = /<(Connect|Say|Dial|Hangup|Enqueue|Redirect|Pause)\b([^>]*?)(?:\/>|>([\s\S]*?)<\/\1>)/g;
const ATTR = /([A-Za-z]+)="([^"]*)"/g;

const unescapeXml = (s: string) =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

export function parseTwiml(xml: string): Verb[] {
  const verbs: Verb[] = [];
  for (const m of xml.matchAll(VERB)) {
    const attrs: Record<string, string> = {};
    for (const a of (m[2] ?? '').matchAll(ATTR)) attrs[a[1]!] = unescapeXml(a[2]!);
    verbs.push({ name: m[1]!, attrs, inner: m[3] ?? '' });
  }
  return verbs;
}

export const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');

export class TwilioSimulator {
  readonly calls: SimCall[] = [];
  readonly clock: Clock;

  constructor(readonly options: SimulatorOptions) {
    this.clock = options.clock ?? systemClock;
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

  /** The X-Twilio-Signature of the media WebSocket upgrade (over wss://, no params). */
  streamSignature(): string {
    const url = this.options.publicUrl.replace(/^http/, 'ws') + '/twilio/stream';
    return twilio.getExpectedTwilioSignature(this.options.authToken, url, {});
  }

  /** Opens a raw media socket (for token tests); resolves once open. */
  openSocket(signature: string | null = this.streamSignature()): Promise<WebSocket> {
    const ws = new WebSocket(this.options.serverUrl.replace(/^http/, 'ws') + '/twilio/stream', {
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
    const call = new SimCall(this, sid('CA'), params.from, params.to, params.tamperToken);
    this.calls.push(call);
    await call.begin();
    return call;
  }

  dialOutcome(number: string): DialOutcome {
    const o = this.options.dialOutcome ?? 'no-answer';
    return typeof o === 'function' ? o(number) : o;
  }

  call(callSid: string): SimCall | undefined {
    return this.calls.find((c) => c.callSid === callSid);
  }
}

interface QueuedMark {
  name: string;
  timer: TimerHandle;
}

export class SimCall {
  readonly events: SimEvent[] = [];
  /** Every outbound stream message as received, parsed. */
  readonly received: Record<string, unknown>[] = [];
  /** Messages that broke PROTOCOLS §1.4 (wrong fields, wrong streamSid, binary). */
  readonly protocolErrors: string[] = [];
  readonly marksReturned: string[] = [];
  readonly audio: Buffer[] = [];
  audioBytes = 0;
  /** Audio bytes the caller actually heard (cleared audio excluded). */
  heardBytes = 0;
  clears = 0;
  streamSid: string | undefined;
  ended = false;
  lastToken: string | undefined;
  private ws: WebSocket | undefined;
  private playEndMs = 0;
  private pendingMarks: QueuedMark[] = [];
  private streamDone: (() => void) | undefined;
  private closedBy: 'server' | 'caller' = 'server';
  private endWaiters: (() => void)[] = [];
  private chain: Promise<void> = Promise.resolve();
  private redirected: string | undefined;

  constructor(
    readonly sim: TwilioSimulator,
    readonly callSid: string,
    readonly from: string,
    readonly to: string,
    private readonly tamperToken?: (token: string) => string,
  ) {}

  private baseParams(): Record<string, string> {
    return {
      CallSid: this.callSid,
      AccountSid: this.sim.options.accountSid,
      From: this.from,
      To: this.to,
      Direction: 'inbound',
      ApiVersion: '2010-04-01',
      CallStatus: this.ended ? 'completed' : 'in-progress',
    };
  }

  async begin(): Promise<void> {
    const res = await this.sim.post('/twilio/voice', { ...this.baseParams(), CallStatus: 'ringing' });
    this.events.push({ kind: 'twiml', path: '/twilio/voice', xml: res.body });
    if (res.status !== 200) {
      this.events.push({ kind: 'hangup', by: 'end_of_twiml' });
      this.finish();
      return;
    }
    this.chain = this.run(res.body);
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

  says(): string[] {
    return this.events.flatMap((e) => (e.kind === 'say' ? [e.text] : []));
  }

  private async run(xml: string): Promise<void> {
    for (const verb of parseTwiml(xml)) {
      if (this.ended) return;
      switch (verb.name) {
        case 'Say':
          this.events.push({ kind: 'say', text: unescapeXml(verb.inner) });
          break;
        case 'Hangup':
          this.events.push({ kind: 'hangup', by: 'twiml' });
          await this.complete();
          return;
        case 'Enqueue':
          this.events.push({ kind: 'enqueue', queue: unescapeXml(verb.inner) });
          await this.complete();
          return;
        case 'Dial': {
          const number = unescapeXml(verb.inner.replace(/<[^>]+>/g, '').trim());
          const outcome = this.sim.dialOutcome(number);
          this.events.push({ kind: 'dial', number, outcome });
          if (verb.attrs.action) return this.follow(verb.attrs.action, { DialCallStatus: outcome, DialCallSid: sid('CA') });
          if (outcome === 'completed') {
            await this.complete();
            return;
          }
          break;
        }
        case 'Connect': {
          const stream = /<Stream\b([^>]*)>/.exec(verb.inner);
          const params: Record<string, string> = {};
          for (const p of verb.inner.matchAll(/<Parameter name="([^"]*)" value="([^"]*)"\/>/g)) params[unescapeXml(p[1]!)] = unescapeXml(p[2]!);
          if (stream) await this.runStream(params);
          if (this.ended) return;
          if (this.redirected !== undefined) {
            const next = this.redirected;
            this.redirected = undefined;
            return this.run(next);
          }
          if (verb.attrs.action) return this.follow(verb.attrs.action, {});
          break;
        }
        default:
          break;
      }
    }
    if (!this.ended) {
      this.events.push({ kind: 'hangup', by: 'end_of_twiml' });
      await this.complete();
    }
  }

  private async follow(actionUrl: string, extra: Record<string, string>): Promise<void> {
    const path = actionUrl.startsWith(this.sim.options.publicUrl) ? actionUrl.slice(this.sim.options.publicUrl.length) : actionUrl;
    const res = await this.sim.post(path, { ...this.baseParams(), ...extra });
    this.events.push({ kind: 'twiml', path, xml: res.body });
    if (res.status !== 200) {
      await this.complete();
      return;
    }
    return this.run(res.body);
  }

  private runStream(params: Record<string, string>): Promise<void> {
    return new Promise<void>((resolve) => {
      this.streamDone = resolve;
      const streamSid = sid('MZ');
      this.streamSid = streamSid;
      this.playEndMs = this.sim.clock.now();
      const token = params.token !== undefined && this.tamperToken ? this.tamperToken(params.token) : params.token;
      this.lastToken = token;
      this.sim.openSocket().then(
        (ws) => {
          this.ws = ws;
          this.closedBy = 'server';
          this.events.push({ kind: 'stream_open', streamSid });
          ws.on('message', (data, isBinary) => this.onServerMessage(data as Buffer, isBinary));
          ws.on('close', (code) => {
            this.events.push({ kind: 'stream_closed', streamSid, code, by: this.closedBy });
            this.ws = undefined;
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
          resolve();
        },
      );
    });
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

  pressDigit(digit: string): void {
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

  /** The caller hangs up: `stop`, socket closed, then the final status callback. */
  async hangUp(): Promise<void> {
    if (this.ended) return;
    this.events.push({ kind: 'hangup', by: 'caller' });
    if (this.ws) {
      this.closedBy = 'caller';
      this.send({ event: 'stop', sequenceNumber: String(this.seq++), streamSid: this.streamSid, stop: { accountSid: this.sim.options.accountSid, callSid: this.callSid } });
      this.ws.close(1000);
    }
    await this.complete();
  }

  /** A REST update replaced the call's TwiML: the stream stops and the new TwiML runs. */
  redirect(twimlXml: string): void {
    this.redirected = twimlXml;
    if (this.ws) {
      this.closedBy = 'caller';
      this.send({ event: 'stop', sequenceNumber: String(this.seq++), streamSid: this.streamSid, stop: { accountSid: this.sim.options.accountSid, callSid: this.callSid } });
      this.ws.close(1000);
    } else {
      this.chain = this.chain.then(() => this.run(twimlXml));
    }
  }

  /** REST `Status=completed`. */
  async restHangup(): Promise<void> {
    this.events.push({ kind: 'hangup', by: 'rest' });
    this.ws?.close(1000);
    await this.complete();
  }

  /** The received audio as a μ-law WAV file. */
  wav(): Uint8Array {
    return mulawWav(this.audio);
  }

  private async complete(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    const res = await this.sim.post('/twilio/status', { ...this.baseParams(), CallStatus: 'completed', CallDuration: '1' });
    this.events.push({ kind: 'status', status: 'completed', httpStatus: res.status });
    this.finish();
  }

  private finish(): void {
    this.ended = true;
    for (const w of this.endWaiters.splice(0)) w();
  }
}
