import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs, type BenchOptions } from './lib/args.js';
import { startBenchFakes, type BenchFakes } from './lib/fakes.js';
import { LoadGenerator } from './lib/load.js';
import { cpuMs, rssMb } from './lib/proc.js';
import { printTable, writeResult, type LevelRow } from './lib/report.js';
import { ACCOUNT_SID, AUTH_TOKEN, BENCH_NUMBER, REPO_ROOT, hasTaskset, killChildren, pin, startServer, trackChild, type ServerChild } from './lib/server.js';
import { DEFAULT_BUDGETS, brokenBudgets, cpuShare, invalidReason, loopDelayMs, round, serverFailures, slope, spread, type ServerFallbacks, type Spread } from './lib/stats.js';

/**
 * `npm run bench` (bench/README.md): the server on core 0, this process — the
 * load generator and every provider fake — on core 1; calls fill up to each
 * level N at 20/s, then one window is measured at steady state. Everything is
 * loopback and bounded; children are killed however this process exits.
 */

/** The generator is too busy to time anything when its event-loop delay p99 exceeds this. */
/** After N calls are live, let the newest ones get past their greeting before measuring. */
const SETTLE_MS = 2000;
/** The generator samples its event loop this often (the sample interval is subtracted from each reading). */
const ELD_RESOLUTION_MS = 10;
const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
/** Error kinds that mean a call failed (it did not run to the caller's hang-up as a normal call). */
const FAILED_CALL_KINDS = ['webhook', 'twiml', 'server_closed_stream', 'no_stt_connection'];

const log = (s: string) => process.stdout.write(s + '\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ServerStats {
  turns: { role: string; via?: string; metrics: Record<string, number | null> }[];
  calls: { records: number; ended: number; sessions: number; paced: number };
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  outcomes?: Record<string, number>;
  fallbacks?: ServerFallbacks;
}

async function serverStats(server: ServerChild, query: string): Promise<ServerStats | undefined> {
  try {
    const res = await fetch(`${server.url}/bench/stats?${query}`);
    return res.ok ? ((await res.json()) as ServerStats) : undefined;
  } catch {
    return undefined;
  }
}

const num = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
const rounded = (s: Spread): Spread => ({ p50: round(s.p50), p95: round(s.p95), p99: round(s.p99), n: s.n });

