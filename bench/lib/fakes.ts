import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import type { SayOptions } from '../../src/testing/deepgram-server.js';
import type { BenchOptions } from './args.js';
import type { TurnStamps } from './hops.js';

/**
 * The generator's handle on the provider fakes, which run in a child process
 * of their own (bench/lib/fakes-child.ts, pinned to core 1 like the
 * generator): the generator's event loop then carries only the simulated
 * Twilio calls, so its delay — the run's validity — is not the fakes' work.
 */

/** ~14 characters per second: a natural speaking rate, so agent turns last as long as real ones. */
export const SPEECH_BYTES_PER_CHAR = 560;

/** The agent's answer to every spoken turn (two sentences, ~6 s of speech). */
export const BENCH_REPLY = 'Sure, I can help with that. Your order is on its way and should arrive in about twenty minutes.';

/** First audio frame of call `id`: "BNCH" + id (uint32 BE), then μ-law silence. */
export const TAG_MAGIC = 0x424e4348;

export function taggedFrame(id: number, bytes = 160): Buffer {
  const b = Buffer.alloc(bytes, 0xff);
  b.writeUInt32BE(TAG_MAGIC, 0);
  b.writeUInt32BE(id >>> 0, 4);
  return b;
}

export function readTag(chunk: Buffer): number | undefined {
  if (chunk.length < 8 || chunk.readUInt32BE(0) !== TAG_MAGIC) return undefined;
  return chunk.readUInt32BE(4);
}

/** The machine-wide monotonic clock (CLOCK_MONOTONIC), in ms: comparable across processes. */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** What a call sees of its Deepgram connection: the Results the fake sends, timed on the generator's `performance.now()` clock. */
export interface SttObserver {
  onSttResults(wordCount: number, isFinal: boolean, atMs: number): void;
  /** The provider-side stamps of a spoken turn (monotonic ms, see hops.ts). */
  onTurnStamps?(stamps: TurnStamps): void;
}

export interface FakeUrls {
  openai: string;
  tts: string;
  ttsKey: string;
  deepgram: string;
  deepgramKey: string;
  rest: string;
}

export type GeneratorToFakes =
  | { t: 'say'; id: number; text: string; options: Omit<SayOptions, 'connection'> }
  | { t: 'forget'; id: number }
  | { t: 'prune' }
  | { t: 'eld'; reset: boolean }
  | { t: 'close' };

export type FakesToGenerator =
  | { t: 'ready'; urls: FakeUrls }
  | { t: 'conn'; id: number }
  | { t: 'stt'; id: number; words: number; final: boolean; at: number }
  | { t: 'turn'; id: number; stamps: TurnStamps }
  | { t: 'eld'; p99Ms: number };

export interface BenchFakes {
  readonly urls: FakeUrls;
  readonly pid: number;
  /** The call's Deepgram connection has carried its first audio. */
  hasStt(callId: number): boolean;
  /** The server has opened at least one Deepgram connection: it can listen. */
  readonly sttSeen: boolean;
  /** The caller says `text` now (the fake Deepgram transcribes it). */
  say(callId: number, text: string, options: Omit<SayOptions, 'connection'>): void;
  watch(callId: number, observer: SttObserver): void;
  forget(callId: number): void;
  /** Drops what the fakes keep about finished exchanges. */
  prune(): void;
  /** The fakes process's event-loop delay p99 since the last reset. */
  eventLoopDelayP99Ms(reset: boolean): Promise<number | undefined>;
  close(): Promise<void>;
}

/** The fakes' niceness (lower priority than the generator on the shared core). */
const FAKES_NICE = 10;

export async function startBenchFakes(o: BenchOptions, core: number | undefined, track: (c: ChildProcess) => void): Promise<BenchFakes> {
  const script = join(import.meta.dirname, 'fakes-child.ts');
  const child = fork(script, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_FAKES_OPTIONS: JSON.stringify({ ...o, rest: undefined }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  track(child);
  const withStt = new Set<number>();
  const observers = new Map<number, SttObserver>();
  let sttSeen = false;
  let eldWaiter: ((p99: number | undefined) => void) | undefined;
  // hrtime and performance.now() tick together: one offset converts the fakes' stamps.
  const monoToPerf = performance.now() - monoMs();
  const urls = await new Promise<FakeUrls>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the fakes process exited (${code}) before it was ready`)));
    child.on('message', (m: FakesToGenerator) => {
      switch (m.t) {
        case 'ready':
          resolve(m.urls);
          break;
        case 'conn':
          sttSeen = true;
          withStt.add(m.id);
          break;
        case 'stt':
          observers.get(m.id)?.onSttResults(m.words, m.final, m.at + monoToPerf);
          break;
        case 'turn':
          observers.get(m.id)?.onTurnStamps?.(m.stamps);
          break;
        case 'eld':
          eldWaiter?.(m.p99Ms);
          eldWaiter = undefined;
          break;
      }
    });
  });
  if (core !== undefined) {
    const { pin } = await import('./server.js');
    pin(child.pid ?? -1, core);
  }
  // Sharing core 1, the generator must win the CPU when both are runnable: its
  // loop delay is the run's validity, while the fakes stamp their Results when
  // sent (their own lateness is not in clearMs) and provider delays are not ours.
  try {
    setPriority(child.pid ?? 0, FAKES_NICE);
  } catch {
    // Not allowed here: the run still works, the generator just shares the core evenly.
  }
  const post = (m: GeneratorToFakes) => {
    if (child.connected) child.send(m);
  };
  return {
    urls,
    pid: child.pid ?? -1,
    hasStt: (id) => withStt.has(id),
    get sttSeen() {
      return sttSeen;
    },
    say: (id, text, options) => post({ t: 'say', id, text, options }),
    watch: (id, obs) => void observers.set(id, obs),
    forget(id) {
      observers.delete(id);
      withStt.delete(id);
      post({ t: 'forget', id });
    },
    prune: () => post({ t: 'prune' }),
    eventLoopDelayP99Ms(reset) {
      return new Promise((resolve) => {
        eldWaiter?.(undefined);
        eldWaiter = resolve;
        post({ t: 'eld', reset });
        setTimeout(() => {
          if (eldWaiter === resolve) {
            eldWaiter = undefined;
            resolve(undefined);
          }
        }, 2000);
      });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      post({ t: 'close' });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
