import type { Clock } from '../core/clock.js';
import { DEFAULT_FRAME_BYTES, Reframer, assertFrameBytes } from '../core/audio/frames.js';
import { MULAW_BYTES_PER_MS } from '../core/audio/mulaw.js';
import type { Pacer, PacedTarget } from './pacer.js';

/**
 * Outbound playout of one call (docs/architecture.md#playout-and-pacing, docs/architecture.md#what-was-heard).
 *
 * `PlayoutState` is a pure state machine fed `(event, nowMs)`: audio segments go
 * in as they stream, fixed-size media frames come out when they are due against
 * a monotonic clock, each segment followed by one mark `<turn>:<segment>`.
 * Pacing keeps at most `maxLeadMs` of audio queued at Twilio beyond what has
 * played, so a `clear` discards little; it sends what is due at `nowMs` and
 * never counts timer ticks, so a late tick only sends more at once.
 *
 * `CallPlayout` is the thin driver: it owns the clock, the sink (the Twilio
 * serializer) and the registration with the process-wide pacer, and turns the
 * machine's events into promises (`whenSegmentDone`, `whenIdle`).
 */

/** Media can be up to this far ahead of the caller's ear; small enough that a `clear` discards little (docs/architecture.md#playout-and-pacing). */
export const DEFAULT_MAX_LEAD_MS = 300;

export type OutboundMessage =
  | { kind: 'media'; payload: Uint8Array }
  | { kind: 'mark'; name: string }
  | { kind: 'clear' };

export type TurnId = string | number;

export interface SegmentSpec {
  turn: TurnId;
  /** Position in the turn (0, 1, …); `turn` and `segment` make the mark name. */
  segment: number;
  /** Original text, before pronunciations: what history and heard text show. */
  text: string;
  /** Caller speech may cut it off (default true). */
  interruptible?: boolean;
}

export type PlayoutEvent =
  /** The segment's first media frame was handed to the sink (metrics: `responseMs`). */
  | { type: 'segment_started'; name: string; turn: TurnId; segment: number; atMs: number }
  /** Its mark came back: the caller heard all of it. */
  | { type: 'segment_played'; name: string; turn: TurnId; segment: number; atMs: number }
  /** Dropped or cut by a `clear`. */
  | { type: 'segment_cleared'; name: string; turn: TurnId; segment: number; atMs: number }
  /** A frame went out after its playout time although it was ready in time (the pacer was late). */
  | { type: 'underrun'; name: string; lateMs: number; atMs: number }
  /** Everything queued has played (the last mark returned). */
  | { type: 'idle'; atMs: number };

export interface Step {
  readonly messages: readonly OutboundMessage[];
  readonly events: readonly PlayoutEvent[];
}

/**
 * What most pulls return: the pacer visits every call each 20 ms, and with
 * 100 ms frames four visits in five have nothing to send. Shared, so such a
 * visit allocates nothing.
 */
const NOTHING_DUE: Step = Object.freeze({ messages: Object.freeze([]), events: Object.freeze([]) });

export interface TurnHeard {
  turn: TurnId;
  heardText: string;
  /** Some of the turn's audio was not heard. */
  interrupted: boolean;
}

export interface HeardReport {
  /** All tracked turns joined; ends in "…" when cut off mid-segment. */
  heardText: string;
  interrupted: boolean;
  turns: TurnHeard[];
}

export interface PlayoutStats {
  framesSent: number;
  mediaBytesSent: number;
  marksSent: number;
  marksReturned: number;
  /** Marks that came back after a `clear` (for discarded audio) or were unknown. */
  marksIgnored: number;
  underruns: number;
  underrunMs: number;
  clears: number;
  maxLeadMs: number;
}

/**
 * Underruns of every call of a process, added up as they happen (one object
 * per process, like the pacer); /metrics reads it when scraped.
 */
export interface PlayoutTotals {
  underruns: number;
  underrunMs: number;
}

export const newPlayoutTotals = (): PlayoutTotals => ({ underruns: 0, underrunMs: 0 });

export interface PlayoutOptions {
  /** Bytes per media message (default 800 = 100 ms); a positive multiple of 160. */
  frameBytes?: number;
  maxLeadMs?: number;
}

type SegmentState = 'pending' | 'awaiting_mark' | 'played' | 'cleared';

