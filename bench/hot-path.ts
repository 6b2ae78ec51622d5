import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import type { WebSocket } from 'ws';
import { Calls } from '../src/calls/calls.js';
import { MemoryCallEventBus } from '../src/calls/events.js';
import { MemoryCallRepository } from '../src/calls/repository.js';
import type { Clock, TimerHandle } from '../src/core/clock.js';
import { silentLogger } from '../src/core/logger.js';
import { flowSchema } from '../src/flow/schema.js';
import { CallSession } from '../src/pipeline/call-session.js';
import { CallListening } from '../src/pipeline/listening.js';
import { ClockPacer } from '../src/pipeline/pacer.js';
import { ProviderEndpoint } from '../src/providers/endpoints.js';
import { observeStt, observeTts } from '../src/providers/observed.js';
import { DeepgramStt } from '../src/providers/stt/deepgram.js';
import { FailoverStt } from '../src/providers/stt/failover.js';
import type { TtsPort, TtsRequest } from '../src/providers/tts/port.js';
import { fakeSpeech } from '../src/core/audio/tone.js';
import { FailoverTts } from '../src/providers/tts/failover.js';
import { attachMediaStream } from '../src/telephony/media-stream.js';
import type { StreamTokens } from '../src/telephony/stream-token.js';

/**
 * The per-frame cost of the call hot path, as a fixed deterministic workload
 * (`npx tsx bench/hot-path.ts [in|out|both] [calls] [seconds]`): `calls` calls
 * of `seconds` each go through the real server code in one process, on a
 * virtual clock advanced 20 ms per step, as fast as the CPU allows.
 *
 * - inbound (`in`): Twilio media JSON (the exact bytes `ws` hands over) →
 *   `attachMediaStream` (rate limit, fast parse, base64 decode) → the call
 *   session → listening (turn-taking) → the metrics / failover / breaker STT
 *   wrappers → `DeepgramStt` (replay ring, 40 ms batches) → a real WebSocket
 *   to the fake Deepgram, which runs in a child process (so only the server's
 *   side is counted) and sends an empty final Result per second of audio.
 * - outbound (`out`): each call speaks without pause: the speaker, the
 *   metrics / failover / breaker TTS wrappers around an in-process TTS
 *   (1000-byte chunks of audio made once, 2.5× real time), the playout (μ-law frames, 100 ms
 *   media messages paced by the process pacer), the Twilio serializer → the
 *   socket's `send`. Marks are echoed 200 ms later, as Twilio does.
 * - `both`: full duplex.
 *
 * Not included: the `ws` library on the Twilio side (receive, unmask, send
 * framing) and Node's socket writes for Twilio; they are the same per frame
 * whatever the code above does.
 *
 * Wall and CPU time are printed but depend on the machine's load; the
 * load-independent figure is the instruction count from callgrind, taken by
 * bench/hot-path-count.ts (two runs of different lengths, differenced, so start-up
 * cancels out).
 */

type Mode = 'in' | 'out' | 'both';

/** A virtual clock that fires due timers synchronously; the loop gets real turns between steps for socket I/O. */
class StepClock implements Clock {
  private t = 0;
  private seq = 0;
  private heap: { at: number; seq: number; fn: () => void; cancelled: boolean }[] = [];

  now(): number {
    return this.t;
  }

  wallNow(): number {
    return Date.UTC(2026, 0, 5, 15) + this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        handle.cancel();
        reject(signal?.reason);
      };
      const handle = this.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Fires every timer due up to `target`, in order, then sets the time to it. */
  runUntil(target: number): void {
    for (;;) {
      const top = this.heap[0];
      if (!top || top.at > target) break;
      this.pop();
      if (top.cancelled) continue;
      this.t = top.at;
      top.fn();
    }
    this.t = target;
  }

  private less(a: number, b: number): boolean {
    const x = this.heap[a]!;
    const y = this.heap[b]!;
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }

  private swap(a: number, b: number): void {
    const h = this.heap;
    [h[a], h[b]] = [h[b]!, h[a]!];
  }

