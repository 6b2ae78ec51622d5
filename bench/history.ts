import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * CPU of the call history writer and the live call records outside the audio
 * path: the real ledger (src/calls/calls.ts) on the in-memory repository, the
 * real recorder (src/calls/recorder.ts) writing through the real SQL store
 * (src/store/calls-repo.ts) to a temporary SQLite file, driven by the events
 * of N bench-like calls (60 s calls, a caller turn every 4 s answered by the
 * agent, snapshots saved at every step, ended calls replaced) on a virtual
 * clock, so the same work is done however loaded the machine is.
 *
 * The first 60 virtual seconds fill N calls with staggered starts (so call
 * ages, and transcript lengths, are spread as in a steady run); then the CPU
 * of the process (user + system) over `seconds` virtual seconds is measured.
 * Each run also prints a digest of everything the history stored (calls rows,
 * events, per-turn metrics rows; event ids left out, they are random), which
 * must be the same for two checkouts whose stored data is the same.
 *
 * `npx tsx bench/history.ts [calls=200] [seconds=60] [runs=5] [root=.] [root2]`
 * runs `runs` times per root, alternating roots, each in a fresh process, and
 * prints each run and the median with min and max.
 */

const STEP_MS = 50;
const CALL_MS = 60_000;
const TURN_EVERY_MS = 4_000;
const WARMUP_MS = 60_000;

interface RunReport {
  root: string;
  calls: number;
  seconds: number;
  cpuMs: number;
  cpuUsPerCallSecond: number;
  /** Wall time of the measured seconds: the CPU and the waits for the disk (commits). */
  wallMs: number;
  events: number;
  digest: string;
}

if (process.argv[2] === '--child') {
  const report = await child(resolve(process.argv[3]!), Number(process.argv[4]), Number(process.argv[5]));
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(0);
} else {
  await parent();
}

async function parent(): Promise<void> {
  const calls = Number(process.argv[2] ?? 200);
  const seconds = Number(process.argv[3] ?? 60);
  const runs = Number(process.argv[4] ?? 5);
  const roots = [process.argv[5] ?? join(import.meta.dirname, '..'), ...(process.argv[6] ? [process.argv[6]] : [])].map((r) => resolve(r));
  const results = new Map<string, RunReport[]>(roots.map((r) => [r, []]));
  for (let run = 0; run < runs; run++) {
    for (const root of roots) {
      const report = await spawnChild(root, calls, seconds);
      results.get(root)!.push(report);
      process.stdout.write(JSON.stringify({ run, ...report }) + '\n');
    }
  }
  for (const [root, reports] of results) {
    const stats = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted.at(-1)! };
    };
    const cpu = stats(reports.map((r) => r.cpuMs));
    const median = cpu.median;
    process.stdout.write(
      JSON.stringify({
        root,
        calls,
        seconds,
        cpuMs: cpu,
        wallMs: stats(reports.map((r) => r.wallMs)),
        cpuUsPerCallSecond: Math.round((median * 1000) / (calls * seconds)),
        digests: [...new Set(reports.map((r) => r.digest))],
      }) + '\n',
    );
  }
}

function spawnChild(root: string, calls: number, seconds: number): Promise<RunReport> {
  return new Promise((resolveRun, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', root, String(calls), String(seconds)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => (code === 0 ? resolveRun(JSON.parse(out.trim().split('\n').at(-1)!) as RunReport) : reject(new Error(`run failed: exit ${code}`))));
  });
}