class Bench {
  readonly eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  readonly rows: LevelRow[] = [];
  private pruneTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly o: BenchOptions,
    readonly server: ServerChild,
    readonly fakes: BenchFakes,
    readonly gen: LoadGenerator,
  ) {
    this.eld.enable();
    this.pruneTimer = setInterval(() => fakes.prune(), 10_000);
  }

  /** Fills up to N live calls, settles, measures one window; returns its row. */
  async level(n: number, windowMs: number): Promise<LevelRow> {
    const { gen, server } = this;
    gen.samples.reset();
    gen.samples.levelActive = true;
    gen.target = n;
    const fillDeadline = Date.now() + (n / this.o.arrivalPerSecond) * 1000 * 2 + 30_000;
    while (gen.streaming < n && Date.now() < fillDeadline && !server.exited) await sleep(100);
    const filled = gen.streaming >= n;
    await sleep(SETTLE_MS);
    // The window.
    gen.samples.resetWindow();
    gen.samples.measuring = true;
    await serverStats(server, 'resetEld=1');
    this.eld.reset();
    await this.fakes.eventLoopDelayP99Ms(true);
    const wall0 = Date.now();
    const t0 = performance.now();
    const cpu0 = { server: cpuMs(server.pid) ?? 0, gen: process.cpuUsage(), fakes: cpuMs(this.fakes.pid) ?? 0 };
    const rss: number[] = [];
    const logs0 = server.logCount;
    while (performance.now() - t0 < windowMs && !server.exited) {
      await sleep(1000);
      const r = rssMb(server.pid);
      if (r !== undefined) rss.push(r);
    }
    const wallMs = performance.now() - t0;
    const genCpu = process.cpuUsage(cpu0.gen);
    const serverCpuMs = (cpuMs(server.pid) ?? cpu0.server) - cpu0.server;
    const fakesCpuMs = (cpuMs(this.fakes.pid) ?? cpu0.fakes) - cpu0.fakes;
    const eldP99 = loopDelayMs(this.eld.percentile(99), ELD_RESOLUTION_MS);
    const fakesEldP99 = await this.fakes.eventLoopDelayP99Ms(false);
    gen.samples.measuring = false;
    gen.samples.levelActive = false;
    const wall1 = Date.now();
    const stats = await serverStats(server, `from=${wall0}&to=${wall1}`);
    const s = gen.samples;
    const metrics = (stats?.turns ?? []).map((t) => t.metrics);
    const overheadInside = spread(metrics.map((m) => m.overheadMs).filter(num));
    const response = spread(metrics.map((m) => m.responseMs).filter(num));
    const failedCalls = FAILED_CALL_KINDS.reduce((sum, k) => sum + (s.errors[k] ?? 0), 0);
    const { serverFailed, degraded } = serverFailures(stats?.outcomes, stats?.fallbacks);
    const row: LevelRow = {
      calls: n,
      streaming: gen.streaming,
      overheadMs: rounded(spread(s.outside.overheadMs)),
      sttToLlmMs: rounded(spread(s.outside.sttToLlmMs)),
      llmToTtsMs: rounded(spread(s.outside.llmToTtsMs)),
      ttsToMediaMs: rounded(spread(s.outside.ttsToMediaMs)),
      overheadInsideMs: rounded(overheadInside),
      responseMs: rounded(response),
      firstGreetingByteMs: rounded(spread(s.greetingMs)),
      keypadResponseMs: rounded(spread(s.keypadResponseMs)),
      clearMs: rounded(spread(s.clearMs)),
      interruptMs: rounded(spread(s.interruptMs)),
      interruptHeardMs: rounded(spread(s.interruptHeardMs)),
      underruns: s.underruns,
      underrunGapMs: rounded(spread(s.underrunGapMs)),
      bargeIns: s.clearMs.length + s.bargeInsMissed,
      bargeInsMissed: s.bargeInsMissed,
      spokenTurns: s.spokenTurns,
      turnsWithMetrics: metrics.length,
      serverRssMb: round(rss.reduce((a, b) => a + b, 0) / Math.max(1, rss.length)) ?? 0,
      serverRssMaxMb: round(Math.max(0, ...rss)) ?? 0,
      failedCalls,
      serverFailed,
      degraded,
      ...(stats?.fallbacks?.calls ? { fallbackReasons: stats.fallbacks.byReason } : {}),
      cpu: {
        server: round(cpuShare(serverCpuMs, wallMs), 3) ?? 0,
        generator: round(cpuShare((genCpu.user + genCpu.system) / 1000, wallMs), 3) ?? 0,
        fakes: round(cpuShare(fakesCpuMs, wallMs), 3) ?? 0,
      },
      eventLoopDelayP99Ms: round(eldP99, 2) ?? 0,
      fakesEventLoopDelayP99Ms: round(fakesEldP99 ?? null, 2),
      serverEventLoopDelayP99Ms: round(stats?.eventLoopDelayMs.p99 ?? null, 2),
      errors: { ...s.errors },
      serverLogLines: server.logCount - logs0,
      valid: true,
      brokenBudgets: [],
    };
    const invalid = invalidReason({
      calls: n,
      streaming: gen.streaming,
      filled,
      serverExited: server.exited,
      generatorEldP99Ms: eldP99,
      fakesEldP99Ms: fakesEldP99,
    });
    if (invalid) {
      row.valid = false;
      row.invalidReason = invalid;
    }
    row.brokenBudgets = brokenBudgets({
      overheadP95Ms: row.overheadMs.p95,
      firstGreetingByteP95Ms: row.firstGreetingByteMs.p95,
      clearP95Ms: row.clearMs.p95,
      underruns: row.underruns,
    });
    for (const [kind, count] of Object.entries(serverFailed)) row.brokenBudgets.push(`${count} calls ended by the server as ${kind}`);
    if (degraded > 0) row.brokenBudgets.push(`${degraded} calls degraded (the caller heard the fallback: ${JSON.stringify(stats?.fallbacks?.byReason ?? {})})`);
    this.rows.push(row);
    log(
      `  N=${n}: ${row.valid ? 'measured' : `INVALID (${row.invalidReason})`}` +
        (row.brokenBudgets.length ? `; over budget: ${row.brokenBudgets.join(', ')}` : '') +
        (Object.keys(row.errors).length ? `; errors ${JSON.stringify(row.errors)}` : ''),
    );
    if (s.slowTurnMs !== undefined) {
      log(`    ${s.slowTurns.length} turns with outside overhead ≥ ${s.slowTurnMs} ms:`);
      for (const t of s.slowTurns) {
        log(`    ${t.at} ${t.callSid} overhead ${t.overheadMs.toFixed(1)} = stt→llm ${t.sttToLlmMs.toFixed(1)} + llm→tts ${t.llmToTtsMs.toFixed(1)} + tts→media ${t.ttsToMediaMs.toFixed(1)} ms`);
      }
    }
    return row;
  }

  /** Soak: hold N, sample RSS and errors every 10 s; the RSS slope over time says whether memory is flat. */
  async soak(
    n: number,
    soakMs: number,
  ): Promise<{ rssSlopeMbPerMin: number | null; errorsByKind: Record<string, number>; samples: { minute: number; rssMb: number; errors: number; callsEnded: number }[] }> {
    const { gen, server } = this;
    gen.samples.reset();
    gen.target = n;
    while (gen.streaming < n && !server.exited) await sleep(100);
    const t0 = performance.now();
    const samples: { minute: number; rssMb: number; errors: number; callsEnded: number }[] = [];
    while (performance.now() - t0 < soakMs && !server.exited) {
      await sleep(10_000);
      const minute = (performance.now() - t0) / 60_000;
      const errors = Object.values(gen.samples.errors).reduce((a, b) => a + b, 0);
      samples.push({ minute: round(minute, 2) ?? 0, rssMb: round(rssMb(server.pid) ?? 0) ?? 0, errors, callsEnded: gen.samples.callsEnded });
      log(`  soak ${minute.toFixed(1)} min: RSS ${samples.at(-1)!.rssMb} MB, ${gen.streaming} live, ${gen.samples.callsEnded} calls ended, ${errors} errors`);
    }
    // The first two minutes are warm-up (JIT, caches); the slope is over the rest.
    const steady = samples.filter((s) => s.minute >= Math.min(2, (soakMs / 60_000) * 0.2));
    // The level measured after the soak resets the counters: keep the soak's errors by kind here.
    return { rssSlopeMbPerMin: round(slope(steady.map((s) => ({ x: s.minute, y: s.rssMb }))), 3), errorsByKind: { ...gen.samples.errors }, samples };
  }

  stop(): void {
    clearInterval(this.pruneTimer);
    this.eld.disable();
  }
}

