import { BenchCall, FRAME_MS, type CallEnv, type CallSink } from './caller.js';
import type { TurnHops } from './hops.js';

/**
 * The load: calls arrive at `arrivalPerSecond` while fewer than `target` are
 * live (so ended calls are replaced and N holds at steady state), and one
 * pacing timer for the whole generator sends every call's caller audio,
 * spread over `SLOTS` sub-ticks so no tick sends all frames at once.
 */

const SLOTS = 4;
const TICK_MS = FRAME_MS / SLOTS;

export class Samples implements CallSink {
  greetingMs: number[] = [];
  keypadResponseMs: number[] = [];
  clearMs: number[] = [];
  interruptMs: number[] = [];
  interruptHeardMs: number[] = [];
  /** Outside figures per spoken turn (hops.ts). */
  outside: { sttToLlmMs: number[]; llmToTtsMs: number[]; ttsToMediaMs: number[]; overheadMs: number[] } = Samples.noOutside();
  underruns = 0;
  underrunGapMs: number[] = [];
  bargeInsMissed = 0;
  spokenTurns = 0;
  callsEnded = 0;
  errors: Record<string, number> = {};
  /**
   * `BENCH_SLOW_TURN_MS`: turns whose outside overhead reaches it are listed with their call and
   * wall time, to be followed in the server's log or kept history (bench/README.md).
   */
  readonly slowTurnMs = process.env.BENCH_SLOW_TURN_MS ? Number(process.env.BENCH_SLOW_TURN_MS) : undefined;
  slowTurns: (TurnHops & { callSid: string; at: string })[] = [];
  /** Window figures are kept only while measuring; greetings also while filling up. */
  measuring = false;
  levelActive = false;

  constructor(private readonly onEnded: (call: BenchCall) => void) {}

  private static noOutside() {
    return { sttToLlmMs: [], llmToTtsMs: [], ttsToMediaMs: [], overheadMs: [] };
  }

  reset(): void {
    this.greetingMs = [];
    this.keypadResponseMs = [];
    this.clearMs = [];
    this.interruptMs = [];
    this.interruptHeardMs = [];
    this.outside = Samples.noOutside();
    this.underruns = 0;
    this.underrunGapMs = [];
    this.bargeInsMissed = 0;
    this.spokenTurns = 0;
    this.callsEnded = 0;
    this.errors = {};
  }

  resetWindow(): void {
    this.keypadResponseMs = [];
    this.clearMs = [];
    this.interruptMs = [];
    this.interruptHeardMs = [];
    this.outside = Samples.noOutside();
    this.slowTurns = [];
    this.underruns = 0;
    this.underrunGapMs = [];
    this.bargeInsMissed = 0;
    this.spokenTurns = 0;
  }

  greeting(ms: number): void {
    if (this.levelActive) this.greetingMs.push(ms);
  }
  keypadResponse(ms: number): void {
    if (this.measuring) this.keypadResponseMs.push(ms);
  }
  clear(ms: number): void {
    if (this.measuring) this.clearMs.push(ms);
  }
  interrupt(ms: number, heardMs: number): void {
    if (!this.measuring) return;
    this.interruptMs.push(ms);
    this.interruptHeardMs.push(heardMs);
  }
  outsideTurn(h: TurnHops, callSid: string): void {
    if (!this.measuring) return;
    if (this.slowTurnMs !== undefined && h.overheadMs >= this.slowTurnMs) this.slowTurns.push({ callSid, at: new Date().toISOString(), ...h });
    this.outside.sttToLlmMs.push(h.sttToLlmMs);
    this.outside.llmToTtsMs.push(h.llmToTtsMs);
    this.outside.ttsToMediaMs.push(h.ttsToMediaMs);
    this.outside.overheadMs.push(h.overheadMs);
  }
  bargeInMissed(): void {
    if (this.measuring) this.bargeInsMissed++;
  }
  underrun(gapMs: number): void {
    if (!this.measuring) return;
    this.underruns++;
    this.underrunGapMs.push(gapMs);
  }
  spokenTurn(): void {
    if (this.measuring) this.spokenTurns++;
  }
  error(kind: string): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
  }
  ended(call: BenchCall): void {
    this.callsEnded++;
    this.onEnded(call);
  }
}

export class LoadGenerator {
  target = 0;
  readonly samples: Samples;
  private readonly slots: Set<BenchCall>[] = Array.from({ length: SLOTS }, () => new Set());
  private readonly live = new Set<BenchCall>();
  private arrivalTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private tick = 0;
  private nextTickAt = 0;
  callsStarted = 0;

  constructor(
    private readonly env: Omit<CallEnv, 'sink'>,
    private readonly arrivalPerSecond: number,
  ) {
    this.samples = new Samples((call) => {
      this.live.delete(call);
      this.slots[call.slot]!.delete(call);
    });
  }

  get liveCalls(): number {
    return this.live.size;
  }

  /** Calls whose media stream is open. */
  get streaming(): number {
    let n = 0;
    for (const c of this.live) if (c.phase === 'streaming') n++;
    return n;
  }

  start(): void {
    this.arrivalTimer = setInterval(() => this.arrive(), 1000 / this.arrivalPerSecond);
    this.nextTickAt = performance.now() + TICK_MS;
    this.tickTimer = setTimeout(() => this.onTick(), TICK_MS);
  }

  private arrive(): void {
    if (this.live.size >= this.target) return;
    const call = new BenchCall({ ...this.env, sink: this.samples }, SLOTS);
    this.live.add(call);
    this.slots[call.slot]!.add(call);
    this.callsStarted++;
    void call.dial();
  }

  private onTick(): void {
    const now = performance.now();
    for (const call of this.slots[this.tick % SLOTS]!) call.pump(now);
    this.tick++;
    // Scheduled against the clock, not chained delays, so the ticks do not drift.
    this.nextTickAt += TICK_MS;
    if (this.nextTickAt < now) this.nextTickAt = now + TICK_MS;
    this.tickTimer = setTimeout(() => this.onTick(), Math.max(0, this.nextTickAt - performance.now()));
  }

  /** Every caller hangs up; resolves when all calls ended or after `timeoutMs`. */
  async hangUpAll(timeoutMs = 15_000): Promise<void> {
    this.target = 0;
    await Promise.allSettled([...this.live].map((c) => c.hangUp()));
    const deadline = Date.now() + timeoutMs;
    while (this.live.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }

  stop(): void {
    clearInterval(this.arrivalTimer);
    clearTimeout(this.tickTimer);
  }
}
