import { describe, expect, it } from 'vitest';
import { brokenBudgets, cpuShare, invalidReason, loopDelayMs, parseDurationMs, percentile, round, serverFailures, slope, spread } from '../../../bench/lib/stats.js';

describe('bench figures', () => {
  it('percentile is nearest-rank over unsorted samples', () => {
    const samples = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(samples, 50)).toBe(5);
    expect(percentile(samples, 95)).toBe(10);
    expect(percentile(samples, 0)).toBe(1);
    expect(percentile(samples, 100)).toBe(10);
    expect(percentile([42], 99)).toBe(42);
    // The input is not reordered.
    expect(samples[0]).toBe(5);
  });

  it('percentile of nothing is null, and a p outside 0..100 is refused', () => {
    expect(percentile([], 50)).toBeNull();
    expect(spread([])).toEqual({ p50: null, p95: null, p99: null, n: 0 });
    expect(() => percentile([1], 101)).toThrow(/0\.\.100/);
    expect(() => percentile([1], Number.NaN)).toThrow(/0\.\.100/);
  });

  it('slope is the least-squares fit, null without two distinct x', () => {
    expect(slope([{ x: 100, y: 300 }, { x: 250, y: 450 }, { x: 500, y: 700 }])).toBeCloseTo(1, 9);
    expect(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }, { x: 3, y: 7 }])).toBeCloseTo(2, 9);
    expect(slope([{ x: 1, y: 1 }])).toBeNull();
    expect(slope([{ x: 2, y: 1 }, { x: 2, y: 5 }])).toBeNull();
    expect(slope([])).toBeNull();
  });

  it('CPU share is CPU time over wall time', () => {
    expect(cpuShare(500, 1000)).toBe(0.5);
    expect(cpuShare(10, 0)).toBe(0);
  });

  it('durations read ms, s, m and h; a bare number is seconds; nonsense is refused', () => {
    expect(parseDurationMs('30m')).toBe(1_800_000);
    expect(parseDurationMs('90s')).toBe(90_000);
    expect(parseDurationMs('1h')).toBe(3_600_000);
    expect(parseDurationMs('1500ms')).toBe(1500);
    expect(parseDurationMs('20')).toBe(20_000);
    expect(() => parseDurationMs('soon')).toThrow(/bad duration/);
    expect(() => parseDurationMs('')).toThrow(/bad duration/);
  });

  it('round keeps null and drops non-finite values', () => {
    expect(round(1.26)).toBe(1.3);
    expect(round(1.2345, 2)).toBe(1.23);
    expect(round(null)).toBeNull();
    expect(round(Number.POSITIVE_INFINITY)).toBeNull();
  });

  it('budgets: each broken one is named; unmeasured figures break nothing', () => {
    expect(brokenBudgets({ overheadP95Ms: 4, firstGreetingByteP95Ms: 20, clearP95Ms: 2, underruns: 0 })).toEqual([]);
    const broken = brokenBudgets({ overheadP95Ms: 12, firstGreetingByteP95Ms: 51, clearP95Ms: 6, underruns: 3 });
    expect(broken).toHaveLength(4);
    expect(broken.join(' | ')).toMatch(/overhead.*greeting.*clear.*3 underruns/);
    expect(brokenBudgets({ overheadP95Ms: null, firstGreetingByteP95Ms: null, clearP95Ms: null, underruns: 0 })).toEqual([]);
  });

  it('loop delay: the histogram sample interval is not delay', () => {
    expect(loopDelayMs(10_000_000, 10)).toBe(0);
    expect(loopDelayMs(9_500_000, 10)).toBe(0);
    expect(loopDelayMs(22_700_000, 10)).toBeCloseTo(12.7);
  });

  it('server failures: failed outcomes the generator has not counted, and degraded calls (a fallback that ended as no failure), none twice', () => {
    const outcomes = { completed: 400, transferred: 10, failed: 5, tts_failed: 2, unavailable: 3, no_stream: 1 };
    const fallbacks = { calls: 399, byOutcome: { completed: 390, transferred: 4, failed: 5 }, byReason: { llm_failed: 399 } };
    expect(serverFailures(outcomes, fallbacks)).toEqual({ serverFailed: { failed: 5, tts_failed: 2 }, degraded: 394 });
    // A server without the figure (or older): nothing degraded.
    expect(serverFailures(outcomes)).toEqual({ serverFailed: { failed: 5, tts_failed: 2 }, degraded: 0 });
    expect(serverFailures()).toEqual({ serverFailed: {}, degraded: 0 });
  });
});

describe('level validity', () => {
  const fine = { calls: 200, streaming: 200, filled: true, serverExited: false, generatorEldP99Ms: 3.2, fakesEldP99Ms: 4.9 };

  it('a level whose generator and fakes keep up measures the server', () => {
    expect(invalidReason(fine)).toBeUndefined();
    // Fakes that did not report their loop delay do not void the level (older fakes, a slow IPC answer).
    expect(invalidReason({ ...fine, fakesEldP99Ms: undefined })).toBeUndefined();
  });

  it('late fakes void the level: they stamp requests late, so the hops carry their delay', () => {
    expect(invalidReason({ ...fine, fakesEldP99Ms: 12.84 })).toBe(
      'fakes event-loop delay p99 12.84 ms > 5 ms: the fakes stamp requests late, so the hops include their own delay',
    );
  });

  it('the first reason found is given: the server, then the calls held, then the generator, then the fakes', () => {
    expect(invalidReason({ ...fine, serverExited: true, filled: false, generatorEldP99Ms: 9, fakesEldP99Ms: 9 })).toBe('the server exited');
    expect(invalidReason({ ...fine, filled: false, streaming: 150, generatorEldP99Ms: 9 })).toBe('only 150 of 200 calls could be held live');
    expect(invalidReason({ ...fine, generatorEldP99Ms: 6.5, fakesEldP99Ms: 20 })).toMatch(/^generator event-loop delay p99 6\.50 ms > 5 ms/);
  });
});
