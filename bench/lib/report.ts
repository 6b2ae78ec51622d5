import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Spread } from './stats.js';

/** One row of the report: the figures at one steady-state concurrency N. */
export interface LevelRow {
  calls: number;
  /** Calls with an open media stream at the window's end. */
  streaming: number;
  overheadMs: Spread;
  responseMs: Spread;
  firstGreetingByteMs: Spread;
  keypadResponseMs: Spread;
  clearMs: Spread;
  underruns: number;
  /** How late the audio was when it ran dry. */
  underrunGapMs: Spread;
  bargeIns: number;
  bargeInsMissed: number;
  spokenTurns: number;
  turnsWithMetrics: number;
  serverRssMb: number;
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
    'overhead p50/p95/p99 ms',
    'greet p50/p95 ms',
    'clear p50/p95 ms',
    'underruns',
    'RSS MB',
    'CPU srv/gen/fakes',
    'gen ELD p99',
    'srv ELD p99',
    'turns spk/kpd',
    'errors',
    'valid',
  ];
  const lines = rows.map((r) => [
    String(r.calls),
    `${f(r.overheadMs.p50)}/${f(r.overheadMs.p95)}/${f(r.overheadMs.p99)}`,
    `${f(r.firstGreetingByteMs.p50)}/${f(r.firstGreetingByteMs.p95)}`,
    `${f(r.clearMs.p50)}/${f(r.clearMs.p95)}`,
    String(r.underruns),
    f(r.serverRssMb, 0),
    `${f(r.cpu.server, 2)}/${f(r.cpu.generator, 2)}/${f(r.cpu.fakes ?? null, 2)}`,
    f(r.eventLoopDelayP99Ms, 2),
    f(r.serverEventLoopDelayP99Ms, 1),
    `${r.spokenTurns}/${r.keypadResponseMs.n}`,
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
