import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../core/clock.js';
import { MULAW_BYTES_PER_MS } from '../core/audio/mulaw.js';
import { FAKE_SPEECH_BYTES_PER_CHAR, fakeSpeech } from '../core/audio/tone.js';

/**
 * A loopback ElevenLabs speaking the real HTTP streaming protocol
 * (docs/protocols.md#streaming-tts), for the real `@elevenlabs/elevenlabs-js` client pointed at it
 * through `baseUrl`. `POST /v1/text-to-speech/:voiceId/stream` checks the key,
 * the JSON body and `output_format=ulaw_8000`, then writes deterministic μ-law
 * (a quiet tone, ~80 bytes per character) in uneven chunks at a chosen pace.
 * Every request is recorded, so a test can also assert that none happened.
 */

export interface FakeTtsPlan {
  /** Non-200 answers with ElevenLabs' JSON error shape. */
  status?: number;
  /** The error body's `detail` (default `{ status, message }`). */
  detail?: unknown;
  firstByteDelayMs?: number;
  /** Pace of the audio; unset (and no speedFactor) = as fast as possible. */
  bytesPerSecond?: number;
  /** Pace as a multiple of real time (1 = 8000 bytes/s). */
  speedFactor?: number;
  /** Chunk sizes, cycled (uneven on purpose: chunk boundaries are arbitrary). */
  chunkPattern?: number[];
  /** Write this many bytes, then nothing more while keeping the response open. */
  stallAfterBytes?: number;
  /** Audio to send instead of the generated tone. */
  audio?: Uint8Array;
  bytesPerChar?: number;
  /** Called right after the first audio chunk is written (the bench times our share of a turn from it). */
  onFirstByte?: () => void;
  /**
   * Close the connection without answering, this many ms after the request (on the fake's clock):
   * what a client meets on a kept-alive socket the server had already closed.
   */
  dropAfterMs?: number;
}

export type FakeTtsBehaviour = (text: string, request: RecordedTtsRequest) => FakeTtsPlan;

export interface RecordedTtsRequest {
  voiceId: string;
  apiKey: string | undefined;
  query: Record<string, string>;
  /** The parsed JSON body (snake_case, as on the wire). */
  body: Record<string, unknown>;
  text: string;
  /** Protocol violations found in the request; a correct client leaves this empty. */
  problems: string[];
  /** The HTTP status answered; 0 when the connection was dropped without an answer (`dropAfterMs`). */
  status: number;
  bytesWritten: number;
  /** All audio was written and the response ended. */
  completed: boolean;
  /** The client went away before the response ended. */
  clientDisconnected: boolean;
  /** Resolves when the response is over, either way. */
  closed: Promise<void>;
}

export interface FakeElevenLabsOptions {
  /** The key the fake accepts (default `test-elevenlabs-key`). */
  apiKey?: string;
  behaviour?: FakeTtsBehaviour;
  /** Delays go through this clock (default: real time). */
  clock?: Clock;
}

export interface FakeElevenLabs {
  /** Origin to use as ELEVENLABS_BASE_URL. */
  url: string;
  apiKey: string;
  requests: RecordedTtsRequest[];
  setBehaviour(behaviour: FakeTtsBehaviour): void;
  /** Resolves with the `count`-th request (1-based) once it has arrived. */
  waitForRequest(count?: number): Promise<RecordedTtsRequest>;
  close(): Promise<void>;
}

export const FAKE_ELEVENLABS_API_KEY = 'test-elevenlabs-key';
const DEFAULT_CHUNKS = [333, 1021, 97, 2048, 611];

