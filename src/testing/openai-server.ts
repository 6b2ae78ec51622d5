import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback OpenAI Chat Completions server speaking real SSE (docs/protocols.md#chat-completions-streaming),
 * so the real `openai` SDK is exercised through its base URL. Timing uses real
 * timers driven by small values; every write stops once the client disconnects.
 */

export interface FakeChatMessage {
  role: string;
  content?: string | null;
  tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

export interface FakeToolDef {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export interface FakeChatRequest {
  model: string;
  messages: FakeChatMessage[];
  tools: FakeToolDef[];
  /** The whole parsed JSON body. */
  body: Record<string, unknown>;
}

export interface ReplyPlan {
  text?: string;
  toolCalls?: { name: string; arguments: string | Record<string, unknown>; id?: string }[];
  /** ≥ 400 answers with OpenAI's JSON error shape instead of a stream. */
  status?: number;
  errorBody?: unknown;
  retryAfterMs?: number;
  retryAfterSeconds?: number;
  /** Hold the response headers this long (to test aborts before headers). */
  headersDelayMs?: number;
  /** Write this many `data:` events (the role chunk counts), then go silent with the socket open. 0 = headers only. */
  stallAfterChunks?: number;
  /**
   * Close the connection without answering, this many ms after the headers delay (0 = at once):
   * what a client meets on a kept-alive socket the server had already closed (as the fake ElevenLabs).
   */
  dropAfterMs?: number;
  /** Send an `{"error": …}` event after this many events (the SDK throws mid-stream). */
  errorAfterChunks?: number;
  firstTokenDelayMs?: number;
  /** Token pace; 0 or absent writes as fast as the socket takes it. */
  tokensPerSecond?: number;
  finishReason?: string;
  usage?: { prompt_tokens: number; completion_tokens: number };
  /** Called right after each content token is written (the bench stamps when a sentence became complete). */
  onContentWritten?: (text: string) => void;
}

export type Responder = (req: FakeChatRequest) => ReplyPlan | Promise<ReplyPlan>;

export type ResponseOutcome = 'completed' | 'error_status' | 'client_closed' | 'stalled' | 'server_closed';

export interface ResponseRecord {
  status: number;
  /** `data:` events written so far (including `[DONE]`). */
  eventsWritten: number;
  outcome: ResponseOutcome | 'pending';
  /** Resolves when the exchange is over, with how it ended. A stall resolves only at disconnect. */
  ended: Promise<ResponseOutcome>;
  /** The client's port: the same port twice means a kept-alive connection was reused. */
  clientPort: number | undefined;
}

export interface FakeOpenAIOptions {
  responder?: Responder;
  firstTokenDelayMs?: number;
  tokensPerSecond?: number;
  /** When set, only this key is accepted; otherwise any non-empty Bearer token. */
  apiKey?: string;
}

export interface FakeOpenAI {
  /** Base URL for the SDK, including `/v1`. */
  url: string;
  /** Parsed JSON bodies of every chat-completions request, in arrival order. */
  requests: Record<string, unknown>[];
  /** One record per chat-completions request, same order as `requests`. */
  responses: ResponseRecord[];
  /** Plans here are used first, one per request, before the responder. */
  enqueue(...plans: ReplyPlan[]): void;
  setResponder(responder: Responder): void;
  close(): Promise<void>;
}

const CHUNK_ID = 'chatcmpl-fake';
const CREATED = 1_700_000_000;

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  let responder: Responder = options.responder ?? defaultResponder;
  const queue: ReplyPlan[] = [];
  const requests: Record<string, unknown>[] = [];
  const responses: ResponseRecord[] = [];
  const closers = new Set<() => void>();

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, errorShape(`fake crashed: ${String(err)}`, 'server_error'));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/chat/completions') {
      return sendError(res, 404, errorShape(`Unknown route ${req.method} ${req.url}`, 'invalid_request_error'));
    }
    const auth = req.headers.authorization ?? '';
    const key = /^Bearer (.+)$/.exec(auth)?.[1];
    if (!key || (options.apiKey !== undefined && key !== options.apiKey)) {
      return sendError(
        res,
        401,
        errorShape('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key'),
      );
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return sendError(res, 400, errorShape('We could not parse the JSON body of your request.', 'invalid_request_error'));
    }
    if (body.stream !== true) {
      return sendError(res, 400, errorShape('This fake only serves stream: true', 'invalid_request_error', null, 'stream'));
    }

    requests.push(body);
    const record = newRecord(req.socket.remotePort);
    responses.push(record.view);
    const request: FakeChatRequest = {
      model: typeof body.model === 'string' ? body.model : '',
      messages: Array.isArray(body.messages) ? (body.messages as FakeChatMessage[]) : [],
      tools: Array.isArray(body.tools) ? (body.tools as FakeToolDef[]) : [],
      body,
    };
    const plan = queue.shift() ?? (await responder(request));

    let closed = false;
    const timers = new Set<NodeJS.Timeout>();
    const wait = (ms: number) =>
      new Promise<void>((resolve) => {
        if (ms <= 0) return resolve();
        const t = setTimeout(() => {
          timers.delete(t);
          resolve();
        }, ms);
        timers.add(t);
      });
    const shutdown = () => {
      for (const t of timers) clearTimeout(t);
      res.destroy();
      record.finish('server_closed');
    };
    closers.add(shutdown);
    // `req.on('close')` fires once the body is read; only the response's close means the client left.
    res.on('close', () => {
      closed = true;
      for (const t of timers) clearTimeout(t);
      closers.delete(shutdown);
      record.finish('client_closed');
    });

    await wait(plan.headersDelayMs ?? 0);
    if (closed) return;
    if (plan.dropAfterMs !== undefined) {
      await wait(plan.dropAfterMs);
      if (closed) return;
      record.finish('server_closed');
      res.destroy();
      return;
    }

    if (plan.status !== undefined && plan.status >= 400) {
      record.view.status = plan.status;
      const headers: Record<string, string> = {};
      if (plan.retryAfterMs !== undefined) headers['retry-after-ms'] = String(plan.retryAfterMs);
      if (plan.retryAfterSeconds !== undefined) headers['retry-after'] = String(plan.retryAfterSeconds);
      sendError(res, plan.status, plan.errorBody ?? defaultErrorBody(plan.status), headers);
      record.finish('error_status');
      return;
    }

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': `req_fake_${requests.length}`,
    });
    res.flushHeaders();

    const model = request.model || 'gpt-4o-mini';
    const events = buildEvents(plan, model, includeUsage(body));
    const firstTokenDelayMs = plan.firstTokenDelayMs ?? options.firstTokenDelayMs ?? 0;
    const tokensPerSecond = plan.tokensPerSecond ?? options.tokensPerSecond ?? 0;
    const tokenGapMs = tokensPerSecond > 0 ? 1000 / tokensPerSecond : 0;

    for (let i = 0; i < events.length; i++) {
      if (plan.stallAfterChunks !== undefined && record.view.eventsWritten >= plan.stallAfterChunks) {
        record.view.outcome = 'stalled';
        return; // socket stays open and silent until the client gives up
      }
      if (plan.errorAfterChunks !== undefined && record.view.eventsWritten === plan.errorAfterChunks) {
        res.write(`data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } })}\n\n`);
        record.view.eventsWritten++;
        res.end();
        record.finish('completed');
        return;
      }
      const event = events[i]!;
      if (i === 0) await wait(firstTokenDelayMs);
      else if (event.token) await wait(tokenGapMs);
      if (closed) return;
      res.write(`data: ${event.data}\n\n`);
      record.view.eventsWritten++;
      if (event.content !== undefined) plan.onContentWritten?.(event.content);
    }
    res.end();
    closers.delete(shutdown);
    record.finish('completed');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    responses,
    enqueue: (...plans) => queue.push(...plans),
    setResponder: (r) => {
      responder = r;
    },
    close: async () => {
      for (const c of [...closers]) c();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function newRecord(clientPort: number | undefined) {
  let resolve!: (o: ResponseOutcome) => void;
  const ended = new Promise<ResponseOutcome>((r) => (resolve = r));
  const view: ResponseRecord = { status: 200, eventsWritten: 0, outcome: 'pending', ended, clientPort };
  let settled = false;
  return {
    view,
    finish(outcome: ResponseOutcome) {
      if (settled) return;
      // A stall ends when the client leaves, but it is remembered as a stall.
      if (view.outcome === 'stalled' && outcome === 'client_closed') outcome = 'stalled';
      settled = true;
      view.outcome = outcome;
      resolve(outcome);
    },
  };
}

function includeUsage(body: Record<string, unknown>): boolean {
  const so = body.stream_options as { include_usage?: unknown } | undefined;
  return so?.include_usage === true;
}

interface SseEvent {
  data: string;
  /** Content/tool events are paced at the token rate; framing events are not. */
  token: boolean;
  /** The text this event carries, for content events. */
  content?: string;
}

/** Splits text the way a tokenizer roughly would: words with their leading space. */
export function fakeTokens(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}

function buildEvents(plan: ReplyPlan, model: string, withUsage: boolean): SseEvent[] {
  const frame = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      id: CHUNK_ID,
      object: 'chat.completion.chunk',
      created: CREATED,
      model,
      system_fingerprint: 'fp_fake',
      choices,
      ...extra,
    });
  const choice = (delta: Record<string, unknown>, finish: string | null = null) => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason: finish,
  });

  const events: SseEvent[] = [];
  const text = plan.text ?? '';
  const calls = plan.toolCalls ?? [];
  const role: Record<string, unknown> = { role: 'assistant', content: calls.length && !text ? null : '', refusal: null };
  events.push({ data: frame([choice(role)]), token: false });

  const tokens = fakeTokens(text);
  for (const t of tokens) events.push({ data: frame([choice({ content: t })]), token: true, content: t });

  calls.forEach((call, index) => {
    const args = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
    const id = call.id ?? `call_fake_${index}_${call.name}`;
    events.push({
      data: frame([
        choice({ tool_calls: [{ index, id, type: 'function', function: { name: call.name, arguments: '' } }] }),
      ]),
      token: true,
    });
    // Arguments split across several chunks, as OpenAI does, so assembly is exercised.
    for (let i = 0; i < args.length; i += 7) {
      events.push({
        data: frame([choice({ tool_calls: [{ index, function: { arguments: args.slice(i, i + 7) } }] })]),
        token: true,
      });
    }
  });

  const finish = plan.finishReason ?? (calls.length ? 'tool_calls' : 'stop');
  events.push({ data: frame([choice({}, finish)]), token: false });
  if (withUsage) {
    const usage = plan.usage ?? { prompt_tokens: 12, completion_tokens: Math.max(1, tokens.length) };
    events.push({
      data: frame([], { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } }),
      token: false,
    });
  }
  events.push({ data: '[DONE]', token: false });
  return events;
}