async function runLoad(o: BenchOptions): Promise<void> {
  const canPin = !o.noPin && hasTaskset();
  if (!o.noPin && !canPin) log('warning: taskset not found; the server and the generator share every core (figures are not per-core)');
  if (canPin && !pin(process.pid, 1)) log('warning: could not pin the generator to core 1');
  const started = new Date();
  log(
    `bench: ${o.mode} · calls ${o.mode === 'ramp' ? `${o.rampStart}+${o.rampStep}…${o.rampMax}` : o.calls.join(',')} · ` +
      `arrivals ${o.arrivalPerSecond}/s · calls last ${o.callSeconds} s${o.callSeconds < 60 ? ' (shorter than the 60 s of a real call)' : ''} · ` +
      `window ${o.durationMs / 1000} s · STT final +${o.sttFinalMs} ms, LLM ${o.llmFirstTokenMs} ms + ${o.llmTokensPerSecond} tok/s, TTS ${o.ttsFirstByteMs} ms ×${o.ttsSpeed}` +
      `${canPin ? ' · server on core 0, generator on core 1' : ''}${o.profile ? ' · profiling the server' : ''}`,
  );
  const fakes = await startBenchFakes(o, canPin ? 1 : undefined, trackChild);
  try {
    const main = await measure(o.server, o, fakes, canPin);
    let floor: Measured | undefined;
    if (o.floor && o.server === 'product') {
      log('\nthe same levels against the floor server (bench/floor/server.ts):');
      floor = await measure('floor', { ...o, mode: 'levels', calls: main.rows.map((r) => r.calls), profile: false }, fakes, canPin);
      for (const r of main.rows) {
        const f = floor.rows.find((x) => x.calls === r.calls);
        // Same N on both: CPU per call divides out.
        if (f && f.cpu.server > 0) r.cpuPerCallRatio = round(r.cpu.server / f.cpu.server, 2);
      }
    }
    report(o, started, canPin, fakes, main, floor);
  } finally {
    await fakes.close();
  }
}

interface Measured {
  rows: LevelRow[];
  idleRssMb: number;
  callsPlaced: number;
  rampMax: number | null;
  rampStop: string | undefined;
  soak: Awaited<ReturnType<Bench['soak']>> | undefined;
  logLines: string[];
  logCount: number;
  logByMessage: Record<string, number>;
}

