import { randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';

/**
 * A loopback Deepgram Listen v1 server speaking the real WebSocket protocol
 * (docs/protocols.md), so the real adapter is exercised through `baseUrl`.
 *
 * Transcripts are scripted by the AUDIO RECEIVED, not by wall time: 8000 bytes
 * of μ-law = 1 s on the connection's audio clock, and every message carries
 * audio-time `start`/`duration`/word timings exactly as Deepgram would. A test
 * (or `npm run call`, or the benchmark) makes the caller speak with a script of
 * utterances per connection or with `say()` ("the caller says this now"), and
 * breaks the connection with `drop()` (close 1011) or `goSilent()`.
 *
 * Cheap per connection (no per-frame timers) so one server carries many calls.
 */

export const BYTES_PER_SECOND = 8000;
const BYTES_PER_MS = BYTES_PER_SECOND / 1000;

export interface FakeUtterance {
  /** Audio time on the connection's clock (ms) at which the caller starts speaking. */
  atAudioMs: number;
  /** What the caller says, punctuation included (it is the smart-formatted transcript). */
  words: string;
  /** Audio per word, ms (default 300; each word sounds for 80 % of it). */
  wordMs?: number;
  /** Interim Results as each word is heard (default true). */
  interim?: boolean;
  /**
   * Silence after the last word before the final carrying `speech_final: true`
   * (default: the connection's `endpointing`, else 300). `null`: the finals
   * never say `speech_final` (noise kept the endpointer open), only UtteranceEnd closes.
   */
  endpointAfterMs?: number | null;
  /** Send UtteranceEnd `utterance_end_ms` after the last word (default: when the query asks for it). */
  utteranceEnd?: boolean;
  /** Split the words over this many `is_final` results (default 1); only the last may be speech_final. */
  finals?: number;
}

export type SayOptions = Omit<FakeUtterance, 'atAudioMs' | 'words'> & {
  /** Start this much audio after the audio received so far (default 0). */
  delayMs?: number;
  /** Which connection (default: the newest open one, else the next to open). */
  connection?: FakeDeepgramConnection;
};

export interface FakeDeepgramOptions {
  /** The API key accepted as `Authorization: Token <key>` (default 'test-deepgram-key'). */
  apiKey?: string;
  /** Refuse every upgrade with this HTTP status (429, 500, …), as an overloaded or failing Deepgram would. */
  refuseStatus?: number;
  /** Exact query values every connection must carry; a mismatch is rejected at upgrade with 400. */
  requiredQuery?: Record<string, string>;
  /** Utterances for the first connection, or per connection (index from 0). */
  script?: FakeUtterance[] | ((connectionIndex: number) => FakeUtterance[]);
  /** Without speech, an empty `is_final` Result every this much audio (default 1000 ms), as Deepgram does. */
  idleResultEveryMs?: number;
  /** No audio and no KeepAlive this long (wall time) → close 1011 NET-0001 (default 10 000 ms). */
  idleCloseMs?: number;
  /** Keep every received byte per connection for assertions (default true). */
  recordAudio?: boolean;
  clock?: Clock;
}

export interface FakeRejection {
  status: number;
  error: string;
  headers: IncomingHttpHeaders;
  url: string;
}

interface Word {
  word: string;
  punctuated: string;
  startMs: number;
  endMs: number;
  finalized: boolean;
}

interface Utterance {
  words: Word[];
  startMs: number;
  lastWordEndMs: number;
  finalDone: boolean;
}

interface Emission {
  atMs: number;
  seq: number;
  kind: 'speech_started' | 'interim' | 'final' | 'utterance_end';
  utt: Utterance;
  /** For finals: the words of this chunk; for interims: heard so far. */
  wordIndexEnd?: number;
  speechFinal?: boolean;
}

const round3 = (seconds: number) => Math.round(seconds * 1000) / 1000;
const ms2s = (ms: number) => round3(ms / 1000);

export class FakeDeepgramConnection {
  readonly requestId = randomUUID();
  bytesReceived = 0;
  keepAlives = 0;
  /** Parsed text frames received (KeepAlive, Finalize, CloseStream, anything else). */
  readonly controlMessages: unknown[] = [];
  /** Every message sent to the client, in order. */
  readonly sent: Record<string, unknown>[] = [];
  closed = false;
  closeCode: number | undefined;
  silent = false;
  /** Wall time (clock.now) of the last audio or KeepAlive. */
  lastActivityAt: number;

  private readonly chunks: Buffer[] = [];
  private readonly emissions: Emission[] = [];
  private readonly utterances: Utterance[] = [];
  private seq = 0;
  private lastFinalEndMs = 0;

  constructor(
    readonly index: number,
    readonly query: Record<string, string>,
    readonly headers: IncomingHttpHeaders,
    private readonly ws: WebSocket,
    private readonly server: { notify(): void },
    private readonly opts: { idleResultEveryMs: number; recordAudio: boolean; clock: Clock },
  ) {
    this.lastActivityAt = opts.clock.now();
  }

  /** Audio received so far on this connection, ms. */
  get audioMs(): number {
    return this.bytesReceived / BYTES_PER_MS;
  }

  /** Every audio byte received, in order (when `recordAudio`). */
  audio(): Buffer {
    return Buffer.concat(this.chunks);
  }

  get open(): boolean {
    return !this.closed;
  }

  /** Messages sent of one `type`. */
  sentOf(type: string): Record<string, unknown>[] {
    return this.sent.filter((m) => m.type === type);
  }

  /** The caller says `text`, starting at the audio received so far (+ delayMs). */
  say(text: string, options: Omit<SayOptions, 'connection'> = {}): void {
    const { delayMs = 0, ...rest } = options;
    this.addUtterance({ ...rest, words: text, atAudioMs: this.audioMs + delayMs });
  }

  /** Abnormal close (default 1011 NET-0000, as Deepgram's internal errors). */
  drop(code = 1011, reason = 'NET-0000'): void {
    if (this.closed) return;
    this.ws.close(code, reason);
  }

  /**
   * A text frame that is not UTF-8, as a corrupting middlebox would deliver:
   * the client's WebSocket reports an error before it closes (1007).
   */
  garble(): void {
    if (this.closed) return;
    this.ws.send(Buffer.from([0xc3, 0x28]), { binary: false });
  }

  /** Keep the socket open but never answer again (a silent drop). */
  goSilent(): void {
    this.silent = true;
  }

  addUtterance(u: FakeUtterance): void {
    const wordMs = u.wordMs ?? 300;
    const tokens = u.words.split(/\s+/).filter(Boolean);
    if (tokens.length === 0) return;
    const words: Word[] = tokens.map((punctuated, i) => ({
      punctuated,
      word: punctuated.toLowerCase().replace(/[^\p{L}\p{N}'-]/gu, ''),
      startMs: u.atAudioMs + i * wordMs,
      endMs: u.atAudioMs + i * wordMs + wordMs * 0.8,
      finalized: false,
    }));
    const lastWordEndMs = words[words.length - 1]!.endMs;
    const utt: Utterance = { words, startMs: u.atAudioMs, lastWordEndMs, finalDone: false };
    this.utterances.push(utt);

    if (this.query.vad_events === 'true') this.schedule({ atMs: u.atAudioMs, kind: 'speech_started', utt });
    if (u.interim ?? this.query.interim_results === 'true') {
      words.forEach((w, i) => this.schedule({ atMs: w.endMs, kind: 'interim', utt, wordIndexEnd: i + 1 }));
    }
    const chunks = Math.max(1, Math.min(u.finals ?? 1, words.length));
    const perChunk = Math.ceil(words.length / chunks);
    const endpointing = Number(this.query.endpointing);
    const endpointAfterMs =
      u.endpointAfterMs === undefined ? (Number.isFinite(endpointing) ? endpointing : 300) : u.endpointAfterMs;
    for (let c = 0; c < chunks; c++) {
      const end = Math.min(words.length, (c + 1) * perChunk);
      const last = end === words.length;
      const atMs = last ? lastWordEndMs + (endpointAfterMs ?? 300) : words[end - 1]!.endMs;
      this.schedule({ atMs, kind: 'final', utt, wordIndexEnd: end, speechFinal: last && endpointAfterMs !== null });
    }
    const wantsUtteranceEnd =
      u.utteranceEnd ?? (this.query.utterance_end_ms !== undefined && this.query.interim_results === 'true');
    if (wantsUtteranceEnd) {
      const gapMs = Number(this.query.utterance_end_ms) || 1000;
      this.schedule({ atMs: lastWordEndMs + gapMs, kind: 'utterance_end', utt });
    }
    // Anything already due (a script at 0 ms) goes out with the next audio.
  }

  /** Called by the server for each binary frame. */
  onAudio(data: Buffer): void {
    this.lastActivityAt = this.opts.clock.now();
    if (this.opts.recordAudio) this.chunks.push(Buffer.from(data));
    this.bytesReceived += data.length;
    this.advance(this.audioMs);
  }

  /** Called by the server for each text frame. */
  onControl(msg: unknown): void {
    this.controlMessages.push(msg);
    const type = (msg as { type?: unknown } | null)?.type;
    if (type === 'KeepAlive') {
      this.keepAlives++;
      this.lastActivityAt = this.opts.clock.now();
    } else if (type === 'Finalize') {
      this.flush(true);
    } else if (type === 'CloseStream') {
      this.flush(false);
      this.send({
        type: 'Metadata',
        transaction_key: 'deprecated',
        request_id: this.requestId,
        sha256: '0'.repeat(64),
        created: new Date(this.opts.clock.wallNow()).toISOString(),
        duration: ms2s(this.audioMs),
        channels: 1,
      });
      if (!this.closed) this.ws.close(1000, 'CloseStream');
    } else {
      this.send({ type: 'Error', variant: 'SchemaError', description: 'unknown message', message: JSON.stringify(msg) });
    }
  }

  onClosed(code: number): void {
    this.closed = true;
    this.closeCode = code;
  }

  private schedule(e: Omit<Emission, 'seq'>): void {
    this.emissions.push({ ...e, seq: this.seq++ });
    this.emissions.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
  }

  private speaking(atMs: number): boolean {
    return this.utterances.some((u) => !u.finalDone && u.startMs <= atMs);
  }

  /** Emit everything due up to `nowAudioMs`, in audio-time order. */
  private advance(nowAudioMs: number): void {
    for (;;) {
      const next = this.emissions[0];
      const idleAt = this.lastFinalEndMs + this.opts.idleResultEveryMs;
      const idleDue = idleAt <= nowAudioMs && !this.speaking(idleAt) && (!next || idleAt < next.atMs);
      if (idleDue) {
        this.sendResults({ startMs: this.lastFinalEndMs, endMs: idleAt, words: [], isFinal: true, speechFinal: false });
        this.lastFinalEndMs = idleAt;
        continue;
      }
      if (!next || next.atMs > nowAudioMs) break;
      this.emissions.shift();
      this.emit(next);
    }
  }

  private emit(e: Emission): void {
    const { utt } = e;
    switch (e.kind) {
      case 'speech_started':
        this.send({ type: 'SpeechStarted', channel: [0, 1], timestamp: ms2s(e.atMs) });
        return;
      case 'interim': {
        const heard = utt.words.slice(0, e.wordIndexEnd).filter((w) => !w.finalized);
        if (heard.length === 0) return;
        this.sendResults({ startMs: this.lastFinalEndMs, endMs: e.atMs, words: heard, isFinal: false, speechFinal: false });
        return;
      }
      case 'final': {
        const chunk = utt.words.slice(0, e.wordIndexEnd).filter((w) => !w.finalized);
        if (e.wordIndexEnd === utt.words.length) utt.finalDone = true;
        if (chunk.length === 0) return;
        for (const w of chunk) w.finalized = true;
        const startMs = this.lastFinalEndMs;
        this.lastFinalEndMs = Math.max(this.lastFinalEndMs, e.atMs);
        this.sendResults({ startMs, endMs: e.atMs, words: chunk, isFinal: true, speechFinal: e.speechFinal ?? false });
        return;
      }
      case 'utterance_end':
        this.send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: ms2s(utt.lastWordEndMs) });
        return;
    }
  }

  /** Finalize / CloseStream: everything heard so far becomes final now. */
  private flush(fromFinalize: boolean): void {
    const now = this.audioMs;
    const heard = this.utterances.flatMap((u) => u.words.filter((w) => !w.finalized && w.endMs <= now));
    for (const w of heard) w.finalized = true;
    for (const u of this.utterances) if (u.words.every((w) => w.finalized)) u.finalDone = true;
    const startMs = this.lastFinalEndMs;
    this.lastFinalEndMs = Math.max(this.lastFinalEndMs, now);
    this.sendResults({ startMs, endMs: now, words: heard, isFinal: true, speechFinal: false, fromFinalize });
  }

  private sendResults(r: {
    startMs: number;
    endMs: number;
    words: Word[];
    isFinal: boolean;
    speechFinal: boolean;
    fromFinalize?: boolean;
  }): void {
    this.send({
      type: 'Results',
      channel_index: [0, 1],
      duration: ms2s(r.endMs - r.startMs),
      start: ms2s(r.startMs),
      is_final: r.isFinal,
      speech_final: r.speechFinal,
      from_finalize: r.fromFinalize ?? false,
      channel: {
        alternatives: [
          {
            transcript: r.words.map((w) => w.punctuated).join(' '),
            confidence: r.words.length ? 0.98 : 0,
            words: r.words.map((w) => ({
              word: w.word,
              start: ms2s(w.startMs),
              end: ms2s(w.endMs),
              confidence: 0.98,
              punctuated_word: w.punctuated,
            })),
          },
        ],
      },
      metadata: {
        request_id: this.requestId,
        model_info: { name: 'fake-nova', version: '0', arch: this.query.model ?? 'nova-3' },
        model_uuid: '00000000-0000-0000-0000-000000000000',
      },
    });
  }

  private send(msg: Record<string, unknown>): void {
    if (this.silent || this.closed || this.ws.readyState !== this.ws.OPEN) return;
    this.sent.push(msg);
    this.ws.send(JSON.stringify(msg));
    this.server.notify();
  }
}

export interface FakeDeepgram {
  /** Base URL for `DEEPGRAM_BASE_URL` / the SDK's `baseUrl` (http://127.0.0.1:PORT). */
  url: string;
  port: number;
  apiKey: string;
  /** Every accepted connection, in order. */
  connections: FakeDeepgramConnection[];
  /** Upgrades refused (bad auth, bad query, wrong path). */
  rejections: FakeRejection[];
  /** The newest open connection. */
  latest(): FakeDeepgramConnection | undefined;
  /** The caller says `text` now, on the newest open connection (or the next one to open). */
  say(text: string, options?: SayOptions): void;
  drop(code?: number, connection?: FakeDeepgramConnection): void;
  goSilent(connection?: FakeDeepgramConnection): void;
  /** Resolves once `predicate()` holds; re-checked on every connection, frame and message. */
  until(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** Wake `until` waiters (call it from a test's own listeners, e.g. on client events). */
  notify(): void;
  /** Called for each accepted connection (before any audio). */
  onConnection(fn: (connection: FakeDeepgramConnection) => void): void;
  close(): Promise<void>;
}

export async function startFakeDeepgram(options: FakeDeepgramOptions = {}): Promise<FakeDeepgram> {
  const fake = new FakeDeepgramServer(options);
  await fake.listen();
  return fake;
}

class FakeDeepgramServer implements FakeDeepgram {
  url = '';
  port = 0;
  readonly apiKey: string;
  readonly connections: FakeDeepgramConnection[] = [];
  readonly rejections: FakeRejection[] = [];
  private readonly http = createServer((req, res) => this.onControlRequest(req, res));
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  private readonly sockets = new Set<Socket>();
  private readonly waiters = new Set<() => void>();
  private readonly connectionListeners: ((c: FakeDeepgramConnection) => void)[] = [];
  private pendingSays: { text: string; options: Omit<SayOptions, 'connection'> }[] = [];
  private readonly clock: Clock;
  private readonly idleCloseMs: number;
  private sweep: TimerHandle | undefined;
  private closing = false;

  constructor(private readonly options: FakeDeepgramOptions) {
    this.apiKey = options.apiKey ?? 'test-deepgram-key';
    this.clock = options.clock ?? systemClock;
    this.idleCloseMs = options.idleCloseMs ?? 10_000;
    this.http.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket as Socket, head));
    this.wss.on('headers', (headers) => headers.push(`dg-request-id: ${randomUUID()}`));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', resolve));
    this.port = (this.http.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    this.armSweep();
  }

  latest(): FakeDeepgramConnection | undefined {
    for (let i = this.connections.length - 1; i >= 0; i--) if (this.connections[i]!.open) return this.connections[i];
    return undefined;
  }

  say(text: string, options: SayOptions = {}): void {
    const { connection, ...rest } = options;
    const target = connection ?? this.latest();
    if (target) target.say(text, rest);
    else this.pendingSays.push({ text, options: rest });
  }

  drop(code?: number, connection?: FakeDeepgramConnection): void {
    (connection ?? this.latest())?.drop(code);
  }

  goSilent(connection?: FakeDeepgramConnection): void {
    (connection ?? this.latest())?.goSilent();
  }

  onConnection(fn: (connection: FakeDeepgramConnection) => void): void {
    this.connectionListeners.push(fn);
  }

  until(predicate: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        let ok = false;
        try {
          ok = predicate();
        } catch (err) {
          done();
          reject(err as Error);
          return;
        }
        if (ok) {
          done();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`fake Deepgram: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  /** Wake `until` waiters. */
  notify(): void {
    // Called per audio frame: nothing to copy while nobody waits.
    if (this.waiters.size === 0) return;
    for (const w of [...this.waiters]) w();
  }

  async close(): Promise<void> {
    this.closing = true;
    this.sweep?.cancel();
    for (const ws of this.wss.clients) ws.terminate();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  /**
   * Out-of-process control, for `npm run fakes` + `npm run call --url`: the
   * caller's speech and failures driven over HTTP on the same port.
   *   POST /fake/say    { text, connection?: index, ...SayOptions }
   *   POST /fake/drop   { connection?: index, code? }
   *   POST /fake/silent { connection?: index }
   *   GET  /fake/connections → [{ index, open, bytesReceived, keepAlives, query }]
   */
  private onControlRequest(req: IncomingMessage, res: ServerResponse): void {
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/fake/connections') {
      return reply(
        200,
        this.connections.map((c) => ({
          index: c.index,
          open: c.open,
          bytesReceived: c.bytesReceived,
          keepAlives: c.keepAlives,
          query: c.query,
        })),
      );
    }
    if (req.method !== 'POST' || !['/fake/say', '/fake/drop', '/fake/silent'].includes(url.pathname)) {
      return reply(404, { err_msg: 'not found' });
    }
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (raw += d));
    req.on('end', () => {
      let body: Record<string, unknown>;
      try {
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {
        return reply(400, { err_msg: 'body must be JSON' });
      }
      const { connection: idx, ...rest } = body;
      const connection = typeof idx === 'number' ? this.connections[idx] : undefined;
      if (idx !== undefined && !connection) return reply(404, { err_msg: `no connection ${String(idx)}` });
      if (url.pathname === '/fake/say') {
        if (typeof rest.text !== 'string' || !rest.text.trim()) return reply(400, { err_msg: 'text is required' });
        const { text, ...opts } = rest as { text: string } & Omit<SayOptions, 'connection'>;
        this.say(text, { ...opts, ...(connection ? { connection } : {}) });
      } else if (url.pathname === '/fake/drop') {
        this.drop(typeof rest.code === 'number' ? rest.code : undefined, connection);
      } else {
        this.goSilent(connection);
      }
      reply(200, { ok: true });
    });
  }

  /** One timer for the whole server: closes connections idle past `idleCloseMs`, as Deepgram does. */
  private armSweep(): void {
    const everyMs = Math.max(20, Math.min(1000, this.idleCloseMs / 4));
    this.sweep = this.clock.setTimeout(() => {
      if (this.closing) return;
      const now = this.clock.now();
      for (const c of this.connections) {
        if (c.open && !c.silent && now - c.lastActivityAt >= this.idleCloseMs) c.drop(1011, 'NET-0001');
      }
      this.armSweep();
    }, everyMs);
  }

  private reject(socket: Socket, req: IncomingMessage, status: number, error: string): void {
    this.rejections.push({ status, error, headers: req.headers, url: req.url ?? '' });
    const body = JSON.stringify({ err_code: status === 401 ? 'INVALID_AUTH' : 'Bad Request', err_msg: error });
    const reason = STATUS_CODES[status] ?? 'Error';
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\n` +
        `dg-error: ${error}\r\n` +
        `dg-request-id: ${randomUUID()}\r\n` +
        'content-type: application/json\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        'connection: close\r\n\r\n' +
        body,
    );
    this.notify();
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/v1/listen') return this.reject(socket, req, 404, `Unknown path ${url.pathname}`);
    const refuse = this.options.refuseStatus;
    if (refuse !== undefined) return this.reject(socket, req, refuse, `Refused with ${refuse}`);
    const auth = req.headers.authorization;
    if (auth !== `Token ${this.apiKey}`) {
      return this.reject(socket, req, 401, 'Invalid credentials.');
    }
    const query = Object.fromEntries(url.searchParams.entries());
    const problem = this.queryProblem(query);
    if (problem) return this.reject(socket, req, 400, problem);

    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, query, req.headers));
  }

  private queryProblem(query: Record<string, string>): string | undefined {
    if (!query.model) return 'Missing required query parameter: model';
    if (query.encoding && !query.sample_rate) return 'sample_rate is required with encoding';
    if (query.encoding && !['linear16', 'mulaw', 'alaw', 'opus', 'flac'].includes(query.encoding)) {
      return `Unsupported encoding: ${query.encoding}`;
    }
    if (query.utterance_end_ms && query.interim_results !== 'true') return 'utterance_end_ms requires interim_results=true';
    for (const [k, v] of Object.entries(this.options.requiredQuery ?? {})) {
      if (query[k] !== v) return `Query parameter ${k} must be ${v}, got ${query[k] ?? '(missing)'}`;
    }
    return undefined;
  }

  private accept(ws: WebSocket, query: Record<string, string>, headers: IncomingHttpHeaders): void {
    const index = this.connections.length;
    const conn = new FakeDeepgramConnection(index, query, headers, ws, this, {
      idleResultEveryMs: this.options.idleResultEveryMs ?? 1000,
      recordAudio: this.options.recordAudio ?? true,
      clock: this.clock,
    });
    this.connections.push(conn);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      // ws hands over a fresh Buffer per message: no copy needed (recordAudio copies what it keeps).
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (isBinary) {
        conn.onAudio(buf);
      } else {
        let msg: unknown;
        try {
          msg = JSON.parse(buf.toString('utf8'));
        } catch {
          msg = buf.toString('utf8');
        }
        conn.onControl(msg);
      }
      this.notify();
    });
    ws.on('close', (code) => {
      conn.onClosed(code);
      this.notify();
    });
    ws.on('error', () => {});

    const script = this.options.script;
    const utterances = typeof script === 'function' ? script(index) : index === 0 ? (script ?? []) : [];
    for (const u of utterances) conn.addUtterance(u);
    const says = this.pendingSays;
    this.pendingSays = [];
    for (const s of says) conn.say(s.text, s.options);
    for (const fn of this.connectionListeners) fn(conn);
    this.notify();
  }
}