async function child(root: string, callCount: number, seconds: number): Promise<RunReport> {
  const load = (path: string) => import(pathToFileURL(join(root, 'src', path)).href);
  const { ManualClock } = await load('core/clock.ts');
  const { silentLogger } = await load('core/logger.ts');
  const { Calls } = await load('calls/calls.ts');
  const { MemoryCallEventBus } = await load('calls/events.ts');
  const { CallRecorder } = await load('calls/recorder.ts');
  const { MemoryCallRepository } = await load('calls/repository.ts');
  const { openDb } = await load('store/db.ts');
  const { migrateToLatest } = await load('store/migrate.ts');
  const { SqlCallStore } = await load('store/calls-repo.ts');

  const dir = mkdtempSync(join(tmpdir(), 'history-bench-'));
  const store = await openDb(`sqlite:${join(dir, 'history.db')}`);
  await migrateToLatest(store);
  const clock = new ManualClock();
  const logger = silentLogger;
  const bus = new MemoryCallEventBus();
  const live = new MemoryCallRepository();
  const calls = new Calls(live, bus, clock, logger);
  const history = new SqlCallStore(store.db, clock);
  const recorder = new CallRecorder({ live, bus, history, clock, logger });
  let events = 0;
  bus.subscribe(() => events++);

  const sentences = [
    'Thanks for calling, how can I help you today?',
    'I would like to check the status of my order from last week, please.',
    'Of course. Could you give me the order number, or the phone number it was placed with?',
    'It is four four seven, two one nine, and it was for two items.',
    'Thank you. I can see the order: it left our warehouse yesterday and should arrive on Thursday.',
    'Great, and can I still change the delivery address?',
    'Yes, until it reaches the local depot. What address should we use instead?',
  ];
  const text = (i: number) => sentences[i % sentences.length]!;

  interface LiveCall {
    sid: string;
    startMs: number;
    turn: number;
    transcript: { role: 'caller' | 'agent'; text: string; heardText?: string; nodeId: string; at: number }[];
    node: string;
  }
  let serial = 0;
  const snapshotOf = (c: LiveCall, phase: 'listen' | 'reply') => ({
    schemaVersion: 1,
    agent: { id: 'ag_bench', slug: 'bench', name: 'Bench', version: 3 },
    call: { sid: c.sid, from: '+15550001111', to: '+15550199999' },
    status: 'running',
    nodeId: c.node,
    step: { type: 'conversation', phase, turns: c.turn, spokeFirst: true, toolLog: [] },
    variables: { caller: { number: '+15550001111' }, orderNumber: '447219', attempts: c.turn % 3 },
    transcript: c.transcript.map((e) => ({ ...e })),
    counters: { steps: 2 + c.turn * 2, llmRequests: c.turn, callerTurns: c.turn, agentTurns: c.turn + 1, fallbacks: 0, resumes: 0, visits: { start: 1, [c.node]: c.turn } },
  });
  const metricsOf = (n: number) => ({
    endpointMs: 310 + (n % 7),
    responseMs: 720 + (n % 13),
    llmFirstTokenMs: 300 + (n % 5),
    llmFirstSentenceMs: 420 + (n % 11),
    ttsFirstByteMs: 150 + (n % 3),
    overheadMs: 2 + (n % 4),
  });

  const start = async (startMs: number): Promise<LiveCall> => {
    const c: LiveCall = { sid: `CA${String(serial++).padStart(32, '0')}`, startMs, turn: 0, transcript: [], node: 'start' };
    await calls.open({ callSid: c.sid, accountSid: 'AC1', agentId: 'ag_bench', slug: 'bench', version: 3, from: '+15550001111', to: '+15550199999', direction: 'inbound' });
    calls.armStreamStart(c.sid);
    return c;
  };
  const actions = async (c: LiveCall, from: number, to: number): Promise<boolean> => {
    const at = (ms: number) => from < c.startMs + ms && c.startMs + ms <= to;
    const sid = c.sid;
    if (at(300)) {
      await calls.streamStarted(sid, `MZ${sid.slice(2)}`);
      calls.emit({ type: 'node.entered', callSid: sid, nodeId: 'start', nodeType: 'conversation' });
      void calls.bumpMetrics(sid, { cachedPhrases: 1 });
      c.transcript.push({ role: 'agent', text: text(0), heardText: text(0), nodeId: c.node, at: clock.wallNow() });
      calls.emit({ type: 'turn.agent', callSid: sid, text: text(0), heardText: text(0), outcome: 'played', cached: true, nodeId: c.node });
      void calls.addTurn(sid, { role: 'agent', text: text(0), at: clock.wallNow(), nodeId: c.node });
      void calls.saveSnapshot(sid, snapshotOf(c, 'listen'));
    }
    for (let t = 2_000; t < CALL_MS - 1_000; t += TURN_EVERY_MS) {
      if (at(t)) {
        c.turn++;
        const said = text(2 * c.turn + 1);
        c.transcript.push({ role: 'caller', text: said, nodeId: c.node, at: clock.wallNow() });
        calls.emit({ type: 'turn.caller', callSid: sid, text: said, via: 'speech' });
        void calls.addTurn(sid, { role: 'caller', text: said, at: clock.wallNow(), nodeId: c.node, via: 'speech' });
        void calls.saveSnapshot(sid, snapshotOf(c, 'reply'));
      }
      if (at(t + 800)) {
        void calls.bumpMetrics(sid, { ttsRequests: 1 });
        if (c.turn % 3 === 0) {
          c.node = `node${c.turn}`;
          calls.emit({ type: 'node.entered', callSid: sid, nodeId: c.node, nodeType: 'conversation' });
        }
      }
      if (at(t + 2_500)) {
        const reply = text(2 * c.turn);
        const interrupted = c.turn % 5 === 0;
        const heard = interrupted ? `${reply.slice(0, 20)}…` : reply;
        if (interrupted) {
          calls.emit({ type: 'barge_in', callSid: sid, heardText: heard, reason: 'speech' });
          void calls.bumpMetrics(sid, { bargeIns: 1 });
        }
        const metrics = metricsOf(serial + c.turn);
        c.transcript.push({ role: 'agent', text: reply, heardText: heard, nodeId: c.node, at: clock.wallNow() });
        calls.emit({ type: 'turn.agent', callSid: sid, text: reply, heardText: heard, outcome: interrupted ? 'interrupted' : 'played', cached: false, nodeId: c.node, metrics });
        void calls.addTurn(sid, { role: 'agent', text: heard, at: clock.wallNow(), nodeId: c.node, ...(interrupted ? { interrupted: true } : {}), metrics });
        void calls.saveSnapshot(sid, snapshotOf(c, 'listen'));
      }
    }
    if (at(CALL_MS)) {
      await calls.bumpMetrics(sid, { framesIn: 3000, framesOut: 2400, ignoredFrames: 0 });
      await calls.streamEnded(sid, `MZ${sid.slice(2)}`, 'stop');
      return true;
    }
    return false;
  };

  const live_: LiveCall[] = [];
  let measuredFrom: NodeJS.CpuUsage | undefined;
  let wallFrom = 0;
  let eventsFrom = 0;
  const endMs = WARMUP_MS + seconds * 1000;
  for (let now = 0; now < endMs; now += STEP_MS) {
    if (now === WARMUP_MS) {
      measuredFrom = process.cpuUsage();
      wallFrom = performance.now();
      eventsFrom = events;
    }
    // Fill: starts spread over the first call length, so ages are spread as in a steady run.
    while (live_.length < callCount && now >= (live_.length * CALL_MS) / callCount) live_.push(await start(now));
    for (let i = 0; i < live_.length; i++) {
      if (await actions(live_[i]!, now - STEP_MS, now)) live_[i] = await start(now);
    }
    await clock.advance(STEP_MS);
  }
  await recorder.flush();
  const used = process.cpuUsage(measuredFrom);
  const wallMs = Math.round(performance.now() - wallFrom);
  const measuredEvents = events - eventsFrom;
  await recorder.close();
  calls.close();

  // What the history stored, event ids aside.
  const hash = createHash('sha256');
  for (const r of await store.db.selectFrom('calls').selectAll().orderBy('call_sid').execute()) hash.update(JSON.stringify(r));
  for (const r of await store.db.selectFrom('call_events').select(['call_sid', 'type', 'at', 'data']).orderBy('call_sid').orderBy('id').execute()) hash.update(JSON.stringify(r));
  for (const r of await store.db.selectFrom('call_turn_metrics').selectAll().orderBy('call_sid').orderBy('at').execute()) {
    const { id: _id, ...rest } = r;
    hash.update(JSON.stringify(rest));
  }
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const cpuMs = (used.user + used.system) / 1000;
  return {
    root,
    calls: callCount,
    seconds,
    cpuMs: Math.round(cpuMs),
    cpuUsPerCallSecond: Math.round((cpuMs * 1000) / (callCount * seconds)),
    wallMs,
    events: measuredEvents,
    digest: hash.digest('hex').slice(0, 16),
  };
}