function errorShape(message: string, type: string, code: string | null = null, param: string | null = null) {
  return { error: { message, type, param, code } };
}

function defaultErrorBody(status: number) {
  if (status === 429) {
    return errorShape('Rate limit reached for requests. Please try again shortly.', 'requests', 'rate_limit_exceeded');
  }
  if (status === 401) return errorShape('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
  if (status === 400) return errorShape('Invalid request.', 'invalid_request_error');
  return errorShape('The server had an error while processing your request. Sorry about that!', 'server_error');
}

function sendError(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
    'x-request-id': 'req_fake_error',
    ...headers,
  });
  res.end(json);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------
// Default responder: deterministic, good enough for demos, `npm run call` and the bench.

const STOPWORDS = new Set(
  'the a an and or but to of for in on at by with from is are was were be been it this that these those i you we they me my your our can could would should will please want need like just about into have has had do does did not'.split(
    ' ',
  ),
);

function words(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length >= 3 && !STOPWORDS.has(w));
}

/** Crude stemming so "transfer"/"transferred"/"transferring" meet. */
function stem(w: string): string {
  return w
    .replace(/(ing|ed|s)$/, '')
    .replace(/e$/, '')
    .replace(/([b-df-hj-np-tv-z])\1$/, '$1');
}

function lastOf(messages: FakeChatMessage[], role: string): FakeChatMessage | undefined {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === role) return messages[i];
  return undefined;
}