  private push(timer: StepClock['heap'][number]): void {
    this.heap.push(timer);
    for (let i = this.heap.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private pop(): void {
    const last = this.heap.pop()!;
    if (this.heap.length === 0) return;
    this.heap[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.heap.length && this.less(l, m)) m = l;
      if (r < this.heap.length && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }
}

/** The subset of a `ws` WebSocket that attachMediaStream uses; outbound messages are counted, marks echoed. */
class BenchSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  messagesOut = 0;
  bytesOut = 0;

  constructor(
    private readonly clock: Clock,
    private readonly streamSid: string,
  ) {
    super();
  }

  send(data: string): void {
    this.messagesOut++;
    this.bytesOut += data.length;
    if (data.startsWith('{"event":"mark"')) {
      const name = (JSON.parse(data) as { mark: { name: string } }).mark.name;
      const echo = Buffer.from(`{"event":"mark","sequenceNumber":"0","streamSid":"${this.streamSid}","mark":{"name":${JSON.stringify(name)}}}`);
      this.clock.setTimeout(() => this.readyState === this.OPEN && this.emit('message', echo, false), 200);
    }
  }

  close(): void {
    if (this.readyState !== this.OPEN) return;
    this.readyState = 3;
    this.emit('close', 1000, Buffer.alloc(0));
  }
}

const SPOKEN =
  'Thanks for calling, this is the agent speaking for a while so that the outbound path stays busy. ' +
  'Every sentence becomes a segment of its own, with frames, a mark and the wait for its echo. ';

/**
 * The TTS under the wrappers: each text's audio made once (the fake tone), then
 * streamed in 1000-byte chunks 50 ms apart (2.5× real time), so the count
 * holds the server's work rather than the tone generator's.
 */
class ChunkedTts implements TtsPort {
  private readonly audio = new Map<string, Uint8Array>();

  constructor(private readonly clock: Clock) {}

  async *synthesize(request: TtsRequest): AsyncIterable<Uint8Array> {
    let audio = this.audio.get(request.text);
    if (!audio) this.audio.set(request.text, (audio = fakeSpeech(request.text)));
    for (let offset = 0; offset < audio.length; offset += 1000) {
      if (offset > 0) {
        try {
          await this.clock.sleep(50, request.signal);
        } catch {
          return;
        }
      }
      if (request.signal?.aborted) return;
      yield audio.subarray(offset, offset + 1000);
    }
  }
}

/** Twilio's media frames for one call, as `ws` delivers them (a Buffer per text message). */
function twilioFrames(streamSid: string, count: number): Buffer[] {
  const frames: Buffer[] = [];
  const payload = Buffer.alloc(160);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < 160; k++) payload[k] = (i * 31 + k * 7) & 0xff;
    frames.push(
      Buffer.from(
        `{"event":"media","sequenceNumber":"${i + 2}","media":{"track":"inbound","chunk":"${i + 1}","timestamp":"${i * 20}","payload":"${payload.toString('base64')}"},"streamSid":"${streamSid}"}`,
      ),
    );
  }
  return frames;
}

