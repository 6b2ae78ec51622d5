import { readFileSync } from 'node:fs';
import type { LevelRow } from './lib/report.js';

/**
 * Before/after tables from several bench runs (bench/README.md, "Density: before and after"):
 * `npx tsx bench/median-table.ts <label> <run.json>... [<label> <run.json>...]`
 * prints one markdown row per label and level: each cell the median over the runs, with the
 * range of the overhead p95 and of the server's CPU, and the failed calls (with the degraded ones,
 * when any, as `(+N degraded)`) and validity of every run. A label that starts with `floor` reads the floor server's rows of `--floor` runs.
 * Run-to-run variance on a shared or virtual machine is large, so a single run says little:
 * interleave the builds' runs and compare medians.
 */

interface Group {
  label: string;
  files: string[];
}

const groups: Group[] = [];
for (const arg of process.argv.slice(2)) {
  if (!arg.endsWith('.json')) groups.push({ label: arg, files: [] });
  else if (groups.length > 0) groups.at(-1)!.files.push(arg);
  else groups.push({ label: 'run', files: [arg] });
}
if (groups.length === 0 || groups.some((g) => g.files.length === 0)) {
  process.stderr.write('usage: npx tsx bench/median-table.ts <label> <run.json>... [<label> <run.json>...]\n');
  process.exit(2);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const num = (v: number | null | undefined): number => (typeof v === 'number' && Number.isFinite(v) ? v : NaN);
const fmt = (v: number, digits = 1): string => (Number.isNaN(v) ? '—' : v.toFixed(digits));
const med = (rows: LevelRow[], pick: (r: LevelRow) => number | null | undefined, digits = 1): string =>
  fmt(median(rows.map((r) => num(pick(r))).filter((v) => !Number.isNaN(v))), digits);
const range = (rows: LevelRow[], pick: (r: LevelRow) => number | null, digits = 0): string => {
  const vs = rows.map((r) => num(pick(r)));
  return `${fmt(Math.min(...vs), digits)}–${fmt(Math.max(...vs), digits)}`;
};

const header =
  '| build | calls | overhead out p50 / p95 / p99 ms (p95 range) | hops p95 stt→llm / llm→tts / tts→media ms | inside p95 / p99 ms | greeting p50 / p95 ms | clear p50 / p95 ms | interrupt clear / heard p50 ms | underruns | RSS avg / max MB | CPU server (range) / gen / fakes | ELD p99 gen / fakes / server ms | failed calls per run | valid per run |';
console.log(header);
console.log('| --- | ---: | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const g of groups) {
  const byLevel = new Map<number, LevelRow[]>();
  for (const file of g.files) {
    const run = JSON.parse(readFileSync(file, 'utf8')) as { rows: LevelRow[]; floor?: { rows: LevelRow[] } };
    // A label starting with "floor" takes the floor server's rows of `--floor` runs.
    const rows = g.label.startsWith('floor') ? (run.floor?.rows ?? []) : run.rows;
    for (const row of rows) byLevel.set(row.calls, [...(byLevel.get(row.calls) ?? []), row]);
  }
  for (const [calls, rows] of [...byLevel].sort((a, b) => a[0] - b[0])) {
    console.log(
      `| ${g.label} | ${calls} | ` +
        [
          `${med(rows, (r) => r.overheadMs.p50)} / ${med(rows, (r) => r.overheadMs.p95)} / ${med(rows, (r) => r.overheadMs.p99)} (${range(rows, (r) => r.overheadMs.p95)})`,
          `${med(rows, (r) => r.sttToLlmMs.p95)} / ${med(rows, (r) => r.llmToTtsMs.p95)} / ${med(rows, (r) => r.ttsToMediaMs.p95)}`,
          `${med(rows, (r) => r.overheadInsideMs.p95, 0)} / ${med(rows, (r) => r.overheadInsideMs.p99, 0)}`,
          `${med(rows, (r) => r.firstGreetingByteMs.p50)} / ${med(rows, (r) => r.firstGreetingByteMs.p95)}`,
          `${med(rows, (r) => r.clearMs.p50)} / ${med(rows, (r) => r.clearMs.p95)}`,
          `${med(rows, (r) => r.interruptMs.p50, 0)} / ${med(rows, (r) => r.interruptHeardMs.p50, 0)}`,
          med(rows, (r) => r.underruns, 0),
          `${med(rows, (r) => r.serverRssMb, 0)} / ${med(rows, (r) => r.serverRssMaxMb, 0)}`,
          `${med(rows, (r) => r.cpu.server, 2)} (${range(rows, (r) => r.cpu.server, 2)}) / ${med(rows, (r) => r.cpu.generator, 2)} / ${med(rows, (r) => r.cpu.fakes, 2)}`,
          `${med(rows, (r) => r.eventLoopDelayP99Ms)} / ${med(rows, (r) => r.fakesEventLoopDelayP99Ms)} / ${med(rows, (r) => r.serverEventLoopDelayP99Ms, 0)}`,
          rows
            .map((r) => `${r.failedCalls + Object.values(r.serverFailed ?? {}).reduce((a, b) => a + b, 0)}${r.degraded ? ` (+${r.degraded} degraded)` : ''}`)
            .join(', '),
          rows.map((r) => (r.valid ? 'yes' : 'INVALID')).join(', '),
        ].join(' | ') +
        ' |',
    );
  }
}