/**
 * - JSON mode (gather extraction): `{"value": …}` from the caller's last words —
 *   digits become a number, yes/no a boolean, anything else the trimmed text.
 * - Tools offered and the last message is the caller's: call the tool whose
 *   name/description shares the most words with what was said.
 * - After a tool result: acknowledge it. Otherwise a short sentence on the topic.
 */
export const defaultResponder: Responder = (req) => {
  const last = req.messages[req.messages.length - 1];
  const userText = (lastOf(req.messages, 'user')?.content ?? '').trim();
  const format = (req.body.response_format as { type?: string } | undefined)?.type;

  if (format === 'json_object') return { text: JSON.stringify({ value: extractValue(userText) }) };

  if (last?.role === 'user' && req.tools.length) {
    const said = new Set(words(userText).map(stem));
    let best: { tool: FakeToolDef; score: number } | undefined;
    for (const tool of req.tools) {
      const vocabulary = new Set(
        words(`${tool.function.name.replace(/[_-]/g, ' ')} ${tool.function.description ?? ''}`).map(stem),
      );
      let score = 0;
      for (const w of said) if (vocabulary.has(w)) score++;
      if (score > 0 && (!best || score > best.score)) best = { tool, score };
    }
    if (best) {
      return { toolCalls: [{ name: best.tool.function.name, arguments: fillArguments(best.tool, userText) }] };
    }
  }

  if (last?.role === 'tool') return { text: 'Thanks, I have that now. Is there anything else I can help with?' };
  if (!userText) return { text: 'Hello! How can I help you today?' };
  const topic = userText.replace(/[.!?]+$/, '').split(/\s+/).slice(0, 8).join(' ');
  return { text: `You asked about ${topic}. I can help with that.` };
};