interface QueuedFrame {
  bytes: Uint8Array;
  readyAtMs: number;
}

interface Segment {
  name: string;
  turn: TurnId;
  segment: number;
  text: string;
  interruptible: boolean;
  state: SegmentState;
  reframer: Reframer;
  frames: QueuedFrame[];
  /** Audio bytes received (before padding): the duration used for heard text. */
  audioBytes: number;
  /** Media bytes handed to the sink (after padding). */
  sentBytes: number;
  ended: boolean;
  firstFrameSentAtMs?: number;
  /** Estimated moment the caller started hearing it. */
  startedAtMs?: number;
}

/** Enough to cover every segment a caller could still be awaiting; bounded so long calls don't grow. */
const RETIRED_PLAYED_LIMIT = 256;

export function markName(turn: TurnId, segment: number): string {
  return `${turn}:${segment}`;
}

export class PlayoutState {
  readonly frameBytes: number;
  readonly maxLeadMs: number;
  /** Segments whose mark is not yet sent, in play order; the head is the one being sent. */
  private sendQueue: Segment[] = [];
  /** Segments whose mark was sent and has not returned, in play order. */
  private awaiting: Segment[] = [];
  private byName = new Map<string, Segment>();
  /** Segments per turn, played ones included, for heard text. */
  private turns = new Map<TurnId, Segment[]>();
  private latestTurn: TurnId | undefined;
  /** Marks of audio discarded by a `clear`: Twilio still returns them; they mean nothing. */
  private clearedMarks = new Set<string>();
  /** Recently forgotten played segments, so a late `whenSegmentDone` still answers 'played'. */
  private retiredPlayed = new Set<string>();
  /** When everything sent so far will have played; undefined when Twilio's queue is empty. */
  private playoutEndMs: number | undefined;
  /** Sending is held (fast interrupt): nothing goes out until `resume` or `clear`. */
  private holding = false;
  private readonly counters: PlayoutStats = {
    framesSent: 0,
    mediaBytesSent: 0,
    marksSent: 0,
    marksReturned: 0,
    marksIgnored: 0,
    underruns: 0,
    underrunMs: 0,
    clears: 0,
    maxLeadMs: 0,
  };

  constructor(options: PlayoutOptions = {}) {
    this.frameBytes = options.frameBytes ?? DEFAULT_FRAME_BYTES;
    assertFrameBytes(this.frameBytes);
    this.maxLeadMs = options.maxLeadMs ?? DEFAULT_MAX_LEAD_MS;
    const frameMs = this.frameBytes / MULAW_BYTES_PER_MS;
    if (!(this.maxLeadMs >= frameMs)) {
      throw new RangeError(`maxLeadMs (${this.maxLeadMs}) must be at least one frame (${frameMs} ms)`);
    }
  }

  /**
   * Opens a segment; segments play in the order they are opened, and audio for a
   * later one may arrive while an earlier one still streams. Returns the mark name.
   */
  openSegment(spec: SegmentSpec): string {
    const name = markName(spec.turn, spec.segment);
    if (this.byName.has(name) || this.clearedMarks.has(name)) {
      throw new Error(`playout segment ${name} already exists`);
    }
    if (spec.turn !== this.latestTurn) {
      this.pruneFinishedTurns();
      this.latestTurn = spec.turn;
    }
    const seg: Segment = {
      name,
      turn: spec.turn,
      segment: spec.segment,
      text: spec.text,
      interruptible: spec.interruptible ?? true,
      state: 'pending',
      reframer: new Reframer({ frameBytes: this.frameBytes }),
      frames: [],
      audioBytes: 0,
      sentBytes: 0,
      ended: false,
    };
    this.byName.set(name, seg);
    this.sendQueue.push(seg);
    const list = this.turns.get(spec.turn);
    if (list) list.push(seg);
    else this.turns.set(spec.turn, [seg]);
    return name;
  }

  /** Adds streamed audio. Returns false (and drops it) when a `clear` already discarded the segment. */
  pushAudio(name: string, bytes: Uint8Array, nowMs: number): boolean {
    const seg = this.segmentFor(name);
    if (seg.state === 'cleared') return false;
    if (seg.ended) throw new Error(`playout segment ${name} already ended`);
    seg.audioBytes += bytes.length;
    for (const frame of seg.reframer.push(bytes)) seg.frames.push({ bytes: frame, readyAtMs: nowMs });
    return true;
  }

