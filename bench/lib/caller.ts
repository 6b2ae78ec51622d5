import WebSocket from 'ws';
import twilio from 'twilio';
import type { BenchFakes, SttObserver } from './fakes.js';
import { monoMs, taggedFrame } from './fakes.js';
import { TurnJoiner, taggedUtterance, type TurnHops, type TurnStamps } from './hops.js';

/**
 * One simulated Twilio call, kept lean so a single generator core can carry
 * hundreds: media frames are pre-built strings (only the sequence number,
 * chunk and timestamp are spliced in), inbound messages are recognised by
 * their first bytes and only marks are parsed. It follows the real protocol:
 * signed webhook → TwiML → signed media WebSocket → `connected`/`start` →
 * 20 ms frames → marks returned when their audio has played → `clear` honoured
 * → `stop` and the status callback at hang-up.
 *
 * What the caller does: waits for the agent to finish, presses 2 (a keypad
 * turn, `keypadTurns` times), then presses 1 and talks (spoken turns, every
 * `bargeInEvery`-th one cutting the agent off), until `callSeconds` are up.
 * While the server cannot listen (no Deepgram connection for the call), it
 * keeps taking keypad turns.
 */

export const FRAME_MS = 20;
const FRAME_BYTES = 160;
const SILENCE_B64 = Buffer.alloc(FRAME_BYTES, 0xff).toString('base64');
/** At most this many frames per visit: a late tick catches up without a burst. */
const MAX_CATCH_UP_FRAMES = 10;
/** A caller's pause before pressing a key or speaking once the agent is quiet. */
const THINK_MS = 600;
/** How far into the agent's reply a barge-in starts. */
const BARGE_IN_AFTER_MS = 400;
/** A barge-in that got no `clear` within this long is counted as missed. */
const CLEAR_WAIT_MS = 3000;
/** A clear that arrived before the fakes reported the Results behind it waits this long for that report. */
const RESULTS_REPORT_WAIT_MS = 500;
/** Audio arriving this late after the previous frame finished playing is an audible gap. */
const UNDERRUN_TOLERANCE_MS = 5;
const WORD_MS = 300;

/** `{tag}` becomes "order <call id>": the fakes tie the turn's LLM and TTS requests to the call by it. */
export const UTTERANCE = 'I would like to check on {tag} please.';
export const BARGE_IN = 'Wait, actually I have another question about {tag}.';

export interface CallEnv {
  serverUrl: string;
  publicUrl: string;
  authToken: string;
  accountSid: string;
  to: string;
  callSeconds: number;
  keypadTurns: number;
  bargeInEvery: number;
  sttFinalMs: number;
  fakes: BenchFakes;
  sink: CallSink;
}

export interface CallSink {
  greeting(ms: number): void;
  keypadResponse(ms: number): void;
  clear(ms: number): void;
  /**
   * From the caller starting to talk over the agent to the `clear` (`ms`), and
   * to the moment the agent's audio stopped playing at the caller (`heardMs`):
   * the clear, or earlier when the server stopped sending new audio and what
   * the caller already had ran out before the clear came.
   */
  interrupt(ms: number, heardMs: number): void;
  /** Our share of a spoken turn, timed from outside (hops.ts), and the call it belongs to. */
  outsideTurn(hops: TurnHops, callSid: string): void;
  bargeInMissed(): void;
  underrun(gapMs: number): void;
  spokenTurn(): void;
  error(kind: string): void;
  ended(call: BenchCall): void;
}

const sign = (token: string, url: string, params: Record<string, string>) => twilio.getExpectedTwilioSignature(token, url, params);

let nextId = 1;

type Phase = 'dialing' | 'streaming' | 'ended';
type Mode = 'keypad' | 'talk';

