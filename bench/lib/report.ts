import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Spread } from './stats.js';

/** One row of the report: the figures at one steady-state concurrency N. */
export interface LevelRow {
  calls: number;
  /** Calls with an open media stream at the window's end. */
  streaming: number;
  /** Our share of a spoken turn timed from outside the server (bench/lib/hops.ts): the sum of the three hops. */
  overheadMs: Spread;
  sttToLlmMs: Spread;
  llmToTtsMs: Spread;
  ttsToMediaMs: Spread;
  /** The server's own per-turn figure (responseMs − llmFirstSentenceMs − ttsFirstByteMs), for comparison. */
  overheadInsideMs: Spread;
  responseMs: Spread;
  firstGreetingByteMs: Spread;
  keypadResponseMs: Spread;
  clearMs: Spread;
  /** The caller starts talking over the agent → `clear`. */
  interruptMs: Spread;
  /** The caller starts talking over the agent → the agent's audio stops playing at the caller (the clear, or sooner when the server held its audio). */
  interruptHeardMs: Spread;
  underruns: number;
  /** How late the audio was when it ran dry. */
  underrunGapMs: Spread;
  bargeIns: number;
  bargeInsMissed: number;
  spokenTurns: number;
  turnsWithMetrics: number;
  serverRssMb: number;
  serverRssMaxMb: number;
  /** Product CPU ÷ floor CPU at the same N (with --floor). */
  cpuPerCallRatio?: number | null;
  /** Calls that ended by an error (webhook, TwiML, server-closed stream, no STT). */
  failedCalls: number;
  /**
   * Calls the server itself ended as failed within the window (outcome other than completed or
   * transferred: `tts_failed`, `no_stream`, …), by outcome; the generator sees such a call
   * hang up like any other, so `failedCalls` misses them.
   */
  serverFailed?: Record<string, number>;
  /**
   * Calls that took the flow's fallback (the caller heard it after a provider failure) yet ended
   * as no failure (`completed`, `transferred`), so neither count above has them. Absent in results
   * taken before it was counted.
   */
  degraded?: number;
  /** Every call of the window that took the fallback, failed or degraded, by reason (`llm_failed`, `stt_failed`, …). */
  fallbackReasons?: Record<string, number>;
  /** Share of one core; `fakes` is the provider fakes' own process (also on core 1). */
  cpu: { server: number; generator: number; fakes?: number };
  eventLoopDelayP99Ms: number;
  fakesEventLoopDelayP99Ms?: number | null;
  serverEventLoopDelayP99Ms: number | null;
  errors: Record<string, number>;
  serverLogLines: number;
  valid: boolean;
  invalidReason?: string;
  brokenBudgets: string[];
}

const f = (v: number | null | undefined, digits = 1) => (v === null || v === undefined ? '—' : v.toFixed(digits));

export function printTable(rows: LevelRow[]): string {
  const head = [
    'calls',
    'overhead out p50/p95/p99 ms',
    'hops stt→llm/llm→tts/tts→media p95',
    'inside p50/p95/p99',
    'greet p50/p95 ms',
    'clear p50/p95 ms',
    'interrupt clear/heard p50/p95',
    'underruns',
    'RSS avg/max MB',
    'CPU srv/gen/fakes',
    'gen ELD p99',
    'fakes ELD p99',
    'srv ELD p99',
    'turns spk/kpd',
    'failed',
    'degraded',
    'errors',
    'valid',
  ];
  const lines = rows.map((r) => [
    String(r.calls),
    `${f(r.overheadMs.p50)}/${f(r.overheadMs.p95)}/${f(r.overheadMs.p99)}`,
    `${f(r.sttToLlmMs.p95)}/${f(r.llmToTtsMs.p95)}/${f(r.ttsToMediaMs.p95)}`,
    `${f(r.overheadInsideMs.p50, 0)}/${f(r.overheadInsideMs.p95, 0)}/${f(r.overheadInsideMs.p99, 0)}`,
    `${f(r.firstGreetingByteMs.p50)}/${f(r.firstGreetingByteMs.p95)}`,
    `${f(r.clearMs.p50)}/${f(r.clearMs.p95)}`,
    `${f(r.interruptMs.p50, 0)}/${f(r.interruptMs.p95, 0)} ${f(r.interruptHeardMs.p50, 0)}/${f(r.interruptHeardMs.p95, 0)}`,
    String(r.underruns),
    `${f(r.serverRssMb, 0)}/${f(r.serverRssMaxMb, 0)}`,
    `${f(r.cpu.server, 2)}/${f(r.cpu.generator, 2)}/${f(r.cpu.fakes ?? null, 2)}`,
    f(r.eventLoopDelayP99Ms, 2),
    f(r.fakesEventLoopDelayP99Ms, 2),
    f(r.serverEventLoopDelayP99Ms, 1),
    `${r.spokenTurns}/${r.keypadResponseMs.n}`,
    String(r.failedCalls + Object.values(r.serverFailed ?? {}).reduce((a, b) => a + b, 0)),
    r.degraded === undefined ? '—' : String(r.degraded),
    String(Object.values(r.errors).reduce((a, b) => a + b, 0)),
    r.valid ? (r.brokenBudgets.length ? 'over budget' : 'yes') : 'INVALID',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n');
}

export function writeResult(dir: string, result: unknown): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  return file;
}