  /** No more audio for the segment: its tail is padded and its mark follows its last frame. */
  endSegment(name: string, nowMs: number): void {
    const seg = this.segmentFor(name);
    if (seg.state === 'cleared' || seg.ended) return;
    seg.ended = true;
    const last = seg.reframer.flush();
    if (last) seg.frames.push({ bytes: last, readyAtMs: nowMs });
  }

  /** Sends whatever is due at `nowMs`: frames while the lead stays ≤ maxLeadMs, and marks. */
  pull(nowMs: number): Step {
    if (this.holding) return NOTHING_DUE;
    // Allocated on the first message or event only (see NOTHING_DUE).
    let messages: OutboundMessage[] | undefined;
    let events: PlayoutEvent[] | undefined;
    for (;;) {
      const seg = this.sendQueue[0];
      if (!seg) break;
      const frame = seg.frames[0];
      if (frame) {
        const frameMs = frame.bytes.length / MULAW_BYTES_PER_MS;
        const startMs = this.playoutEndMs === undefined ? nowMs : Math.max(nowMs, this.playoutEndMs);
        if (startMs - nowMs + frameMs > this.maxLeadMs) break;
        if (this.playoutEndMs !== undefined && nowMs > this.playoutEndMs && frame.readyAtMs <= this.playoutEndMs) {
          const lateMs = nowMs - this.playoutEndMs;
          this.counters.underruns++;
          this.counters.underrunMs += lateMs;
          (events ??= []).push({ type: 'underrun', name: seg.name, lateMs, atMs: nowMs });
        }
        seg.frames.shift();
        this.playoutEndMs = startMs + frameMs;
        this.counters.maxLeadMs = Math.max(this.counters.maxLeadMs, this.playoutEndMs - nowMs);
        if (seg.firstFrameSentAtMs === undefined) {
          seg.firstFrameSentAtMs = nowMs;
          seg.startedAtMs = startMs;
          (events ??= []).push({ type: 'segment_started', name: seg.name, turn: seg.turn, segment: seg.segment, atMs: nowMs });
        }
        seg.sentBytes += frame.bytes.length;
        this.counters.framesSent++;
        this.counters.mediaBytesSent += frame.bytes.length;
        (messages ??= []).push({ kind: 'media', payload: frame.bytes });
        continue;
      }
      if (!seg.ended) break;
      this.sendQueue.shift();
      seg.state = 'awaiting_mark';
      this.awaiting.push(seg);
      this.counters.marksSent++;
      (messages ??= []).push({ kind: 'mark', name: seg.name });
    }
    return messages || events ? { messages: messages ?? [], events: events ?? [] } : NOTHING_DUE;
  }

  /** Twilio echoed a mark: that segment (and any before it) has played. */
  markReturned(name: string, nowMs: number): PlayoutEvent[] {
    if (this.clearedMarks.delete(name)) {
      this.counters.marksIgnored++;
      return [];
    }
    const index = this.awaiting.findIndex((s) => s.name === name);
    if (index < 0) {
      this.counters.marksIgnored++;
      return [];
    }
    const events: PlayoutEvent[] = [];
    // Twilio plays in order, so an earlier mark can't still be outstanding.
    for (const seg of this.awaiting.splice(0, index + 1)) {
      seg.state = 'played';
      this.counters.marksReturned++;
      events.push({ type: 'segment_played', name: seg.name, turn: seg.turn, segment: seg.segment, atMs: nowMs });
    }
    // The mark tells where playback really is: the next segment, if already sent,
    // started now, and the rest of what was sent ends no earlier than now + its length.
    const next = this.awaiting[0] ?? this.sendQueue[0];
    if (next?.firstFrameSentAtMs !== undefined) next.startedAtMs = nowMs;
    let remainingBytes = 0;
    for (const s of this.awaiting) remainingBytes += s.sentBytes;
    for (const s of this.sendQueue) remainingBytes += s.sentBytes;
    const remainingMs = remainingBytes / MULAW_BYTES_PER_MS;
    if (remainingMs > 0 && this.playoutEndMs !== undefined) {
      this.playoutEndMs = Math.max(this.playoutEndMs, nowMs + remainingMs);
    }
    if (this.idle) {
      this.playoutEndMs = undefined;
      events.push({ type: 'idle', atMs: nowMs });
    }
    return events;
  }