export class BenchCall implements SttObserver {
  readonly id = nextId++;
  readonly callSid = 'CA' + this.id.toString(16).padStart(32, '0');
  readonly streamSid = 'MZ' + this.id.toString(16).padStart(32, '0');
  phase: Phase = 'dialing';
  /** Which of the pacing slots visits this call. */
  readonly slot: number;
  private ws: WebSocket | undefined;
  private streamStartMs = 0;
  private framesSent = 0;
  private seq = 1;
  private readonly mediaMid: string;
  private readonly mediaEnd = '","payload":"' + SILENCE_B64 + '"},"streamSid":"';
  private readonly mediaTail: string;
  private readonly markHead: string;
  private startSentAt = 0;
  private gotFirstMedia = false;
  // Playout model of Twilio's buffer.
  private playEndMs = 0;
  private lastWasMedia = false;
  private readonly pendingMarks: { name: string; timer: NodeJS.Timeout }[] = [];
  // The caller's script.
  private mode: Mode = 'keypad';
  private keypadTurns = 0;
  private spokenTurns = 0;
  private awaitingReply: 'dtmf' | 'speech' | undefined;
  private sentInputAt = 0;
  private agentSpeaking = false;
  private mediaSinceIdle = 0;
  private nextAction: NodeJS.Timeout | undefined;
  /** Re-checks for the end of playout when a mark's timer found audio still playing. */
  private idleRecheck: NodeJS.Timeout | undefined;
  private hangupTimer: NodeJS.Timeout | undefined;
  private bargeIn: { startedAt: number; satisfiedAt?: number; clearedAt?: number; timer?: NodeJS.Timeout } | undefined;
  private bargeInPlanned = false;
  private ending = false;
  private readonly joiner: TurnJoiner;

  constructor(
    private readonly env: CallEnv,
    slots: number,
  ) {
    this.slot = this.id % slots;
    this.mediaMid = '","media":{"track":"inbound","chunk":"';
    this.mediaTail = this.streamSid + '"}';
    this.markHead = `{"event":"mark","streamSid":"${this.streamSid}","sequenceNumber":"`;
    this.joiner = new TurnJoiner((hops) => env.sink.outsideTurn(hops, this.callSid));
  }

  private params(status: string): Record<string, string> {
    return {
      CallSid: this.callSid,
      AccountSid: this.env.accountSid,
      From: '+15550002' + String(this.id % 1000).padStart(3, '0'),
      To: this.env.to,
      Direction: 'inbound',
      ApiVersion: '2010-04-01',
      CallStatus: status,
    };
  }

