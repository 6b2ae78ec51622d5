import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { bundle } from '../scripts/build-server.js';

/**
 * Instructions per call-second of the hot path (bench/hot-path.ts), counted by
 * valgrind's callgrind: a count of instructions executed does not change with
 * what else runs on the machine, unlike CPU or wall time (it counts user-space
 * instructions only: what a syscall costs in the kernel is not in it).
 *
 * The harness is bundled first (no TypeScript loader under valgrind) and runs
 * with counting off through start-up, connecting and a warm-up; counting is
 * switched on (`callgrind_control -i on`) for exactly the measured seconds.
 *
 * Node runs with V8's `--single-threaded`: under valgrind, background JIT and
 * GC threads get the CPU at whatever moment its scheduler picks, which moved
 * the count of the same code by up to 25 % between runs; on one thread the
 * same work happens at the same point every time.
 *
 * TurboFan compiles are taken out of the figure (their inclusive count under
 * `Runtime_CompileOptimized`, read back with callgrind_annotate): on one thread
 * they run inline, a function is compiled once per process, and whether a
 * compile of ~10 M instructions falls inside the measured seconds depends on
 * the warm-up and on unrelated code (with 3 s of warm-up they were 72 % of the
 * `out` count). Each run prints both; GC stays in.
 *
 * `npx tsx bench/hot-path-count.ts [modes=in,out] [calls=20] [seconds=10] [warmup=3] [runs=3] [root=.]`
 * (`root`: another checkout's directory, to count its code with this harness;
 * it needs node_modules). Prints each run and the median. A few minutes per
 * run: Node runs ~50× slower under callgrind.
 */

const modes = (process.argv[2] ?? 'in,out').split(',');
const calls = Number(process.argv[3] ?? 20);
const seconds = Number(process.argv[4] ?? 10);
const warmup = Number(process.argv[5] ?? 3);
const runs = Number(process.argv[6] ?? 3);
const root = resolve(process.argv[7] ?? join(import.meta.dirname, '..'));

const entry = join(root, 'bench', 'hot-path.ts');
const bundled = join(root, 'bench', 'results', 'hot-path-bundle', 'hot-path.mjs');
await bundle(entry, bundled);

const outDir = mkdtempSync(join(tmpdir(), 'hot-path-count-'));
process.on('exit', () => rmSync(outDir, { recursive: true, force: true }));

/** Instructions under V8's optimizing compiler in a callgrind output file. */
function compileInstructions(file: string): number {
  const text = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const line = text.split('\n').find((l) => l.includes('Runtime_CompileOptimized('));
  return line ? Number(line.trim().split(/\s/)[0]!.replaceAll(',', '')) : 0;
}

function count(mode: string): Promise<{ instructions: number; compile: number; report: Record<string, unknown> }> {
  return new Promise((resolveRun, reject) => {
    const outFile = join(outDir, `callgrind.${mode}.out`);
    const child = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${outFile}`, process.execPath, '--single-threaded', bundled, mode, String(calls), String(seconds), String(warmup)], {
      env: { ...process.env, HOT_PATH_HANDSHAKE: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    let report: Record<string, unknown> | undefined;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const instr = (onOff: 'on' | 'off') => execFileSync('callgrind_control', ['-i', onOff, String(child.pid)], { stdio: 'ignore' });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'READY') {
        instr('on');
        child.stdin.write('go\n');
      } else if (line === 'DONE') {
        instr('off');
        child.stdin.write('exit\n');
      } else if (line.startsWith('{')) {
        report = JSON.parse(line) as Record<string, unknown>;
      }
    });
    child.on('exit', (code) => {
      const collected = /Collected : (\d+)/.exec(stderr);
      if (code !== 0 || !collected || !report) return reject(new Error(`callgrind run (${mode}) failed: exit ${code}\n${stderr.slice(-3000)}`));
      resolveRun({ instructions: Number(collected[1]), compile: compileInstructions(outFile), report });
    });
  });
}

for (const mode of modes) {
  const perCallSecond: number[] = [];
  for (let run = 0; run < runs; run++) {
    const { instructions, compile, report } = await count(mode);
    perCallSecond.push(Math.round((instructions - compile) / (calls * seconds)));
    process.stdout.write(
      JSON.stringify({ root, mode, calls, seconds, run, instructions, compileInstructions: compile, instructionsPerCallSecond: perCallSecond.at(-1), report }) + '\n',
    );
  }
  const sorted = [...perCallSecond].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  process.stdout.write(
    JSON.stringify({
      root,
      mode,
      instructionsPerCallSecond: { median, min: sorted[0], max: sorted.at(-1) },
      ...(mode === 'out' ? {} : { instructionsPerInboundFrame: Math.round(median / 50) }),
    }) + '\n',
  );
}
