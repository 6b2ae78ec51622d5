import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { AppError } from '../../../src/core/errors.js';
import { ProviderError, type ProviderErrorKind } from '../../../src/providers/errors.js';
import { DeepgramStt, DEEPGRAM_TIMING } from '../../../src/providers/stt/deepgram.js';
import { FakeStt, type FakeSttSession } from '../../../src/providers/stt/fake.js';
import type { SttEvent, SttPort, SttSession } from '../../../src/providers/stt/port.js';
import { startFakeDeepgram, type FakeDeepgram } from '../../../src/testing/deepgram-server.js';

/**
 * The SttPort contract, run against the in-process FakeStt and DeepgramStt on
 * the loopback Deepgram: the caller's words stream as events on the call's
 * audio timeline (SpeechStarted, interim, final with speech_final, then
 * UtteranceEnd); a missing key refuses to open naming DEEPGRAM_API_KEY; every
 * refusal arrives once as a `failed` event carrying a ProviderError of stage
 * `stt` classified the same way (refusals another try cannot fix fail at once,
 * without reconnecting); a connection that never completes fails with
 * connect_timeout; an abort closes the session quietly.
 */

type Refusal = 'auth' | 'bad_request' | 'rate_limited' | 'server_error';
const STATUS: Record<Refusal, number> = { auth: 401, bad_request: 400, rate_limited: 429, server_error: 500 };

interface Opened {
  session: SttSession;
  events: SttEvent[];
}

interface SttBinding {
  stt: SttPort;
  /** The caller says `text` on this session; resolves once its UtteranceEnd arrived. */
  speak(opened: Opened, text: string): Promise<void>;
  /** Resolves once `events` holds a `failed` event. */
  failed(events: SttEvent[]): Promise<void>;
  notConfigured(): SttPort;
  refusing(kind: Refusal): Promise<SttPort>;
  /** A port whose connection never completes, and `expire()` that lets its connect timeouts run out. */
  hanging(): Promise<{ stt: SttPort; expire(): Promise<void> }>;
  close(): Promise<void>;
}

function open(stt: SttPort, signal?: AbortSignal): Opened {
  const events: SttEvent[] = [];
  const session = stt.open({ language: 'en-US' }, (e) => events.push(e), signal);
  return { session, events };
}

const FRAME = new Uint8Array(160).fill(0xff); // 20 ms of μ-law silence

/** Fast reconnects so retryable refusals reach `failed` quickly on the real clock. */
const QUICK = { tickMs: 20, reconnectBackoffMs: [0, 0, 0] };