export async function startFakeElevenLabs(options: FakeElevenLabsOptions = {}): Promise<FakeElevenLabs> {
  const apiKey = options.apiKey ?? FAKE_ELEVENLABS_API_KEY;
  const clock = options.clock ?? systemClock;
  let behaviour: FakeTtsBehaviour = options.behaviour ?? (() => ({}));
  const requests: RecordedTtsRequest[] = [];
  const waiters: { count: number; resolve: (r: RecordedTtsRequest) => void }[] = [];

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const match = /^\/v1\/text-to-speech\/([^/]+)\/stream$/.exec(url.pathname);
    if (req.method !== 'POST' || !match) {
      sendJson(res, 404, { detail: 'Not Found' });
      return;
    }
    const raw = await readBody(req);
    let closedResolve!: () => void;
    const record: RecordedTtsRequest = {
      voiceId: decodeURIComponent(match[1]!),
      apiKey: header(req, 'xi-api-key'),
      query: Object.fromEntries(url.searchParams),
      body: {},
      text: '',
      problems: [],
      status: 200,
      bytesWritten: 0,
      completed: false,
      clientDisconnected: false,
      closed: new Promise<void>((r) => (closedResolve = r)),
    };
    res.on('close', () => {
      if (!res.writableFinished) record.clientDisconnected = true;
      closedResolve();
    });
    try {
      const parsed: unknown = JSON.parse(raw);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) record.body = parsed as Record<string, unknown>;
      else record.problems.push('body is not a JSON object');
    } catch {
      record.problems.push('body is not JSON');
    }
    record.text = typeof record.body.text === 'string' ? record.body.text : '';
    requests.push(record);
    for (const w of waiters.filter((w) => requests.length >= w.count)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(requests[w.count - 1]!);
    }

    if (record.apiKey !== apiKey) {
      record.problems.push('missing or wrong xi-api-key');
      return fail(res, record, 401, { status: 'invalid_api_key', message: 'Invalid API key' });
    }
    if (!/json/.test(header(req, 'content-type') ?? '')) record.problems.push('content-type is not JSON');
    if (record.query.output_format !== 'ulaw_8000') {
      record.problems.push(`output_format is ${record.query.output_format ?? 'missing'}, expected ulaw_8000`);
      return fail(res, record, 400, { status: 'invalid_output_format', message: 'output_format must be ulaw_8000 here' });
    }
    if (record.text.trim() === '') {
      record.problems.push('text is missing or empty');
      return fail(res, record, 422, [{ loc: ['body', 'text'], msg: 'field required', type: 'value_error.missing' }]);
    }
    if (typeof record.body.model_id !== 'string') record.problems.push('model_id is missing');
    const vs = record.body.voice_settings;
    if (vs !== undefined && (typeof vs !== 'object' || vs === null || Array.isArray(vs))) {
      record.problems.push('voice_settings is not an object');
    }

    const plan = behaviour(record.text, record);
    if (plan.dropAfterMs !== undefined) {
      if (plan.dropAfterMs > 0) await clock.sleep(plan.dropAfterMs);
      record.status = 0;
      res.destroy();
      return;
    }
    if (plan.status !== undefined && plan.status !== 200) {
      return fail(res, record, plan.status, plan.detail ?? { status: 'fake_error', message: `fake error ${plan.status}` });
    }
    await stream(res, record, plan);
  }

  async function stream(res: ServerResponse, record: RecordedTtsRequest, plan: FakeTtsPlan): Promise<void> {
    const audio = plan.audio ?? fakeSpeech(record.text, plan.bytesPerChar ?? FAKE_SPEECH_BYTES_PER_CHAR);
    const bytesPerSecond =
      plan.bytesPerSecond ?? (plan.speedFactor !== undefined ? plan.speedFactor * MULAW_BYTES_PER_MS * 1000 : undefined);
    const pattern = plan.chunkPattern?.length ? plan.chunkPattern : DEFAULT_CHUNKS;
    const gone = () => res.destroyed || record.clientDisconnected;
    res.writeHead(200, { 'content-type': 'audio/basic', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (plan.firstByteDelayMs) await clock.sleep(plan.firstByteDelayMs);
    let offset = 0;
    for (let i = 0; offset < audio.length; i++) {
      if (gone()) return;
      let size = Math.min(pattern[i % pattern.length]!, audio.length - offset);
      if (plan.stallAfterBytes !== undefined) {
        size = Math.min(size, plan.stallAfterBytes - offset);
        if (size <= 0) return; // stalled: keep the response open until the client leaves
      }
      res.write(audio.subarray(offset, offset + size));
      if (offset === 0) plan.onFirstByte?.();
      offset += size;
      record.bytesWritten = offset;
      if (bytesPerSecond && offset < audio.length) await clock.sleep((size / bytesPerSecond) * 1000);
    }
    if (gone()) return;
    res.end(() => {
      record.completed = true;
    });
  }

  function fail(res: ServerResponse, record: RecordedTtsRequest, status: number, detail: unknown): void {
    record.status = status;
    sendJson(res, status, { detail });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    setBehaviour(next) {
      behaviour = next;
    },
    waitForRequest(count = 1) {
      if (requests.length >= count) return Promise.resolve(requests[count - 1]!);
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    close() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