  /**
   * Fast interrupt: the caller may be taking the floor, so no new frame goes
   * out; what Twilio already holds (at most the lead) still plays.
   */
  hold(): void {
    this.holding = true;
  }

  /**
   * The interruption was not one: sending goes on from the next unsent frame.
   * If Twilio's buffer ran dry meanwhile, that silence was ours on purpose: it
   * is not an underrun, and the playing segment's start moves by it so what
   * was heard stays in proportion to what actually played.
   */
  resume(nowMs: number): void {
    if (!this.holding) return;
    this.holding = false;
    if (this.playoutEndMs !== undefined && nowMs > this.playoutEndMs) {
      const gapMs = nowMs - this.playoutEndMs;
      const head = this.sendQueue[0];
      if (head?.startedAtMs !== undefined) head.startedAtMs += gapMs;
      this.playoutEndMs = undefined;
    }
  }

  get held(): boolean {
    return this.holding;
  }

  /**
   * Barge-in: a `clear` message first (control before data), then every queued or
   * unplayed segment is dropped; their marks, when Twilio returns them, are
   * ignored. Returns what the caller heard of the tracked turns.
   */
  clear(nowMs: number): Step & { heard: HeardReport } {
    const heard = this.heard(nowMs);
    const events: PlayoutEvent[] = [];
    for (const seg of [...this.awaiting, ...this.sendQueue]) {
      if (seg.state === 'awaiting_mark') this.clearedMarks.add(seg.name);
      seg.state = 'cleared';
      seg.frames = [];
      seg.reframer.reset();
      events.push({ type: 'segment_cleared', name: seg.name, turn: seg.turn, segment: seg.segment, atMs: nowMs });
    }
    this.awaiting = [];
    this.sendQueue = [];
    this.turns.clear();
    for (const [name, seg] of this.byName) if (seg.state === 'played') this.retire(name);
    this.playoutEndMs = undefined;
    this.holding = false;
    this.counters.clears++;
    return { messages: [{ kind: 'clear' }], events, heard };
  }

  /**
   * What the caller heard of the tracked turns at `nowMs` (docs/architecture.md#what-was-heard): every
   * segment whose mark returned, plus the leading words of the playing one in
   * proportion to elapsed ms ÷ (bytes ÷ 8), cut at a whole word, ending in "…".
   */
  heard(nowMs: number): HeardReport {
    const turns: TurnHeard[] = [];
    for (const [turn, segs] of this.turns) turns.push(heardOfTurn(turn, segs, nowMs));
    const texts = turns.map((t) => t.heardText).filter((t) => t !== '');
    return { heardText: texts.join(' '), interrupted: turns.some((t) => t.interrupted), turns };
  }

  /** Nothing queued and no mark outstanding. */
  get idle(): boolean {
    return this.sendQueue.length === 0 && this.awaiting.length === 0;
  }

  /** Some segment still has frames or a mark to send (the pacer need not visit otherwise). */
  get hasPendingSend(): boolean {
    return this.sendQueue.length > 0;
  }

  /** Agent audio not yet heard that caller speech may interrupt (barge-in gate). */
  get hasUnplayedInterruptibleAudio(): boolean {
    for (const s of this.awaiting) if (s.interruptible) return true;
    for (const s of this.sendQueue) if (s.interruptible) return true;
    return false;
  }

  get hasUnplayedAudio(): boolean {
    return !this.idle;
  }

  /** Audio queued at Twilio beyond `nowMs`, by our estimate. */
  leadMs(nowMs: number): number {
    return this.playoutEndMs === undefined ? 0 : Math.max(0, this.playoutEndMs - nowMs);
  }

  segmentState(name: string): SegmentState | undefined {
    const state = this.byName.get(name)?.state;
    if (state) return state;
    if (this.clearedMarks.has(name)) return 'cleared';
    return this.retiredPlayed.has(name) ? 'played' : undefined;
  }

  stats(): PlayoutStats {
    return { ...this.counters };
  }

  private segmentFor(name: string): Segment {
    const seg = this.byName.get(name);
    if (!seg) throw new Error(`unknown playout segment ${name}`);
    return seg;
  }