/** Starts a server of `kind`, drives the levels (or ramp, or soak) against it, stops it. */
async function measure(kind: 'product' | 'floor', o: BenchOptions, fakes: BenchFakes, canPin: boolean): Promise<Measured> {
  let server: ServerChild | undefined;
  let bench: Bench | undefined;
  let gen: LoadGenerator | undefined;
  try {
    server = await startServer({
      providers: {
        openaiUrl: fakes.urls.openai,
        elevenLabsUrl: fakes.urls.tts,
        elevenLabsKey: fakes.urls.ttsKey,
        deepgramUrl: fakes.urls.deepgram,
        deepgramKey: fakes.urls.deepgramKey,
        twilioRestUrl: fakes.urls.rest,
      },
      core: canPin ? 0 : undefined,
      profileDir: o.profile ? RESULTS_DIR : undefined,
      kind,
      tsx: o.tsx,
      productRoot: o.productRoot,
    });
    const idleRssMb = rssMb(server.pid) ?? 0;
    log(`${kind} server (${o.productRoot && kind === 'product' ? `tsx, from ${o.productRoot}` : o.tsx ? 'tsx, from source' : 'compiled JavaScript'}) pid ${server.pid} ready at ${server.url} (RSS ${idleRssMb.toFixed(0)} MB idle)`);
    gen = new LoadGenerator(
      {
        serverUrl: server.url,
        publicUrl: server.url,
        authToken: AUTH_TOKEN,
        accountSid: ACCOUNT_SID,
        to: BENCH_NUMBER,
        callSeconds: o.callSeconds,
        keypadTurns: o.keypadTurns,
        bargeInEvery: o.bargeInEvery,
        sttFinalMs: o.sttFinalMs,
        fakes,
      },
      o.arrivalPerSecond,
    );
    gen.start();
    bench = new Bench(o, server, fakes, gen);

    let soak: Awaited<ReturnType<Bench['soak']>> | undefined;
    let rampMax: number | null = null;
    let rampStop: string | undefined;
    if (o.mode === 'levels') {
      for (const n of o.calls) await bench.level(n, o.durationMs);
    } else if (o.mode === 'ramp') {
      for (let n = o.rampStart; n <= o.rampMax; n += o.rampStep) {
        const row = await bench.level(n, o.durationMs);
        if (!row.valid) {
          rampStop = `N=${n} invalid: ${row.invalidReason}`;
          break;
        }
        if (row.brokenBudgets.length) {
          rampStop = `N=${n} over budget: ${row.brokenBudgets.join(', ')}`;
          break;
        }
        rampMax = n;
      }
      rampStop ??= `reached --ramp-max ${o.rampMax}`;
    } else {
      soak = await bench.soak(o.calls[0]!, o.soakMs);
      await bench.level(o.calls[0]!, o.durationMs);
    }
    return {
      rows: bench.rows,
      idleRssMb,
      callsPlaced: gen.callsStarted,
      rampMax,
      rampStop,
      soak,
      logLines: [...server.logLines],
      logCount: server.logCount,
      logByMessage: Object.fromEntries([...server.logByMessage].sort((a, b) => b[1] - a[1])),
    };
  } finally {
    bench?.stop();
    if (gen) {
      await gen.hangUpAll();
      gen.stop();
    }
    await server?.stop();
    if (server?.profile) log(`server CPU profile: ${server.profile} (npx tsx bench/profile-summary.ts ${server.profile})`);
  }
}

