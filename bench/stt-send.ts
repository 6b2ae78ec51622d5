import { fork, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DeepgramStt } from '../src/providers/stt/deepgram.js';
import type { SttSession } from '../src/providers/stt/port.js';

/**
 * `npm run bench -- stt-send [calls] [seconds]`: what batching caller audio to
 * Deepgram saves on the server's side. `calls` real DeepgramStt sessions (the
 * official SDK) stream 20 ms μ-law frames in real time to the fake Deepgram,
 * which runs in a child process so only the sending side is timed; this
 * process's CPU time per call-second is measured for each `sendIntervalMs`
 * (20 = a message per frame, as before; 40 = the default; 100), alternating
 * twice so drift on a shared machine falls on both. CPU time, not latency:
 * it stays meaningful when other work shares the core.
 */

if (process.argv[2] === 'fake') {
  const { startFakeDeepgram } = await import('../src/testing/deepgram-server.js');
  const f = await startFakeDeepgram({ recordAudio: false, idleCloseMs: 60_000 });
  process.send?.({ url: f.url, key: f.apiKey });
  process.on('disconnect', () => process.exit(0));
} else {
  const calls = Number(process.argv[2] ?? 200);
  const seconds = Number(process.argv[3] ?? 10);
  const child = fork(join(import.meta.dirname, 'stt-send.ts'), ['fake'], { execArgv: ['--import', 'tsx'] });
  // The fake on the other core when pinned: this process's core does only the sending.
  spawnSync('taskset', ['-a', '-p', '-c', '1', String(child.pid)], { stdio: 'ignore' });
  const { url, key } = await new Promise<{ url: string; key: string }>((r) => child.once('message', (m) => r(m as { url: string; key: string })));
  const stt = new DeepgramStt({ apiKey: key, baseUrl: url });
  const frame = Buffer.alloc(160, 0xff);
  const results: Record<number, number[]> = {};
  for (const interval of [20, 40, 100, 20, 40, 100]) {
    const sessions: SttSession[] = [];
    for (let i = 0; i < calls; i++) sessions.push(stt.open({ language: 'en-US', sendIntervalMs: interval }, () => {}));
    await new Promise((r) => setTimeout(r, 1500)); // connected
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let sent = 0;
    await new Promise<void>((done) => {
      const timer = setInterval(() => {
        const due = Math.floor((performance.now() - t0) / 20);
        for (; sent < due; sent++) for (const s of sessions) s.sendAudio(frame);
        if (performance.now() - t0 >= seconds * 1000) {
          clearInterval(timer);
          done();
        }
      }, 20);
    });
    const cpu = process.cpuUsage(cpu0);
    const wall = performance.now() - t0;
    const perCallMs = (cpu.user + cpu.system) / 1000 / calls / (wall / 1000);
    (results[interval] ??= []).push(perCallMs);
    process.stdout.write(`sendIntervalMs ${interval}: ${(((cpu.user + cpu.system) / 1000 / wall) * 100).toFixed(1)} % of a core for ${calls} calls = ${perCallMs.toFixed(3)} ms CPU per call-second\n`);
    await Promise.all(sessions.map((s) => s.close()));
  }
  for (const [k, v] of Object.entries(results)) process.stdout.write(`sendIntervalMs ${k}: median ${[...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!.toFixed(3)} ms CPU per call-second\n`);
  child.kill();
  process.exit(0);
}