async function deepgramBinding(): Promise<SttBinding> {
  const servers: FakeDeepgram[] = [];
  const hangs: { server: Server; sockets: Socket[] }[] = [];
  const start = async (opts: Parameters<typeof startFakeDeepgram>[0] = {}) => {
    const s = await startFakeDeepgram({ idleResultEveryMs: 60_000, ...opts });
    servers.push(s);
    return s;
  };
  const fake = await start();
  // Every event wakes the fakes' `until`, which re-checks its predicate.
  const wrap = (stt: SttPort): SttPort => ({
    open: (options, onEvent, signal) =>
      stt.open(
        options,
        (e) => {
          onEvent(e);
          for (const s of servers) s.notify();
        },
        signal,
      ),
  });
  return {
    stt: wrap(new DeepgramStt({ apiKey: fake.apiKey, baseUrl: fake.url, timing: QUICK })),
    async speak({ session, events }, text) {
      await fake.until(() => fake.connections.length > 0 && fake.latest()!.open, 3000, 'connection');
      fake.say(text);
      // The fake times its transcript by the audio it receives: send enough for the words and the gap after.
      for (let ms = 0; ms < 4000; ms += 20) session.sendAudio(FRAME);
      await fake.until(() => events.some((e) => e.type === 'utterance_end'), 3000, 'UtteranceEnd');
    },
    async failed(events) {
      await fake.until(() => events.some((e) => e.type === 'failed'), 3000, 'failed');
    },
    notConfigured: () => new DeepgramStt({ apiKey: undefined, baseUrl: fake.url }),
    async refusing(kind) {
      const refusing = kind === 'auth' ? fake : await start({ refuseStatus: STATUS[kind] });
      const key = kind === 'auth' ? 'a-wrong-key' : refusing.apiKey;
      return wrap(new DeepgramStt({ apiKey: key, baseUrl: refusing.url, timing: QUICK }));
    },
    async hanging() {
      // Accepts TCP and never answers the upgrade.
      const sockets: Socket[] = [];
      const server = createServer((s) => sockets.push(s));
      hangs.push({ server, sockets });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const clock = new ManualClock();
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      return {
        stt: wrap(new DeepgramStt({ apiKey: 'k', baseUrl: url, clock, timing: { reconnectBackoffMs: [0, 0, 0] } })),
        // The first try and every reconnect try each wait out the connect timeout.
        expire: () => clock.advance(DEEPGRAM_TIMING.connectTimeoutMs * (DEEPGRAM_TIMING.maxReconnectAttempts + 1)),
      };
    },
    async close() {
      for (const { server, sockets } of hangs) {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      for (const s of servers) await s.close();
    },
  };
}

async function fakeBinding(): Promise<SttBinding> {
  const stt = new FakeStt();
  const failure = (kind: ProviderErrorKind, status?: number) =>
    new FakeStt({
      failure: new ProviderError('fake', 'stt', kind, kind === 'auth' ? 'the key was refused (DEEPGRAM_API_KEY)' : `refused: ${kind}`, status),
    });
  return {
    stt,
    async speak({ session }, text) {
      for (let ms = 0; ms < 2000; ms += 20) session.sendAudio(FRAME);
      (session as FakeSttSession).say(text);
    },
    failed: async () => {
      await Promise.resolve();
    },
    notConfigured: () => new FakeStt({ configured: false }),
    refusing: async (kind) => failure(kind, STATUS[kind]),
    // The fake has no connection to wait on: it reports what the real adapter reports once its tries run out.
    hanging: async () => ({ stt: failure('connect_timeout'), expire: async () => undefined }),
    close: async () => undefined,
  };
}

describe.each([
  ['FakeStt', fakeBinding],
  ['DeepgramStt', deepgramBinding],
] as const)('SttPort contract: %s', (_name, bind) => {
  let b: SttBinding;
  const sessions: SttSession[] = [];
  const use = (opened: Opened) => (sessions.push(opened.session), opened);

  afterEach(async () => {
    for (const s of sessions.splice(0)) await s.close();
    await b?.close();
  });

  it('streams the caller’s words: SpeechStarted, interim, a final with speech_final, then UtteranceEnd, on the audio clock', async () => {
    b = await bind();
    const opened = use(open(b.stt));
    await b.speak(opened, 'I need an appointment');
    const types = opened.events.map((e) => e.type);
    expect(types.indexOf('speech_started')).toBeLessThan(types.lastIndexOf('transcript'));
    expect(types.at(-1)).toBe('utterance_end');
    const finals = opened.events.flatMap((e) => (e.type === 'transcript' && e.isFinal ? [e] : []));
    expect(finals.map((f) => f.text).join(' ')).toMatch(/I need an appointment/);
    expect(finals.at(-1)!.speechFinal).toBe(true);
    for (const f of finals) {
      expect(f.start).toBeLessThanOrEqual(f.end);
      // Never ahead of the audio actually sent (4 s at most).
      expect(f.end).toBeLessThanOrEqual(4);
    }
    expect(opened.events.some((e) => e.type === 'failed')).toBe(false);
  });

  it('without a key it refuses to open, naming DEEPGRAM_API_KEY', async () => {
    b = await bind();
    let err: unknown;
    try {
      open(b.notConfigured());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).message).toMatch(/DEEPGRAM_API_KEY/);
  });

  it.each([
    ['auth', false],
    ['bad_request', false],
    ['rate_limited', true],
    ['server_error', true],
  ] as const)('a %s refusal fails once with a ProviderError of stage stt, retryable: %s', async (kind, retryable) => {
    b = await bind();
    const opened = use(open(await b.refusing(kind)));
    await b.failed(opened.events);
    const failed = opened.events.filter((e) => e.type === 'failed');
    expect(failed).toHaveLength(1);
    const error = (failed[0] as Extract<SttEvent, { type: 'failed' }>).error;
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ stage: 'stt', kind, retryable, status: STATUS[kind] });
    if (kind === 'auth') expect(error.message).toMatch(/DEEPGRAM_API_KEY/);
    // Another connection cannot fix these: no reconnect is even tried.
    if (!retryable) expect(opened.events.some((e) => e.type === 'reconnecting')).toBe(false);
  });

  it('a connection that never completes fails with connect_timeout once the tries run out', async () => {
    b = await bind();
    const { stt, expire } = await b.hanging();
    const opened = use(open(stt));
    await expire();
    await b.failed(opened.events);
    const failed = opened.events.filter((e): e is Extract<SttEvent, { type: 'failed' }> => e.type === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.error).toMatchObject({ stage: 'stt', kind: 'connect_timeout', retryable: true });
  });

  it('an abort closes the session quietly: no failure, and audio after it is ignored', async () => {
    b = await bind();
    const ctl = new AbortController();
    const opened = use(open(b.stt, ctl.signal));
    ctl.abort('hangup');
    for (let ms = 0; ms < 200; ms += 20) opened.session.sendAudio(FRAME);
    await opened.session.close();
    expect(opened.events.filter((e) => e.type === 'failed' || e.type === 'transcript')).toEqual([]);
  });
});
