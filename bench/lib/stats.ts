/**
 * Pure figures for the benchmark: percentiles, least-squares slopes, CPU
 * shares, budgets. No I/O here, so every helper has a unit test
 * (test/unit/bench/stats.test.ts).
 */

/** Nearest-rank percentile (p in 0..100) of unsorted samples; null when there are none. */
export function percentile(samples: readonly number[], p: number): number | null {
  if (samples.length === 0) return null;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export interface Spread {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  n: number;
}

export function spread(samples: readonly number[]): Spread {
  return { p50: percentile(samples, 50), p95: percentile(samples, 95), p99: percentile(samples, 99), n: samples.length };
}

/** Least-squares slope of y over x; null with fewer than two distinct x. */
export function slope(points: readonly { x: number; y: number }[]): number | null {
  if (points.length < 2) return null;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    sxx += (p.x - mx) ** 2;
    sxy += (p.x - mx) * (p.y - my);
  }
  return sxx === 0 ? null : sxy / sxx;
}

/** CPU time spent over wall time: 1 = one core fully busy. */
export function cpuShare(cpuMs: number, wallMs: number): number {
  return wallMs > 0 ? cpuMs / wallMs : 0;
}

/**
 * Parses a duration like `30m`, `90s`, `1h`, `1500ms` or a bare number of
 * seconds into milliseconds.
 */
export function parseDurationMs(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) throw new Error(`bad duration "${text}": use e.g. 90s, 30m, 1h`);
  const value = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(value * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}

/** Rounds for the report (null stays null). */
export function round(value: number | null, digits = 1): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export interface Budgets {
  overheadP95Ms: number;
  firstGreetingByteP95Ms: number;
  clearP95Ms: number;
  underruns: number;
}

/** The targets (issue 7). */
export const DEFAULT_BUDGETS: Budgets = { overheadP95Ms: 10, firstGreetingByteP95Ms: 50, clearP95Ms: 5, underruns: 0 };

export interface LevelFigures {
  overheadP95Ms: number | null;
  firstGreetingByteP95Ms: number | null;
  clearP95Ms: number | null;
  underruns: number;
}

/**
 * Outcomes of calls the server ended that the generator does not already count as failed:
 * `completed` and `transferred` are not failures, an `unavailable` call is the generator's
 * `twiml` error and a `no_stream` one its `server_closed_stream`.
 */
const NOT_SERVER_FAILURES = new Set(['completed', 'transferred', 'unavailable', 'no_stream']);
/** Outcomes neither the generator nor `serverFailed` counts as failed. */
const NOT_FAILED = new Set(['completed', 'transferred']);

/** `/bench/stats` `fallbacks`: calls ended in the window in which a failure took the flow's fallback. */
export interface ServerFallbacks {
  calls: number;
  byOutcome: Record<string, number>;
  byReason: Record<string, number>;
}

/**
 * How the server's calls failed, from `/bench/stats`: `serverFailed`, the failed outcomes the
 * generator has not counted already, by outcome; `degraded`, the calls that took the flow's fallback
 * (the caller heard it) yet ended as no failure, `completed` at the fallback's `end` node, so that
 * no call is counted twice.
 */
export function serverFailures(
  outcomes: Record<string, number> = {},
  fallbacks?: ServerFallbacks,
): { serverFailed: Record<string, number>; degraded: number } {
  const serverFailed = Object.fromEntries(Object.entries(outcomes).filter(([kind]) => !NOT_SERVER_FAILURES.has(kind)));
  const degraded = Object.entries(fallbacks?.byOutcome ?? {}).reduce((sum, [kind, n]) => sum + (NOT_FAILED.has(kind) ? n : 0), 0);
  return { serverFailed, degraded };
}

/**
 * Which budgets a level breaks. A figure with no samples (null: e.g. no spoken
 * turns yet) cannot break its budget; the report says it was not measured.
 */
export function brokenBudgets(f: LevelFigures, b: Budgets = DEFAULT_BUDGETS): string[] {
  const broken: string[] = [];
  if (f.overheadP95Ms !== null && f.overheadP95Ms > b.overheadP95Ms) broken.push(`overhead p95 ${f.overheadP95Ms} > ${b.overheadP95Ms} ms`);
  if (f.firstGreetingByteP95Ms !== null && f.firstGreetingByteP95Ms > b.firstGreetingByteP95Ms) {
    broken.push(`first greeting byte p95 ${f.firstGreetingByteP95Ms} > ${b.firstGreetingByteP95Ms} ms`);
  }
  if (f.clearP95Ms !== null && f.clearP95Ms > b.clearP95Ms) broken.push(`clear p95 ${f.clearP95Ms} > ${b.clearP95Ms} ms`);
  if (f.underruns > b.underruns) broken.push(`${f.underruns} underruns`);
  return broken;
}

/**
 * Node's event-loop-delay histogram (`monitorEventLoopDelay`) records the
 * whole interval between its timer's firings, the resolution included: an
 * idle loop sampled every 10 ms reads ~10 ms. The delay is what exceeds it.
 */
export function loopDelayMs(recordedNs: number, resolutionMs: number): number {
  return Math.max(0, recordedNs / 1e6 - resolutionMs);
}

/** The bench's tools (the generator, and the fakes that stamp the hops) must keep up for a level to say anything. */
export const TOOLS_ELD_LIMIT_MS = 5;

export interface LevelConditions {
  calls: number;
  /** Calls live at once when the window started. */
  streaming: number;
  filled: boolean;
  serverExited: boolean;
  generatorEldP99Ms: number;
  /** Undefined when the fakes did not answer in time. */
  fakesEldP99Ms: number | undefined;
}

/**
 * Why a level's figures do not measure the server, or undefined when they do. The fakes stamp
 * each request when their loop reads it, so a late fakes loop lengthens the stt→llm and llm→tts
 * hops the same way a late generator lengthens tts→media.
 */
export function invalidReason(c: LevelConditions, limitMs = TOOLS_ELD_LIMIT_MS): string | undefined {
  if (c.serverExited) return 'the server exited';
  if (!c.filled) return `only ${c.streaming} of ${c.calls} calls could be held live`;
  if (c.generatorEldP99Ms > limitMs) {
    return `generator event-loop delay p99 ${c.generatorEldP99Ms.toFixed(2)} ms > ${limitMs} ms: the generator, not the server, is the bottleneck`;
  }
  if (c.fakesEldP99Ms !== undefined && c.fakesEldP99Ms > limitMs) {
    return `fakes event-loop delay p99 ${c.fakesEldP99Ms.toFixed(2)} ms > ${limitMs} ms: the fakes stamp requests late, so the hops include their own delay`;
  }
  return undefined;
}