  private async post(path: string, params: Record<string, string>): Promise<string> {
    const res = await fetch(this.env.serverUrl + path, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': sign(this.env.authToken, this.env.publicUrl + path, params),
      },
      body: new URLSearchParams(params).toString(),
    });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
    return body;
  }

  /** Places the call; resolves once the media stream is open (or the call failed). */
  async dial(): Promise<void> {
    let xml: string;
    try {
      xml = await this.post('/twilio/voice', this.params('ringing'));
    } catch {
      this.env.sink.error('webhook');
      return this.finish();
    }
    const token = /<Parameter name="token" value="([^"]+)"/.exec(xml)?.[1];
    const url = /<Stream url="([^"]+)"/.exec(xml)?.[1];
    if (!token || !url) {
      this.env.sink.error('twiml');
      return this.finish();
    }
    if (this.phase === 'ended') return;
    const ws = new WebSocket(this.env.serverUrl.replace(/^http/, 'ws') + '/twilio/stream', {
      headers: { 'x-twilio-signature': sign(this.env.authToken, url, {}) },
      perMessageDeflate: false,
      // The server sends ASCII JSON; validating each message as UTF-8 is work the load generator can skip.
      skipUTF8Validation: true,
    });
    this.ws = ws;
    ws.on('message', (data: Buffer) => this.onMessage(data));
    ws.on('error', () => {});
    ws.on('close', () => this.onClosed());
    await new Promise<void>((resolve) => {
      ws.once('open', () => {
        ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}');
        ws.send(
          JSON.stringify({
            event: 'start',
            sequenceNumber: String(this.seq++),
            start: {
              accountSid: this.env.accountSid,
              streamSid: this.streamSid,
              callSid: this.callSid,
              tracks: ['inbound'],
              mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
              customParameters: { token },
            },
            streamSid: this.streamSid,
          }),
        );
        const now = performance.now();
        this.startSentAt = now;
        this.streamStartMs = now;
        this.playEndMs = now;
        this.phase = 'streaming';
        // The tagged first frame ties the server's Deepgram connection to this call.
        this.sendFrame(taggedFrame(this.id).toString('base64'));
        this.env.fakes.watch(this.id, this);
        this.hangupTimer = setTimeout(() => void this.hangUp(), this.env.callSeconds * 1000);
        resolve();
      });
      ws.once('close', () => resolve());
    });
  }

  /** Sends the caller audio due by `nowMs` (called by the generator's shared pacing tick). */
  pump(nowMs: number): void {
    if (this.phase !== 'streaming') return;
    const due = Math.floor((nowMs - this.streamStartMs) / FRAME_MS) + 1;
    for (let n = 0; this.framesSent < due && n < MAX_CATCH_UP_FRAMES; n++) this.sendFrame();
  }

  private sendFrame(payloadB64?: string): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const chunk = ++this.framesSent;
    const msg =
      '{"event":"media","sequenceNumber":"' +
      this.seq++ +
      this.mediaMid +
      chunk +
      '","timestamp":"' +
      (chunk - 1) * FRAME_MS +
      (payloadB64 === undefined ? this.mediaEnd : '","payload":"' + payloadB64 + '"},"streamSid":"') +
      this.mediaTail;
    ws.send(msg);
  }

  private sendControl(body: string): void {
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(body);
  }

  // ── what the server sends ────────────────────────────────────────────────

  private onMessage(data: Buffer): void {
    const now = performance.now();
    // {"event":"media"… / {"event":"mark"… / {"event":"clear"…: the 11th and 12th bytes tell them apart.
    const c = data[10];
    if (c === 0x6d /* m */ && data[11] === 0x65 /* e */) return this.onMedia(data, now);
    if (c === 0x6d && data[11] === 0x61 /* a */) return this.onMark(data, now);
    if (c === 0x63 /* c */) return this.onClear(now);
    this.env.sink.error('unknown_outbound');
  }

  private onMedia(data: Buffer, now: number): void {
    // Payload length from the message length: …"payload":"<b64>"}} — no decode needed.
    const start = data.indexOf('"payload":"') + 11;
    const end = data.lastIndexOf(0x22 /* " */);
    const b64 = end - start;
    const bytes = (b64 * 3) / 4 - (data[end - 1] === 0x3d ? (data[end - 2] === 0x3d ? 2 : 1) : 0);
    if (!this.gotFirstMedia) {
      this.gotFirstMedia = true;
      this.env.sink.greeting(now - this.startSentAt);
    }
    if (this.lastWasMedia && now > this.playEndMs + UNDERRUN_TOLERANCE_MS) this.env.sink.underrun(now - this.playEndMs);
    this.lastWasMedia = true;
    this.playEndMs = Math.max(this.playEndMs, now) + bytes / 8;
    this.mediaSinceIdle++;
    if (!this.agentSpeaking) {
      this.agentSpeaking = true;
      this.onAgentStarted(now);
    }
  }

  private onMark(data: Buffer, now: number): void {
    const msg = JSON.parse(data.toString('utf8')) as { mark?: { name?: string } };
    const name = msg.mark?.name ?? '';
    this.lastWasMedia = false;
    const entry = {
      name,
      timer: setTimeout(() => {
        const i = this.pendingMarks.indexOf(entry);
        if (i >= 0) this.pendingMarks.splice(i, 1);
        this.returnMark(name);
        if (this.pendingMarks.length === 0) this.onAgentIdle();
      }, Math.max(0, this.playEndMs - now)),
    };
    this.pendingMarks.push(entry);
  }

  private onClear(now: number): void {
    const audioEndMs = this.playEndMs;
    this.lastWasMedia = false;
    this.playEndMs = now;
    for (const m of this.pendingMarks.splice(0)) {
      clearTimeout(m.timer);
      this.returnMark(m.name);
    }
    const b = this.bargeIn;
    if (b && b.clearedAt === undefined) {
      this.env.sink.interrupt(now - b.startedAt, Math.max(0, Math.min(now, audioEndMs) - b.startedAt));
      clearTimeout(b.timer);
      if (b.satisfiedAt !== undefined) {
        this.bargeIn = undefined;
        this.env.sink.clear(now - b.satisfiedAt);
      } else {
        // The fakes' report of the Results (IPC) can arrive after the clear it caused: wait for it briefly.
        b.clearedAt = now;
        b.timer = setTimeout(() => {
          if (this.bargeIn !== b) return;
          this.bargeIn = undefined;
          this.env.sink.error('clear_before_barge_in_rule');
        }, RESULTS_REPORT_WAIT_MS);
      }
    }
    this.agentSpeaking = false;
  }

  private returnMark(name: string): void {
    this.sendControl(this.markHead + this.seq++ + '","mark":{"name":' + JSON.stringify(name) + '}}');
  }

  /** Deepgram (fake) sent a Results message for this call. */
  onSttResults(wordCount: number, _isFinal: boolean, atMs: number): void {
    const b = this.bargeIn;
    // The barge-in rule: ≥ 2 words that are not all backchannel (the utterance has none).
    if (!b || b.satisfiedAt !== undefined || wordCount < 2) return;
    b.satisfiedAt = atMs;
    if (b.clearedAt !== undefined) {
      clearTimeout(b.timer);
      this.bargeIn = undefined;
      this.env.sink.clear(b.clearedAt - atMs);
    }
  }

  /** The fakes' stamps of this call's latest spoken turn. */
  onTurnStamps(stamps: TurnStamps): void {
    this.joiner.fakes(stamps);
  }

  // ── the caller's script ──────────────────────────────────────────────────

  /** The server listens (it opened Deepgram for this call, or for any call so far). */
  private get canTalk(): boolean {
    return this.env.fakes.hasStt(this.id) || this.env.fakes.sttSeen;
  }

  private onAgentStarted(now: number): void {
    if (this.awaitingReply) {
      const ms = now - this.sentInputAt;
      if (this.awaitingReply === 'dtmf') this.env.sink.keypadResponse(ms);
      else this.joiner.media(monoMs());
      this.awaitingReply = undefined;
    }
    if (this.bargeInPlanned && this.mode === 'talk') {
      this.bargeInPlanned = false;
      this.schedule(BARGE_IN_AFTER_MS, () => this.startBargeIn());
    }
  }

  private onAgentIdle(): void {
    clearTimeout(this.idleRecheck);
    const leftMs = this.playEndMs - performance.now();
    if (leftMs > 1) {
      // Audio is still playing: more came after this mark, or the mark's timer fired early (Node runs
      // timers on the event loop's cached whole-millisecond clock, behind performance.now() when the
      // loop is busy). Look again when it ends: giving up here left the caller silent for good, and the
      // server ended the call for silence.
      this.idleRecheck = setTimeout(() => {
        if (this.pendingMarks.length === 0) this.onAgentIdle();
      }, Math.ceil(leftMs));
      return;
    }
    this.agentSpeaking = false;
    this.mediaSinceIdle = 0;
    // Quiet for a moment (a reply's next sentence may still be coming), then act.
    this.schedule(THINK_MS, () => {
      if (this.mediaSinceIdle > 0 || this.pendingMarks.length > 0) return;
      this.act();
    });
  }

  private act(): void {
    if (this.phase !== 'streaming' || this.ending) return;
    if (this.mode === 'keypad') {
      if (this.keypadTurns >= this.env.keypadTurns && this.canTalk) {
        this.pressDigit('1');
        this.mode = 'talk';
        // The conversation waits for the caller: no agent audio comes first.
        this.schedule(THINK_MS, () => this.speak(false));
        return;
      }
      this.keypadTurns++;
      this.pressDigit('2');
      this.awaitingReply = 'dtmf';
      this.sentInputAt = performance.now();
      return;
    }
    this.speak(false);
  }

  private speak(isBargeIn: boolean, tries = 0): void {
    if (this.phase !== 'streaming' || this.ending) return;
    if (!this.env.fakes.hasStt(this.id)) {
      // Deepgram may open a moment after the conversation starts listening.
      if (tries < 25) this.schedule(200, () => this.speak(isBargeIn, tries + 1));
      else this.env.sink.error('no_stt_connection');
      return;
    }
    this.spokenTurns++;
    this.env.sink.spokenTurn();
    const text = taggedUtterance(isBargeIn ? BARGE_IN : UTTERANCE, this.id);
    this.joiner.reset();
    this.env.fakes.say(this.id, text, { wordMs: WORD_MS, endpointAfterMs: this.env.sttFinalMs, interim: true });
    this.awaitingReply = 'speech';
    if (this.env.bargeInEvery > 0 && (this.spokenTurns + 1) % this.env.bargeInEvery === 0) this.bargeInPlanned = true;
  }

  private startBargeIn(): void {
    if (!this.agentSpeaking || this.phase !== 'streaming') return;
    this.bargeIn = { startedAt: performance.now() };
    this.bargeIn.timer = setTimeout(() => {
      if (!this.bargeIn) return;
      this.bargeIn = undefined;
      this.env.sink.bargeInMissed();
    }, CLEAR_WAIT_MS);
    this.speak(true);
  }

  private pressDigit(digit: string): void {
    this.sendControl(
      `{"event":"dtmf","streamSid":"${this.streamSid}","sequenceNumber":"${this.seq++}","dtmf":{"track":"inbound_track","digit":"${digit}"}}`,
    );
  }

  private schedule(ms: number, fn: () => void): void {
    clearTimeout(this.nextAction);
    this.nextAction = setTimeout(fn, ms);
  }

  // ── the end ──────────────────────────────────────────────────────────────

  /** The caller hangs up: `stop`, close, then the final status callback. */
  async hangUp(): Promise<void> {
    if (this.phase === 'ended' || this.ending) return;
    this.ending = true;
    this.sendControl(
      `{"event":"stop","sequenceNumber":"${this.seq++}","stop":{"accountSid":"${this.env.accountSid}","callSid":"${this.callSid}"},"streamSid":"${this.streamSid}"}`,
    );
    this.ws?.close(1000);
    await this.complete();
  }

  private onClosed(): void {
    if (this.phase === 'ended') return;
    if (!this.ending) {
      // The server ended the stream before the caller hung up: follow the Connect action like Twilio.
      this.ending = true;
      this.env.sink.error('server_closed_stream');
      void this.post('/twilio/stream-ended', this.params('in-progress'))
        .catch(() => this.env.sink.error('stream_ended'))
        .then(() => this.complete());
    }
    this.stopTimers();
  }

  private async complete(): Promise<void> {
    try {
      await this.post('/twilio/status', { ...this.params('completed'), CallDuration: String(this.env.callSeconds) });
    } catch {
      this.env.sink.error('status_callback');
    }
    this.finish();
  }

  private stopTimers(): void {
    clearTimeout(this.nextAction);
    clearTimeout(this.idleRecheck);
    clearTimeout(this.hangupTimer);
    if (this.bargeIn) clearTimeout(this.bargeIn.timer);
    for (const m of this.pendingMarks.splice(0)) clearTimeout(m.timer);
  }

  private finish(): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    this.stopTimers();
    this.env.fakes.forget(this.id);
    this.env.sink.ended(this);
  }
}
