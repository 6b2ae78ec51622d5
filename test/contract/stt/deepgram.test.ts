/**
 * DeepgramStt over a real WebSocket against the loopback fake Deepgram
 * (src/testing/deepgram-server.ts). Invariants: μ-law reaches Deepgram
 * byte for byte (also what was sent before the socket opened); results map to
 * SttEvents on the call's audio timeline, across reconnects; a reconnect replays
 * at most 5 s of audio no final covers; after the last try the session fails.
 */
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { AppError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { ProviderEndpoint } from '../../../src/providers/endpoints.js';
import { DeepgramStt, type DeepgramTiming } from '../../../src/providers/stt/deepgram.js';
import { FailoverStt } from '../../../src/providers/stt/failover.js';
import type { SttEvent, SttSession } from '../../../src/providers/stt/port.js';
import { startFakeDeepgram, type FakeDeepgram, type FakeDeepgramOptions } from '../../../src/testing/deepgram-server.js';

const FRAME = 160; // 20 ms of μ-law
let fake: FakeDeepgram | undefined;
let session: SttSession | undefined;

afterEach(async () => {
  await session?.close();
  await fake?.close();
  session = undefined;
  fake = undefined;
});

/** Deterministic, non-silent audio: byte i of the call is (i * 7 + 3) & 0xff. */
const callByte = (i: number) => (i * 7 + 3) & 0xff;
const callAudio = (from: number, to: number) => Buffer.from(Array.from({ length: to - from }, (_, k) => callByte(from + k)));

async function setup(fakeOpts: FakeDeepgramOptions = {}, timing: Partial<DeepgramTiming> = {}, apiKey = 'test-deepgram-key') {
  fake = await startFakeDeepgram(fakeOpts);
  const events: SttEvent[] = [];
  const stt = new DeepgramStt({ apiKey, baseUrl: fake.url, timing: { tickMs: 20, ...timing } });
  let sent = 0;
  const s = stt.open({ language: 'en-US' }, (e) => {
    events.push(e);
    fake!.notify();
  });
  session = s;
  const f = fake;
  return {
    fake: f,
    events,
    session: s,
    get sent() {
      return sent;
    },
    /** Send `ms` of call audio in 20 ms frames, at once. */
    pump(ms: number) {
      const end = sent + ms * 8;
      while (sent < end) {
        const n = Math.min(FRAME, end - sent);
        s.sendAudio(callAudio(sent, sent + n));
        sent += n;
      }
    },
    event<T extends SttEvent['type']>(type: T, pred: (e: Extract<SttEvent, { type: T }>) => boolean = () => true) {
      return events.find((e): e is Extract<SttEvent, { type: T }> => e.type === type && pred(e as never));
    },
    waitEvent<T extends SttEvent['type']>(type: T, pred: (e: Extract<SttEvent, { type: T }>) => boolean = () => true) {
      return f.until(() => events.some((e) => e.type === type && pred(e as never)), 3000, `event ${type}`);
    },
  };
}

describe('DeepgramStt against the fake Deepgram', () => {
  it('sends the documented query and Token auth, and every byte untouched, including audio sent before the socket opened', async () => {
    const t = await setup();
    t.pump(500); // before open: buffered
    await t.fake.until(() => t.fake.connections.length === 1, 3000, 'connection');
    t.pump(1500);
    const conn = t.fake.connections[0]!;
    await t.fake.until(() => conn.bytesReceived === 16000, 3000, 'all audio');
    expect(conn.query).toEqual({
      model: 'nova-3',
      encoding: 'mulaw',
      sample_rate: '8000',
      channels: '1',
      language: 'en-US',
      interim_results: 'true',
      endpointing: '300',
      utterance_end_ms: '1000',
      vad_events: 'true',
      smart_format: 'true',
      punctuate: 'true',
    });
    expect(conn.headers.authorization).toBe('Token test-deepgram-key');
    // Sent by @deepgram/sdk only: the official SDK carries the stream.
    expect(conn.headers['x-deepgram-session-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(conn.audio().equals(callAudio(0, 16000))).toBe(true);
    expect(conn.keepAlives).toBe(0);
  });

  it('batches caller audio: one message per 40 ms by default, per sendIntervalMs when set, the tail flushed at close; every byte in order', async () => {
    fake = await startFakeDeepgram();
    const f = fake;
    const stt = new DeepgramStt({ apiKey: 'test-deepgram-key', baseUrl: f.url });
    const messages: number[][] = [[], []];
    f.onConnection((conn) => {
      const i = f.connections.indexOf(conn);
      const onAudio = conn.onAudio.bind(conn);
      conn.onAudio = (data: Buffer) => {
        messages[i]!.push(data.length);
        onAudio(data);
      };
    });
    const a = stt.open({ language: 'en-US' }, () => {});
    await f.until(() => f.connections.length === 1 && f.connections[0]!.open, 3000, 'first connection');
    const b = stt.open({ language: 'en-US', sendIntervalMs: 100 }, () => {});
    await f.until(() => f.connections.length === 2 && f.connections[1]!.open, 3000, 'second connection');
    // Both open before any audio: no buffered audio goes out in one replay message.
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 11; i++) {
      a.sendAudio(callAudio(i * FRAME, (i + 1) * FRAME));
      b.sendAudio(callAudio(i * FRAME, (i + 1) * FRAME));
    }
    await f.until(() => f.connections[0]!.bytesReceived === 10 * FRAME && f.connections[1]!.bytesReceived === 10 * FRAME, 3000, 'full batches');
    expect(messages[0]).toEqual([320, 320, 320, 320, 320]);
    expect(messages[1]).toEqual([800, 800]);
    await Promise.all([a.close(), b.close()]);
    // The half batch (one frame) went out before CloseStream.
    expect(messages[0]!.at(-1)).toBe(160);
    expect(messages[1]!.at(-1)).toBe(160);
    for (const conn of f.connections) expect(conn.audio().equals(callAudio(0, 11 * FRAME))).toBe(true);
  });

  it('uses the flow’s model and endpointing', async () => {
    fake = await startFakeDeepgram({ requiredQuery: { model: 'nova-2-phonecall', endpointing: '500', language: 'es' } });
    const stt = new DeepgramStt({ apiKey: 'test-deepgram-key', baseUrl: fake.url });
    const events: SttEvent[] = [];
    session = stt.open({ language: 'es', model: 'nova-2-phonecall', endpointingMs: 500 }, (e) => events.push(e));
    await fake.until(() => fake!.connections.length === 1, 3000, 'connection');
    expect(fake.rejections).toEqual([]);
    expect(events).toEqual([]);
  });

  it('maps SpeechStarted, interim, is_final, speech_final and UtteranceEnd on the audio clock', async () => {
    const t = await setup({
      idleResultEveryMs: 60_000,
      script: [{ atAudioMs: 1000, words: 'I need an appointment for Tuesday.', wordMs: 300, finals: 2 }],
    });
    t.pump(4000);
    await t.waitEvent('utterance_end');
    const started = t.event('speech_started')!;
    expect(started.timestamp).toBe(1);
    const interims = t.events.filter((e) => e.type === 'transcript' && !e.isFinal);
    expect(interims.length).toBeGreaterThanOrEqual(3);
    expect(interims[0]).toMatchObject({ text: 'I', start: 0, end: 1.24, lastWordEnd: 1.24 });
    const finals = t.events.filter((e): e is Extract<SttEvent, { type: 'transcript' }> => e.type === 'transcript' && e.isFinal);
    expect(finals.map((f) => [f.text, f.speechFinal])).toEqual([
      ['I need an', false],
      ['appointment for Tuesday.', true],
    ]);
    // Words: 1.0 + i*0.3, each sounding 0.24 s; the last ends at 2.74; endpointing 300 ms.
    expect(finals[0]).toMatchObject({ start: 0, end: 1.84, lastWordEnd: 1.84 });
    expect(finals[1]).toMatchObject({ start: 1.84, end: 3.04, lastWordEnd: 2.74 });
    expect(t.event('utterance_end')).toEqual({ type: 'utterance_end', lastWordEnd: 2.74 });
    const order = t.events.map((e) => e.type);
    expect(order.indexOf('speech_started')).toBeLessThan(order.indexOf('transcript'));
  });

  it('passes empty results through (is_final info) and ignores unknown message types', async () => {
    const t = await setup({ idleResultEveryMs: 500 });
    t.pump(1600);
    await t.fake.until(() => t.events.filter((e) => e.type === 'transcript').length >= 3, 3000, 'empty finals');
    expect(t.events.slice(0, 3)).toEqual([
      { type: 'transcript', text: '', isFinal: true, speechFinal: false, start: 0, end: 0.5 },
      { type: 'transcript', text: '', isFinal: true, speechFinal: false, start: 0.5, end: 1 },
      { type: 'transcript', text: '', isFinal: true, speechFinal: false, start: 1, end: 1.5 },
    ]);
  });

  it('sends KeepAlive text frames only while audio has stopped, and does not reconnect over a pause', async () => {
    const t = await setup({ idleResultEveryMs: 60_000 }, { keepAliveAfterMs: 80, silenceWatchdogMs: 150 });
    t.pump(200);
    const conn = await t.fake.until(() => t.fake.connections.length === 1).then(() => t.fake.connections[0]!);
    await t.fake.until(() => conn.bytesReceived === 1600, 3000, 'audio');
    await t.fake.until(() => conn.keepAlives >= 3, 3000, 'keep-alives');
    expect(conn.controlMessages.slice(0, 3)).toEqual([{ type: 'KeepAlive' }, { type: 'KeepAlive' }, { type: 'KeepAlive' }]);
    expect(t.fake.connections).toHaveLength(1);
    expect(t.events.filter((e) => e.type === 'reconnecting')).toEqual([]);
  });

  it('after an abnormal close (1011) reconnects, replays only audio no final covers, and keeps times on the call clock', async () => {
    const t = await setup({ idleResultEveryMs: 60_000 }, { reconnectBackoffMs: [0] });
    t.fake.say('Hello there.'); // queued for the first connection
    t.pump(2000);
    await t.waitEvent('transcript', (e) => e.speechFinal);
    // Two words from 0: last word ends 0.54 s; speech_final at 0.84 s covers up to there.
    const coveredBytes = 0.84 * 8000;
    t.pump(1000);
    const first = t.fake.connections[0]!;
    await t.fake.until(() => first.bytesReceived === 24000, 3000, 'first connection audio');

    t.fake.drop();
    await t.waitEvent('reconnected');
    expect(t.events.filter((e) => e.type === 'reconnecting' || e.type === 'reconnected')).toEqual([
      { type: 'reconnecting', attempt: 1 },
      { type: 'reconnected', attempt: 1 },
    ]);
    expect(first.closeCode).toBe(1011);
    const second = t.fake.connections[1]!;
    await t.fake.until(() => second.bytesReceived === 24000 - coveredBytes, 3000, 'replay');
    expect(second.audio().equals(callAudio(coveredBytes, 24000))).toBe(true);

    // The caller speaks on the new connection at its audio 2.16 s = call time 3.0 s.
    t.fake.say('Tuesday please.', { connection: second });
    t.pump(2000);
    await t.waitEvent('transcript', (e) => e.speechFinal && e.text === 'Tuesday please.');
    expect(t.event('speech_started', (e) => e.timestamp > 1)?.timestamp).toBe(3);
    expect(t.event('transcript', (e) => e.speechFinal && e.text === 'Tuesday please.')).toMatchObject({
      start: 0.84,
      lastWordEnd: 3.54,
      end: 3.84,
    });
    expect(second.bytesReceived).toBe(24000 - coveredBytes + 16000);
    expect(second.audio().equals(callAudio(coveredBytes, 40000))).toBe(true);
  });

  it('a socket error on an open stream (no close follows from the SDK) reconnects and replays', async () => {
    const t = await setup({ idleResultEveryMs: 60_000 }, { reconnectBackoffMs: [0] });
    t.pump(1000);
    await t.fake.until(() => t.fake.connections[0]?.bytesReceived === 8000, 3000, 'first audio');
    t.fake.connections[0]!.garble();
    await t.waitEvent('reconnected');
    expect(t.events.filter((e) => e.type !== 'transcript')).toEqual([
      { type: 'reconnecting', attempt: 1 },
      { type: 'reconnected', attempt: 1 },
    ]);
    const second = t.fake.connections[1]!;
    await t.fake.until(() => second.bytesReceived === 8000, 3000, 'replay');
    expect(second.audio().equals(callAudio(0, 8000))).toBe(true);
  });

  it('replays at most the last 5 s when nothing was finalised, offsetting times by the replay start', async () => {
    const t = await setup({ idleResultEveryMs: 60_000 }, { reconnectBackoffMs: [0] });
    await t.fake.until(() => t.fake.connections.length === 1);
    const first = t.fake.connections[0]!;
    for (let s = 1; s <= 8; s++) {
      t.pump(1000);
      await t.fake.until(() => first.bytesReceived === s * 8000, 3000, 'audio');
    }
    t.fake.drop();
    await t.waitEvent('reconnected');
    const second = t.fake.connections[1]!;
    await t.fake.until(() => second.bytesReceived === 40000, 3000, 'replay');
    expect(second.audio().equals(callAudio(24000, 64000))).toBe(true);
    t.fake.say('Hi.', { connection: second });
    t.pump(1500);
    await t.waitEvent('speech_started');
    expect(t.event('speech_started')!.timestamp).toBe(8);
  });

  it('after a silent stream (no message while audio flows) reconnects with a bounded replay', async () => {
    const t = await setup({ idleResultEveryMs: 200 }, { silenceWatchdogMs: 150, keepAliveAfterMs: 1000, reconnectBackoffMs: [0] });
    t.pump(1000);
    await t.fake.until(() => t.fake.connections[0]?.bytesReceived === 8000, 3000, 'audio');
    await t.waitEvent('transcript', (e) => e.end === 1);
    t.fake.goSilent();
    // Audio keeps flowing in real time; the watchdog notices the silence.
    const pumpTimer = setInterval(() => t.pump(20), 20);
    try {
      await t.waitEvent('reconnected');
    } finally {
      clearInterval(pumpTimer);
    }
    const second = t.fake.connections[1]!;
    await t.fake.until(() => second.bytesReceived === t.sent - 8000, 3000, 'replay and live audio');
    expect(t.fake.connections[0]!.open).toBe(false);
    // Everything up to 1.0 s was covered by finals; the replay starts there.
    expect(second.audio().equals(callAudio(8000, t.sent))).toBe(true);
    expect(second.bytesReceived).toBeLessThanOrEqual(40000 + 8000);
  });

  it('emits failed after the last reconnect try and then ignores audio', async () => {
    const t = await setup({}, { reconnectBackoffMs: [0, 10, 10], connectTimeoutMs: 300 });
    t.pump(100);
    await t.fake.until(() => t.fake.connections[0]?.bytesReceived === 800, 3000, 'audio');
    const f = t.fake;
    await f.close(); // the next tries are refused
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no failed event')), 3000);
      const check = setInterval(() => {
        if (t.events.some((e) => e.type === 'failed')) {
          clearTimeout(timer);
          clearInterval(check);
          resolve();
        }
      }, 10);
    });
    expect(t.events.filter((e) => e.type !== 'transcript').map((e) => e.type === 'reconnecting' ? `try ${e.attempt}` : e.type)).toEqual([
      'try 1',
      'try 2',
      'try 3',
      'failed',
    ]);
    expect((t.events.at(-1) as { reason: string }).reason).toMatch(/after 3 reconnect tries/);
    t.pump(100); // no throw, nothing happens
    fake = undefined;
  });

  it('a bad key fails at once with a clear reason and no retries', async () => {
    const t = await setup({}, {}, 'wrong-key');
    await t.waitEvent('failed');
    const failed = t.event('failed')!;
    expect(failed.reason).toMatch(/DEEPGRAM_API_KEY/);
    expect(failed.reason).toMatch(/401/);
    expect(t.fake.rejections).toHaveLength(1);
    expect(t.fake.rejections[0]).toMatchObject({ status: 401, error: 'Invalid credentials.' });
    expect(t.events.filter((e) => e.type === 'reconnecting')).toEqual([]);
  });

  it('a missing DEEPGRAM_API_KEY is a NOT_CONFIGURED error naming the variable', () => {
    const stt = new DeepgramStt({ apiKey: undefined });
    let err: unknown;
    try {
      stt.open({ language: 'en-US' }, () => {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'NOT_CONFIGURED', details: { variable: 'DEEPGRAM_API_KEY' } });
    expect((err as Error).message).toMatch(/DEEPGRAM_API_KEY/);
  });

  it('close() sends CloseStream, takes the last results and ends with 1000', async () => {
    const t = await setup({ idleResultEveryMs: 60_000 });
    t.fake.say('Goodbye.', { endpointAfterMs: 5000, utteranceEnd: false });
    t.pump(1000);
    const conn = await t.fake.until(() => t.fake.connections[0]?.bytesReceived === 8000).then(() => t.fake.connections[0]!);
    await t.session.close();
    await t.fake.until(() => conn.closeCode !== undefined, 3000, 'close');
    expect(conn.controlMessages).toEqual([{ type: 'CloseStream' }]);
    expect(conn.closeCode).toBe(1000);
    expect(t.event('transcript', (e) => e.isFinal && e.text === 'Goodbye.')).toBeTruthy();
    session = undefined;
  });

  it('an aborted signal closes the session quietly', async () => {
    fake = await startFakeDeepgram();
    const stt = new DeepgramStt({ apiKey: 'test-deepgram-key', baseUrl: fake.url });
    const ac = new AbortController();
    const events: SttEvent[] = [];
    const s = stt.open({ language: 'en-US' }, (e) => events.push(e), ac.signal);
    await fake.until(() => fake!.connections.length === 1);
    ac.abort();
    await fake.until(() => fake!.connections[0]!.closed, 3000, 'close');
    s.sendAudio(new Uint8Array(160));
    expect(events.filter((e) => e.type !== 'transcript')).toEqual([]);
  });

  it('counts reconnect tries in a sliding 10 s window (driven by a manual clock)', async () => {
    fake = await startFakeDeepgram({ idleResultEveryMs: 60_000 });
    const clock = new ManualClock();
    const events: SttEvent[] = [];
    const stt = new DeepgramStt({ apiKey: 'test-deepgram-key', baseUrl: fake.url, clock, timing: { reconnectBackoffMs: [0] } });
    session = stt.open({ language: 'en-US' }, (e) => {
      events.push(e);
      fake!.notify();
    });
    const f = fake;
    const reconnects = () => events.filter((e) => e.type === 'reconnected').length;
    const dropAt = async (atMs: number, expectRecovery: boolean) => {
      await clock.advance(atMs - clock.now());
      await f.until(() => f.latest() !== undefined, 3000, 'an open connection');
      const before = reconnects();
      // Wait until our side has the socket open (audio reaches the fake), then drop it.
      session!.sendAudio(new Uint8Array(160));
      await f.until(() => (f.latest()?.bytesReceived ?? 0) > 0, 3000, 'audio on the open connection');
      f.drop();
      if (!expectRecovery) {
        await f.until(() => events.some((e) => e.type === 'failed'), 3000, 'failed');
        return;
      }
      await f.until(() => events.filter((e) => e.type === 'reconnecting').length > before, 3000, 'reconnecting');
      await clock.advance(0); // the backoff timer
      await f.until(() => reconnects() === before + 1, 3000, 'reconnected');
    };
    await dropAt(0, true);
    await dropAt(4000, true);
    await dropAt(8000, true);
    await dropAt(12_000, true); // the try at 0 s has left the window
    await dropAt(13_000, false); // tries at 4, 8 and 12 s are still in it
    expect(events.filter((e) => e.type === 'reconnecting').map((e) => (e as { attempt: number }).attempt)).toEqual([1, 2, 3, 3]);
    expect(events.at(-1)).toMatchObject({ type: 'failed', reason: expect.stringMatching(/3 reconnect tries/) });
  });

  it('an upgrade that never completes counts as a failed try at exactly the 3 s connect timeout (on a manual clock)', async () => {
    // A TCP server that accepts and never answers the HTTP upgrade.
    const sockets: Socket[] = [];
    let accepted: (() => void) | undefined;
    const blackhole = createServer((s) => {
      sockets.push(s);
      accepted?.();
    });
    /** Resolves once the n-th try's TCP connection is in. */
    const nthConnection = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => (sockets.length >= n ? resolve() : void (accepted = check));
        check();
      });
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
    const port = (blackhole.address() as { port: number }).port;
    try {
      const clock = new ManualClock();
      const events: SttEvent[] = [];
      // Tries back to back, so that all of them fall in the 10 s window.
      const stt = new DeepgramStt({ apiKey: 'test-deepgram-key', baseUrl: `http://127.0.0.1:${port}`, clock, timing: { reconnectBackoffMs: [0] } });
      session = stt.open({ language: 'en-US' }, (e) => events.push(e));
      for (let tryNo = 1; tryNo <= 4; tryNo++) {
        await nthConnection(tryNo);
        await clock.advance(2_999);
        expect(events).toHaveLength(tryNo - 1);
        await clock.advance(1);
        expect(events).toHaveLength(tryNo);
        expect(clock.now()).toBe(tryNo * 3_000);
      }
      expect(events.map((e) => e.type)).toEqual(['reconnecting', 'reconnecting', 'reconnecting', 'failed']);
      expect(events.slice(0, 3)).toEqual([1, 2, 3].map((attempt) => ({ type: 'reconnecting', attempt })));
      expect((events.at(-1) as { reason: string }).reason).toMatch(/3 reconnect tries: no connection within 3000 ms/);
      expect(sockets).toHaveLength(4);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => blackhole.close(() => r()));
    }
  });
});