  private retire(name: string): void {
    this.byName.delete(name);
    this.retiredPlayed.add(name);
    if (this.retiredPlayed.size > RETIRED_PLAYED_LIMIT) {
      this.retiredPlayed.delete(this.retiredPlayed.values().next().value!);
    }
  }

  /** Turns whose audio all played are no longer needed for heard text. */
  private pruneFinishedTurns(): void {
    for (const [turn, segs] of this.turns) {
      if (segs.every((s) => s.state === 'played')) {
        this.turns.delete(turn);
        for (const s of segs) this.retire(s.name);
      }
    }
  }
}

function heardOfTurn(turn: TurnId, segs: Segment[], nowMs: number): TurnHeard {
  const parts: string[] = [];
  let interrupted = false;
  let cutMidSegment = false;
  for (const seg of segs) {
    if (seg.state === 'played') {
      parts.push(seg.text.trim());
      continue;
    }
    interrupted = true;
    if (seg.startedAtMs !== undefined && seg.audioBytes > 0 && nowMs > seg.startedAtMs) {
      const fraction = (nowMs - seg.startedAtMs) / (seg.audioBytes / MULAW_BYTES_PER_MS);
      if (fraction >= 1) {
        // Played by our estimate; its mark is still on the way.
        parts.push(seg.text.trim());
      } else {
        parts.push(leadingWords(seg.text, fraction));
        cutMidSegment = true;
      }
    } else {
      cutMidSegment = parts.length > 0;
    }
    break;
  }
  let heardText = parts.filter((p) => p !== '').join(' ');
  if (cutMidSegment && heardText !== '') heardText += '…';
  return { turn, heardText, interrupted };
}

/**
 * The leading part of `text` in proportion `fraction` (by characters, a proxy for
 * speaking time), cut back to a whole word; trailing separators are dropped so
 * "…" can follow. Empty when not even the first word was finished.
 */
export function leadingWords(text: string, fraction: number): string {
  const trimmed = text.trim();
  if (fraction >= 1) return trimmed;
  if (!(fraction > 0)) return '';
  const n = Math.floor(trimmed.length * fraction);
  let prefix = trimmed.slice(0, n);
  const nextChar = trimmed[n];
  if (nextChar !== undefined && !/\s/.test(nextChar)) {
    const lastSpace = prefix.search(/\s\S*$/);
    prefix = lastSpace < 0 ? '' : prefix.slice(0, lastSpace);
  }
  return prefix.replace(/[\s,;:–—-]+$/u, '');
}

export type SegmentOutcome = 'played' | 'cleared' | 'closed';

export interface CallPlayoutOptions extends PlayoutOptions {
  clock: Clock;
  /** Receives every outbound message in order; the Twilio serializer turns them into JSON. */
  sink: (message: OutboundMessage) => void;
  /** The process-wide pacer; without one, call `pace()` yourself. */
  pacer?: Pacer;
}

export type PlayoutListener = (event: PlayoutEvent) => void;

/**
 * Driver for one call: feeds the state machine with `clock.now()`, forwards its
 * messages to the sink, and is paced by the shared process timer only while it
 * has something to send.
 */
export class CallPlayout implements PacedTarget {
  readonly state: PlayoutState;
  private readonly clock: Clock;
  private readonly sink: (message: OutboundMessage) => void;
  private readonly pacer: Pacer | undefined;
  private unregister: (() => void) | undefined;
  private listeners = new Set<PlayoutListener>();
  private segmentWaiters = new Map<string, ((outcome: SegmentOutcome) => void)[]>();
  private idleWaiters: (() => void)[] = [];
  private closed = false;

  constructor(options: CallPlayoutOptions) {
    this.state = new PlayoutState(options);
    this.clock = options.clock;
    this.sink = options.sink;
    this.pacer = options.pacer;
  }

  /** Opens a segment (see `PlayoutState.openSegment`); returns its mark name. */
  openSegment(spec: SegmentSpec): string {
    this.assertOpen();
    const name = this.state.openSegment(spec);
    this.ensurePaced();
    return name;
  }