function report(o: BenchOptions, started: Date, canPin: boolean, fakes: BenchFakes, m: Measured, floor: Measured | undefined): void {
  const { rows, idleRssMb, rampMax, rampStop, soak } = m;
  const spokenAvailable = fakes.sttSeen;
  const rssPoints = rows.filter((r) => r.valid).map((r) => ({ x: r.calls, y: r.serverRssMb }));
  const rssPerCallMb =
    rssPoints.length >= 2 ? slope(rssPoints) : rssPoints.length === 1 ? (rssPoints[0]!.y - idleRssMb) / rssPoints[0]!.x : null;
  // The headline row: the ramp's maximum, else the largest valid level.
  const valid = rows.filter((r) => r.valid);
  const head = (rampMax !== null ? rows.find((r) => r.calls === rampMax) : undefined) ?? valid.at(-1) ?? rows.at(-1);
  log('');
  log(printTable(rows));
  if (floor) {
    log('\nfloor:');
    log(printTable(floor.rows));
    log(`cpuPerCallRatio (product CPU ÷ floor CPU at the same N): ${rows.map((r) => `${r.calls}: ${r.cpuPerCallRatio ?? '—'}`).join(', ')}`);
    log(`floor idle RSS ${floor.idleRssMb.toFixed(0)} MB`);
  }
  log('');
  if (!spokenAvailable) log('note: the server opened no Deepgram connection: keypad turns only (no spoken turns, barge-ins or overhead figures yet)');
  if (rssPerCallMb !== null) log(`RSS per call: ${rssPerCallMb.toFixed(3)} MB (${rssPoints.length >= 2 ? 'slope over N' : 'above idle'}; idle ${idleRssMb.toFixed(0)} MB)`);
  if (o.mode === 'ramp') log(`ramp: largest N meeting every budget = ${rampMax ?? 'none'} (${rampStop})`);
  if (soak) log(`soak: RSS slope ${soak.rssSlopeMbPerMin ?? '—'} MB/min over ${(o.soakMs / 60_000).toFixed(0)} min; errors ${JSON.stringify(soak.errorsByKind)}`);
  for (const r of rows.filter((r) => !r.valid)) log(`INVALID N=${r.calls}: ${r.invalidReason}`);
  if (m.logLines.length) {
    const top = Object.entries(m.logByMessage).slice(0, 8);
    log(`server log: ${m.logCount} warnings/errors, most frequent:\n  ${top.map(([msg, n]) => `${n} × ${msg}`).join('\n  ')}`);
    log(`last lines:\n  ${m.logLines.slice(-3).join('\n  ')}`);
  }

  const result = {
    calls: head?.calls ?? null,
    overheadMs: head ? { p50: head.overheadMs.p50, p95: head.overheadMs.p95, p99: head.overheadMs.p99 } : null,
    firstGreetingByteMs: head ? { p50: head.firstGreetingByteMs.p50, p95: head.firstGreetingByteMs.p95 } : null,
    overheadInsideMs: head ? { p50: head.overheadInsideMs.p50, p95: head.overheadInsideMs.p95, p99: head.overheadInsideMs.p99 } : null,
    clearMs: head ? { p50: head.clearMs.p50, p95: head.clearMs.p95 } : null,
    interruptMs: head ? { p50: head.interruptMs.p50, p95: head.interruptMs.p95 } : null,
    interruptHeardMs: head ? { p50: head.interruptHeardMs.p50, p95: head.interruptHeardMs.p95 } : null,
    underruns: head?.underruns ?? null,
    rssPerCallMb: round(rssPerCallMb, 3),
    cpu: head ? head.cpu : null,
    cpuPerCallRatio: head?.cpuPerCallRatio ?? null,
    eventLoopDelayP99Ms: head?.eventLoopDelayP99Ms ?? null,
    valid: head?.valid ?? false,
    mode: o.mode,
    server: o.server,
    startedAt: started.toISOString(),
    spokenTurnsAvailable: spokenAvailable,
    idleRssMb: round(idleRssMb),
    budgets: DEFAULT_BUDGETS,
    ...(o.mode === 'ramp' ? { rampMax, rampStop } : {}),
    ...(soak ? { soak } : {}),
    options: { ...o, rest: undefined },
    pinned: canPin,
    callsPlaced: m.callsPlaced,
    rows,
    ...(floor ? { floor: { idleRssMb: round(floor.idleRssMb), rows: floor.rows } } : {}),
  };
  const file = writeResult(RESULTS_DIR, result);
  log(`\nwrote ${file}`);
}

async function main(): Promise<void> {
  let o: BenchOptions;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write((err as Error).message + '\n');
    process.exit(2);
  }
  if (o.mode === 'validator') {
    const { runValidatorBench } = await import('./validator.js');
    const r = runValidatorBench(Number(o.rest[0] ?? 10_000), Number(o.rest[1] ?? 20));
    log(`validator: ${r.nodes} nodes, median ${r.medianMs.toFixed(1)} ms, p95 ${r.p95Ms.toFixed(1)} ms`);
    return;
  }
  if (o.mode === 'audio') {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'audio.ts'), ...o.rest], { stdio: 'inherit', cwd: REPO_ROOT });
    const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
    process.exit(code);
  }
  await runLoad(o);
}

// Children never outlive the bench, however it ends.
process.on('exit', killChildren);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    killChildren();
    process.exit(130);
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    killChildren();
    process.exit(1);
  },
);