/**
 * Our own loop late, on a manual clock: the Deepgram deadlines must blame Deepgram only for
 * Deepgram's lateness (docs/architecture.md#timeouts). The injected lateness source stands in for
 * the process sampler (src/core/loop-lateness.ts); the ticks themselves fire on time, as they can
 * while Deepgram's messages wait unread behind a busy loop. No reconnect tries, so the first error
 * is the session's `failed`, and it reaches the endpoint's breaker (threshold 1) through FailoverStt.
 */
describe('DeepgramStt deadlines while our own loop is late (manual clock)', () => {
  async function lateLoop(baseUrl: string, timing: Partial<DeepgramTiming> = {}) {
    const clock = new ManualClock();
    let lateMs = 0;
    const endpoint = new ProviderEndpoint('stt', 'primary', 'deepgram', clock, silentLogger, { failureThreshold: 1, openMs: 30_000 });
    const deepgram = new DeepgramStt({
      apiKey: 'test-deepgram-key',
      baseUrl,
      clock,
      lateness: { totalMs: () => lateMs },
      timing: { maxReconnectAttempts: 0, ...timing },
    });
    const failed: { atMs: number; event: Extract<SttEvent, { type: 'failed' }> }[] = [];
    const others: SttEvent[] = [];
    session = new FailoverStt([{ endpoint, stt: deepgram }], silentLogger).open({ language: 'en-US' }, (e) => {
      if (e.type === 'failed') failed.push({ atMs: clock.now(), event: e });
      else others.push(e);
      fake?.notify();
    });
    const s = session;
    return {
      clock,
      endpoint,
      failed,
      others,
      /** The loop's summed lateness so far (ms). */
      setLate(ms: number) {
        lateMs = ms;
      },
      /** The caller talks (a frame every 100 ms of clock time) until `atMs`; the ticks run on time. */
      async talkUntil(atMs: number) {
        while (clock.now() < atMs) {
          await clock.advance(Math.min(100, atMs - clock.now()));
          s.sendAudio(new Uint8Array(FRAME));
        }
      },
    };
  }

  /** Connected and open on our side (audio reaches the fake), at clock 0; Deepgram then says nothing. */
  async function openSilent(timing: Partial<DeepgramTiming> = {}) {
    fake = await startFakeDeepgram({ idleResultEveryMs: 60_000 });
    const f = fake;
    const t = await lateLoop(f.url, timing);
    session!.sendAudio(new Uint8Array(FRAME));
    await f.until(() => (f.latest()?.bytesReceived ?? 0) > 0, 3000, 'audio on the open connection');
    expect(t.clock.now()).toBe(0);
    return t;
  }

  it('the silence watchdog forgives the loop lateness summed over its watch, though every tick fires on time', async () => {
    const t = await openSilent();
    await t.talkUntil(2000);
    t.setLate(1000); // one busy second in all, spread over ticks that each ran on time
    await t.talkUntil(5999);
    // Before: a stall at 5 s, blamed on Deepgram (the tick itself was not late).
    expect(t.failed).toEqual([]);
    expect(t.endpoint.status()).toMatchObject({ state: 'closed', failures: 0 });
    // Deepgram still silent after its budget and the forgiven second: a stall, Deepgram's.
    await t.talkUntil(6000);
    expect(t.failed.map((f) => [f.atMs, f.event.error.kind, f.event.error.ownLatenessMs])).toEqual([[6000, 'stall', undefined]]);
    expect(t.endpoint.status()).toMatchObject({ state: 'open', failures: 1 });
  });

  it('a genuine stall (the loop on time) still fails at exactly the watchdog budget and counts against the breaker', async () => {
    const t = await openSilent();
    await t.talkUntil(4999);
    expect(t.failed).toEqual([]);
    await t.talkUntil(5000);
    expect(t.failed).toHaveLength(1);
    expect(t.failed[0]!.atMs).toBe(5000);
    expect(t.failed[0]!.event.error).toMatchObject({ kind: 'stall', message: expect.stringMatching(/no message for 5000 ms while audio flows/) });
    expect(t.failed[0]!.event.error.ownLatenessMs).toBeUndefined();
    expect(t.endpoint.status()).toMatchObject({ state: 'open', failures: 1 });
  });

  it('a stall taken with lateness left over carries ownLatenessMs and does not count against the breaker', async () => {
    const t = await openSilent();
    await t.talkUntil(2000);
    t.setLate(8000); // more than the 5 s budget can forgive
    await t.talkUntil(9999);
    expect(t.failed).toEqual([]);
    // Forgiven at most one more budget: Deepgram's silence fails at 10 s, with 3 s of our lateness unforgiven.
    await t.talkUntil(10_000);
    expect(t.failed.map((f) => [f.atMs, f.event.error.kind, f.event.error.ownLatenessMs])).toEqual([[10_000, 'stall', 3000]]);
    expect(t.endpoint.status()).toMatchObject({ state: 'closed', failures: 0 });
    expect(t.endpoint.tryAcquire()).toBe(true);
  });

  it('a connect timeout taken with lateness left over carries ownLatenessMs and does not count against the breaker', async () => {
    // A TCP server that accepts and never answers the HTTP upgrade.
    const sockets: Socket[] = [];
    let accepted: (() => void) | undefined;
    const blackhole = createServer((s) => {
      sockets.push(s);
      accepted?.();
    });
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
    const port = (blackhole.address() as { port: number }).port;
    try {
      const t = await lateLoop(`http://127.0.0.1:${port}`);
      await new Promise<void>((resolve) => (sockets.length > 0 ? resolve() : void (accepted = resolve)));
      t.setLate(10_000); // the loop far behind while the upgrade is awaited
      await t.clock.advance(5_999);
      expect(t.failed).toEqual([]);
      await t.clock.advance(1);
      // 3 s budget + 3 s forgiven; 7 s of our lateness left over.
      expect(t.failed.map((f) => [f.atMs, f.event.error.kind, f.event.error.ownLatenessMs])).toEqual([[6000, 'connect_timeout', 7000]]);
      expect(t.endpoint.status()).toMatchObject({ state: 'closed', failures: 0 });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => blackhole.close(() => r()));
    }
  });
});