const NUMBER_WORDS: Record<string, number> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
};

function extractValue(text: string): string | number | boolean | null {
  const clean = text.replace(/[.!?]+$/, '').trim();
  if (!clean) return null;
  const lower = clean.toLowerCase();
  if (/^(yes|yeah|yep|sure|correct|right|affirmative)\b/.test(lower)) return true;
  if (/^(no|nope|nah|negative)\b/.test(lower)) return false;
  const digits = clean.replace(/[\s-]/g, '').match(/^\D*?(\d+(?:\.\d+)?)\D*$/);
  if (digits?.[1]) return Number(digits[1]);
  const wordNumber = NUMBER_WORDS[lower];
  if (wordNumber !== undefined) return wordNumber;
  return clean;
}

/** Fills required string arguments with what the caller said, so demos pass schema checks. */
function fillArguments(tool: FakeToolDef, userText: string): Record<string, unknown> {
  const params = tool.function.parameters as
    | { properties?: Record<string, { type?: string; enum?: unknown[] }>; required?: string[] }
    | undefined;
  const out: Record<string, unknown> = {};
  const props = params?.properties ?? {};
  for (const name of params?.required ?? Object.keys(props)) {
    const p = props[name] ?? {};
    if (p.enum?.length) out[name] = p.enum[0];
    else if (p.type === 'number' || p.type === 'integer') out[name] = 0;
    else if (p.type === 'boolean') out[name] = true;
    else out[name] = userText;
  }
  return out;
}