  /** Streams audio into a segment and sends what is already due. False if a clear dropped it. */
  pushAudio(name: string, bytes: Uint8Array): boolean {
    if (this.closed) return false;
    // One clock read for both (a real clock's read costs a few hundred instructions, once per TTS chunk).
    const nowMs = this.clock.now();
    const accepted = this.state.pushAudio(name, bytes, nowMs);
    if (accepted) this.pace(nowMs);
    return accepted;
  }

  endSegment(name: string): void {
    if (this.closed) return;
    const nowMs = this.clock.now();
    this.state.endSegment(name, nowMs);
    this.pace(nowMs);
  }

  /** A whole segment at once (a cached phrase). Returns its mark name. */
  playSegment(spec: SegmentSpec, audio: Uint8Array): string {
    const name = this.openSegment(spec);
    this.state.pushAudio(name, audio, this.clock.now());
    this.endSegment(name);
    return name;
  }

  /** Called by the pacer (and after new audio): sends what is due at `nowMs`. */
  pace(nowMs: number): void {
    if (this.closed) return;
    const step = this.state.pull(nowMs);
    // Most pacer visits have nothing due (four in five with 100 ms frames).
    if (step !== NOTHING_DUE) {
      for (const m of step.messages) this.sink(m);
      this.emit(step.events);
    }
    if (!this.state.hasPendingSend) this.stopPacing();
  }

  onMarkReturned(name: string): void {
    if (this.closed) return;
    this.emit(this.state.markReturned(name, this.clock.now()));
  }

  /** Fast interrupt: no new frames until `resume` or `clear` (see `PlayoutState.hold`). */
  hold(): void {
    if (!this.closed) this.state.hold();
  }

  /** Sends again from where the audio stopped. */
  resume(): void {
    if (this.closed || !this.state.held) return;
    const nowMs = this.clock.now();
    this.state.resume(nowMs);
    this.ensurePaced();
    this.pace(nowMs);
  }

  /** Barge-in: the sink gets `clear` first; returns what the caller heard. */
  clear(): HeardReport {
    const step = this.state.clear(this.clock.now());
    if (!this.closed) for (const m of step.messages) this.sink(m);
    this.stopPacing();
    this.emit(step.events);
    return step.heard;
  }

  /** Resolves when the segment's mark returns ('played'), a clear drops it, or the call closes. */
  whenSegmentDone(name: string): Promise<SegmentOutcome> {
    const current = this.state.segmentState(name);
    if (current === 'played' || current === 'cleared') return Promise.resolve(current);
    if (this.closed) return Promise.resolve('closed');
    if (current === undefined) return Promise.reject(new Error(`unknown playout segment ${name}`));
    return new Promise((resolve) => {
      const list = this.segmentWaiters.get(name);
      if (list) list.push(resolve);
      else this.segmentWaiters.set(name, [resolve]);
    });
  }

  /** Resolves once nothing is queued and no mark is outstanding (or the call closes). */
  whenIdle(): Promise<void> {
    if (this.state.idle || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  on(listener: PlayoutListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get idle(): boolean {
    return this.state.idle;
  }

  get hasUnplayedInterruptibleAudio(): boolean {
    return this.state.hasUnplayedInterruptibleAudio;
  }

  heard(): HeardReport {
    return this.state.heard(this.clock.now());
  }

  stats(): PlayoutStats {
    return this.state.stats();
  }

  /** The stream ended: stop pacing, settle every waiter with 'closed'. Sends nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopPacing();
    for (const [, waiters] of this.segmentWaiters) for (const w of waiters) w('closed');
    this.segmentWaiters.clear();
    for (const w of this.idleWaiters.splice(0)) w();
    this.listeners.clear();
  }

  private emit(events: readonly PlayoutEvent[]): void {
    for (const e of events) {
      if (e.type === 'segment_played' || e.type === 'segment_cleared') {
        const waiters = this.segmentWaiters.get(e.name);
        if (waiters) {
          this.segmentWaiters.delete(e.name);
          for (const w of waiters) w(e.type === 'segment_played' ? 'played' : 'cleared');
        }
      }
      for (const l of this.listeners) l(e);
    }
    if (this.state.idle) for (const w of this.idleWaiters.splice(0)) w();
  }

  private ensurePaced(): void {
    if (this.pacer && !this.unregister) this.unregister = this.pacer.register(this);
  }

  private stopPacing(): void {
    this.unregister?.();
    this.unregister = undefined;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('playout is closed');
  }
}