async function main(): Promise<void> {
  const mode = (process.argv[2] ?? 'both') as Mode;
  const callCount = Number(process.argv[3] ?? 20);
  const seconds = Number(process.argv[4] ?? 10);
  const warmupSeconds = Number(process.argv[5] ?? 2);
  if (!['in', 'out', 'both'].includes(mode)) throw new Error(`mode must be in, out or both, not ${mode}`);
  // Under bench/hot-path-count.ts: wait for its word before and after the measured seconds (it switches counting on and off).
  const handshake = process.env.HOT_PATH_HANDSHAKE === '1';
  const lines = handshake ? createInterface({ input: process.stdin }) : undefined;
  const nextLine = () => new Promise<string>((r) => lines!.once('line', r));

  // The same file, as the fake Deepgram (run with this process's loader, if any; its stdout stays quiet).
  const child = fork(process.argv[1]!, ['fake'], { execArgv: process.execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const { url, key } = await new Promise<{ url: string; key: string }>((r) => child.once('message', (m) => r(m as { url: string; key: string })));

  const clock = new StepClock();
  const logger = silentLogger;
  const onError = () => {};
  const stt = observeStt(
    new FailoverStt([{ endpoint: new ProviderEndpoint('stt', 'primary', 'deepgram', clock, logger), stt: new DeepgramStt({ apiKey: key, baseUrl: url, clock, logger }) }], logger),
    onError,
  );
  const tts = observeTts(
    new FailoverTts([{ endpoint: new ProviderEndpoint('tts', 'primary', 'elevenlabs', clock, logger), tts: new ChunkedTts(clock) }], logger),
    onError,
  );
  const flow = flowSchema.parse({ version: 1, name: 'Hot path', start: 'end', nodes: [{ id: 'end', type: 'end', text: 'Bye.' }] });
  const calls = new Calls(new MemoryCallRepository(), new MemoryCallEventBus(), clock, logger);
  const pacer = new ClockPacer({ clock });
  const tokens = { verify: () => ({ ok: true }) } as unknown as StreamTokens;
  const voice = { voiceId: 'bench-voice', modelId: 'eleven_flash_v2_5', language: 'en-US' };
  const sessions: CallSession[] = [];
  const sockets: BenchSocket[] = [];
  const frames: Buffer[][] = [];
  const warmupSteps = warmupSeconds * 50;
  const steps = seconds * 50;

  for (let i = 0; i < callCount; i++) {
    const callSid = `CA${String(i).padStart(32, '0')}`;
    const streamSid = `MZ${String(i).padStart(32, '0')}`;
    await calls.open({ callSid, accountSid: 'AC1', agentId: 'agent-1', slug: 'bench', version: 1, from: '+15550001111', to: '+15550100002', direction: 'inbound' });
    const socket = new BenchSocket(clock, streamSid);
    sockets.push(socket);
    frames.push(mode === 'out' ? [] : twilioFrames(streamSid, warmupSteps + steps));
    const opened = new Promise<void>((resolve) => {
      attachMediaStream(socket as unknown as WebSocket, {
        tokens,
        calls,
        clock,
        logger,
        openSession: async ({ channel }) => {
          const session = new CallSession({ callSid, channel, calls, clock, logger, pacer, tts, phrases: { get: async () => undefined }, flow, voice });
          new CallListening({ callSid, session, stt, flow, calls, clock, logger }).start();
          sessions.push(session);
          resolve();
          return session;
        },
      });
    });
    socket.emit(
      'message',
      Buffer.from(
        `{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"${streamSid}","callSid":"${callSid}","tracks":["inbound"],"customParameters":{"token":"t"},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid":"${streamSid}"}`,
      ),
      false,
    );
    await opened;
  }
  // Every Deepgram connection open before the workload starts.
  const realTurn = () => new Promise<void>((r) => setImmediate(r));
  for (let spins = 0; spins < 500 && (await connectedCount(child)) < callCount; spins++) await new Promise((r) => setTimeout(r, 20));

  if (mode !== 'in') {
    for (const session of sessions) {
      void (async () => {
        while (!session.isClosed) await session.say(SPOKEN, { interruptible: false, cacheable: false });
      })().catch(() => undefined);
    }
  }

  const run = async (from: number, count: number) => {
    for (let step = from; step < from + count; step++) {
      for (let i = 0; i < callCount; i++) {
        const frame = frames[i]![step];
        if (frame) sockets[i]!.emit('message', frame, false);
      }
      clock.runUntil(clock.now() + 20);
      await realTurn();
    }
  };
  // Warm-up (the JIT settles; not measured), then the measured seconds.
  await run(0, warmupSteps);
  if (handshake) {
    process.stdout.write('READY\n');
    await nextLine();
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(warmupSteps, steps);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  if (handshake) {
    process.stdout.write('DONE\n');
    await nextLine();
  }
  const callSeconds = callCount * seconds;
  const out = sockets.reduce((n, s) => n + s.messagesOut, 0);
  const received = await audioReceived(child);
  process.stdout.write(
    JSON.stringify({
      mode,
      calls: callCount,
      seconds,
      callSeconds,
      warmupSeconds,
      framesIn: mode === 'out' ? 0 : callCount * steps,
      messagesOut: out,
      deepgramAudioBytes: received,
      wallMs: Math.round(wallMs),
      cpuMsPerCallSecond: Number(((cpu.user + cpu.system) / 1000 / callSeconds).toFixed(4)),
    }) + '\n',
  );
  for (const s of sockets) s.close();
  child.kill();
  process.exit(0);
}

/** Asks the fake Deepgram process how many connections are open. */
function connectedCount(child: ReturnType<typeof fork>): Promise<number> {
  return ask(child, 'connections');
}

function audioReceived(child: ReturnType<typeof fork>): Promise<number> {
  return ask(child, 'bytes');
}

function ask(child: ReturnType<typeof fork>, what: 'connections' | 'bytes'): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve((m as { value: number }).value));
    child.send({ ask: what });
  });
}

if (process.argv[2] === 'fake') {
  const { startFakeDeepgram } = await import('../src/testing/deepgram-server.js');
  const f = await startFakeDeepgram({ recordAudio: false, idleCloseMs: 600_000 });
  process.on('message', (m: { ask: 'connections' | 'bytes' }) => {
    const value =
      m.ask === 'connections'
        ? f.connections.filter((c) => c.open).length
        : f.connections.reduce((n, c) => n + c.bytesReceived, 0);
    process.send?.({ value });
  });
  process.send?.({ url: f.url, key: f.apiKey });
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}
