import type OpenAI from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { systemClock, type Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { DEFAULT_DEADLINE_POLICY, ProviderTimer, retryBudgetLeftMs } from '../deadline.js';
import { latenessFor, type LoopLateness } from '../../core/loop-lateness.js';
import { onDemand } from '../../core/on-demand.js';
import { kindForStatus, ProviderError, type ProviderErrorKind } from '../errors.js';
import {
  type LlmMessage,
  type LlmPort,
  type LlmRequest,
  type LlmStreamEvent,
  type LlmToolCall,
  type LlmToolDef,
} from './port.js';
import { backoffMs, decideRetry, retryAfterMs } from './retry.js';

/**
 * The OpenAI chat-completions adapter (any OpenAI-compatible server works through
 * the base URL). The SDK's own `timeout` ends once response headers arrive and
 * its retries would happily replay a half-spoken answer, so both are ours here.
 */

/** Silence before the first word of a reply becomes dead air; past this the flow's fallback serves the caller better (docs/architecture.md#timeouts). */
export const LLM_FIRST_TOKEN_TIMEOUT_MS = 4_000;
/** A stream that goes quiet mid-sentence is hung; 3 s is far beyond normal inter-token gaps (docs/architecture.md#timeouts). */
export const LLM_CHUNK_TIMEOUT_MS = 3_000;
/** One try plus two retries: more cannot fit in the first-token budget anyway. */
export const LLM_MAX_ATTEMPTS = 3;
/** First backoff step; doubled per retry (200 → 400 ms) so two retries still leave time to answer. */
export const LLM_BACKOFF_MS = 200;
/**
 * The SDK's header timeout only backstops our own first-token timer (which runs
 * on the injectable clock); it must never be the one that fires in production.
 */
const SDK_HEADER_TIMEOUT_SLACK_MS = 1_000;

export const OPENAI_DEFAULT_MODEL = 'gpt-4o-mini';
export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export interface OpenAiLlmOptions {
  /** Missing → every `stream` fails with `not_configured`; constructing never throws. */
  apiKey?: string | undefined;
  /** Includes `/v1`; defaults to OpenAI's. */
  baseUrl?: string | undefined;
  model?: string;
  clock?: Clock;
  firstTokenTimeoutMs?: number;
  chunkTimeoutMs?: number;
  maxAttempts?: number;
  backoffMs?: number;
  /** Jitter source, injectable for tests. */
  random?: () => number;
  logger?: Logger;
  /** Our loop's summed lateness (src/core/loop-lateness.ts); the process's on the system clock, none on another. */
  lateness?: LoopLateness | undefined;
}

type TimeoutKind = 'first_token_timeout' | 'stall';

/** The SDK is loaded when a client is built (OPENAI_API_KEY set), not at start (docs/architecture.md#memory). */
const openAiSdk = onDemand<typeof import('openai')>('openai');

export class OpenAiLlm implements LlmPort {
  readonly model: string;
  private readonly client: OpenAI | undefined;
  private readonly clock: Clock;
  private readonly firstTokenTimeoutMs: number;
  private readonly chunkTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoffBaseMs: number;
  private readonly random: () => number;
  private readonly logger: Logger | undefined;
  private readonly lateness: LoopLateness | undefined;

  constructor(options: OpenAiLlmOptions) {
    this.model = options.model ?? OPENAI_DEFAULT_MODEL;
    this.clock = options.clock ?? systemClock;
    this.firstTokenTimeoutMs = options.firstTokenTimeoutMs ?? LLM_FIRST_TOKEN_TIMEOUT_MS;
    this.chunkTimeoutMs = options.chunkTimeoutMs ?? LLM_CHUNK_TIMEOUT_MS;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? LLM_MAX_ATTEMPTS);
    this.backoffBaseMs = options.backoffMs ?? LLM_BACKOFF_MS;
    this.random = options.random ?? Math.random;
    this.logger = options.logger;
    this.lateness = 'lateness' in options ? options.lateness : latenessFor(this.clock);
    this.client = options.apiKey
      ? new (openAiSdk().OpenAI)({
          apiKey: options.apiKey,
          // Explicit values so the SDK does not read process.env behind config.ts's back.
          baseURL: options.baseUrl ?? OPENAI_DEFAULT_BASE_URL,
          organization: null,
          project: null,
          maxRetries: 0,
          timeout: this.firstTokenTimeoutMs + SDK_HEADER_TIMEOUT_SLACK_MS,
        })
      : undefined;
  }

  get configured(): boolean {
    return this.client !== undefined;
  }

  async *stream(request: LlmRequest): AsyncGenerator<LlmStreamEvent, void, undefined> {
    const client = this.client;
    if (!client) throw llmError('not_configured', 'The LLM needs OPENAI_API_KEY to be set');
    const outer = request.signal;
    if (outer?.aborted) return;

    const body = this.buildBody(request);
    const startedAt = this.clock.now();
    // The loop's lateness when the turn's first-token budget began: every attempt's timer, and the
    // retry decision, forgive what our own loop was late since then (src/providers/deadline.ts).
    const lateAtStart = this.lateness?.totalMs() ?? 0;
    let yielded = false;

    for (let attempt = 1; ; attempt++) {
      const attemptCtl = new AbortController();
      const onOuterAbort = () => attemptCtl.abort(outer?.reason);
      outer?.addEventListener('abort', onOuterAbort, { once: true });
      let timedOut: TimeoutKind | undefined;
      // Our loop's lateness beyond what the deadline forgave (src/providers/deadline.ts): kept on the error.
      let ownLatenessMs = 0;
      const fire = (kind: TimeoutKind, timer: ProviderTimer) => {
        if (!timedOut) ownLatenessMs = timer.unforgivenLateMs;
        timedOut ??= kind;
        attemptCtl.abort(kind);
      };
      // Both timers fail only when the LLM is late, not our loop (src/providers/deadline.ts).
      const firstTokenTimer: ProviderTimer = new ProviderTimer(this.clock, () => fire('first_token_timeout', firstTokenTimer), DEFAULT_DEADLINE_POLICY, this.lateness);
      firstTokenTimer.arm(this.firstTokenTimeoutMs, startedAt, lateAtStart);
      // Held while the consumer has a yielded event: that time is not OpenAI's (ProviderTimer.hold).
      const stallTimer: ProviderTimer = new ProviderTimer(this.clock, () => fire('stall', stallTimer), DEFAULT_DEADLINE_POLICY, this.lateness);
      let retryDelayMs = 0;
      let chunks: AsyncIterator<ChatCompletionChunk> | undefined;
      // Read to its end: the response is over and its socket back in the pool.
      let drained = false;
      const gotFirstToken = () => firstTokenTimer.cancel();

      try {
        const sdkStream = await client.chat.completions.create(body, { signal: attemptCtl.signal });
        chunks = sdkStream[Symbol.asyncIterator]();
        const toolCalls = new ToolCallAssembler();
        let finishReason: string | undefined;
        let usage: { promptTokens: number; completionTokens: number } | undefined;

        // One stall timer stays armed across chunks (none made and cleared per chunk, as the
        // ElevenLabs adapter does): every chunk restarts its budget (ProviderTimer.progress).
        stallTimer.arm(this.chunkTimeoutMs);
        for (;;) {
          const next = await chunks.next();
          if (next.done) {
            drained = true;
            break;
          }
          stallTimer.progress();
          const chunk = next.value;
          if (chunk.usage) {
            usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens };
          }
          const choice = chunk.choices[0];
          if (!choice) continue;
          const delta = choice.delta;
          if (delta?.tool_calls?.length) {
            gotFirstToken();
            for (const d of delta.tool_calls) toolCalls.add(d);
          }
          if (delta?.content) {
            gotFirstToken();
            yielded = true;
            stallTimer.hold();
            yield { type: 'text', text: delta.content };
            stallTimer.release();
          }
          if (choice.finish_reason && finishReason === undefined) {
            finishReason = choice.finish_reason;
            // Hand tool calls over now rather than after the usage chunk: the caller may act at once.
            for (const call of toolCalls.drain()) {
              yielded = true;
              stallTimer.hold();
              yield { type: 'tool_call', call };
              stallTimer.release();
            }
          }
        }
        stallTimer.cancel();

        // The SDK ends iteration silently when aborted mid-stream: tell the reasons apart here.
        if (outer?.aborted) return;
        if (timedOut) throw timeoutError(timedOut, this.firstTokenTimeoutMs, this.chunkTimeoutMs, ownLatenessMs);
        if (finishReason === undefined) {
          throw llmError('connection', 'The LLM stream ended before the reply was finished');
        }
        yield { type: 'done', finishReason, ...(usage ? { usage } : {}) };
        return;
      } catch (err) {
        if (outer?.aborted) return;
        const error = toLlmError(err, timedOut, this.firstTokenTimeoutMs, this.chunkTimeoutMs, ownLatenessMs);
        const decision = decideRetry({
          error,
          yielded,
          attempt,
          maxAttempts: this.maxAttempts,
          retryAfterMs: err instanceof openAiSdk().APIError ? retryAfterMs(err.headers, this.clock.wallNow()) : undefined,
          backoffMs: backoffMs(attempt, this.backoffBaseMs, this.random),
          // A connection error that reached us late (a kept-alive socket the server closed while our
          // loop was behind) still gets its retry: our lateness is not the LLM's time.
          budgetLeftMs: retryBudgetLeftMs(startedAt, this.firstTokenTimeoutMs, this.clock.now(), this.lateness, lateAtStart),
        });
        if (!decision.retry) {
          this.logger?.warn({ kind: error.kind, status: error.status, attempt, why: decision.reason }, 'llm request failed');
          throw error;
        }
        this.logger?.info({ kind: error.kind, status: error.status, attempt, delayMs: Math.round(decision.delayMs) }, 'llm request retrying');
        retryDelayMs = decision.delayMs;
      } finally {
        firstTokenTimer.cancel();
        stallTimer.cancel();
        outer?.removeEventListener('abort', onOuterAbort);
        // Consumer stopped early or an error: release the socket. A drained stream has nothing
        // left to release, and aborting it would still run every abort listener fetch left on
        // the signal (~0.5 % of the server's CPU at 250 calls).
        if (!drained) {
          attemptCtl.abort('done');
          // Let the SDK's iterator run its own cleanup (reader lock) if we left it suspended.
          void chunks?.return?.()?.catch(() => undefined);
        }
      }
      try {
        await this.clock.sleep(retryDelayMs, outer);
      } catch {
        return; // aborted while backing off: quiet, like any intended abort
      }
    }
  }

  private buildBody(request: LlmRequest): ChatCompletionCreateParamsStreaming {
    return {
      model: request.model ?? this.model,
      messages: request.messages.map(toSdkMessage),
      stream: true,
      stream_options: { include_usage: true },
      ...(request.tools?.length ? { tools: request.tools.map(toSdkTool) } : {}),
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      // OpenAI rejects json_object unless a message mentions "JSON"; callers word their prompt accordingly.
      ...(request.json ? { response_format: { type: 'json_object' as const } } : {}),
    };
  }
}

/** Tool-call fragments arrive keyed by index; id and name come once, arguments in pieces. */
class ToolCallAssembler {
  private readonly byIndex = new Map<number, { id: string; name: string; arguments: string }>();

  add(delta: ChatCompletionChunk.Choice.Delta.ToolCall): void {
    let call = this.byIndex.get(delta.index);
    if (!call) {
      call = { id: '', name: '', arguments: '' };
      this.byIndex.set(delta.index, call);
    }
    if (delta.id) call.id = delta.id;
    if (delta.function?.name) call.name += delta.function.name;
    if (delta.function?.arguments) call.arguments += delta.function.arguments;
  }

  drain(): LlmToolCall[] {
    const calls = [...this.byIndex.entries()]
      .sort(([a], [b]) => a - b)
      // Some compatible servers omit ids; the tool result still needs one to refer to.
      .map(([index, c]) => ({ id: c.id || `call_${index}`, name: c.name, arguments: c.arguments }));
    this.byIndex.clear();
    return calls;
  }
}

function toSdkMessage(m: LlmMessage): ChatCompletionMessageParam {
  switch (m.role) {
    case 'system':
      return { role: 'system', content: m.content };
    case 'user':
      return { role: 'user', content: m.content };
    case 'assistant':
      if (m.toolCalls?.length) {
        return {
          role: 'assistant',
          content: m.content === '' ? null : m.content,
          tool_calls: m.toolCalls.map((c) => ({
            id: c.id,
            type: 'function' as const,
            function: { name: c.name, arguments: c.arguments },
          })),
        };
      }
      return { role: 'assistant', content: m.content };
    case 'tool':
      return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
  }
}

function toSdkTool(t: LlmToolDef): ChatCompletionTool {
  return { type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } };
}

function llmError(kind: ProviderErrorKind, message: string, status?: number): ProviderError {
  return new ProviderError('openai', 'llm', kind, message, status);
}

function timeoutError(kind: TimeoutKind, firstTokenTimeoutMs: number, chunkTimeoutMs: number, ownLatenessMs = 0): ProviderError {
  const error =
    kind === 'first_token_timeout'
      ? llmError(kind, `No reply from the LLM within ${firstTokenTimeoutMs} ms`)
      : llmError(kind, `The LLM stream stalled for ${chunkTimeoutMs} ms`);
  return error.withOwnLateness(ownLatenessMs);
}

/** The adapter's edge: every failure is classified here, once, from the SDK's error classes and the HTTP status. */
function toLlmError(
  err: unknown,
  timedOut: TimeoutKind | undefined,
  firstTokenTimeoutMs: number,
  chunkTimeoutMs: number,
  ownLatenessMs = 0,
): ProviderError {
  if (err instanceof ProviderError) return err;
  // Our own timers abort through the signal, which the SDK reports as a user abort.
  if (timedOut) return timeoutError(timedOut, firstTokenTimeoutMs, chunkTimeoutMs, ownLatenessMs);
  // Only reached with a client built, so the SDK is loaded already.
  const { APIConnectionError, APIError, APIUserAbortError } = openAiSdk();
  if (err instanceof APIUserAbortError) return llmError('connection', 'The LLM request was aborted');
  if (err instanceof APIConnectionError) return llmError('connection', `Could not reach the LLM: ${err.message}`);
  if (err instanceof APIError) {
    const detail = err.message || 'no message';
    // A status-less APIError is an `error` event inside the stream: the server failed mid-reply.
    if (err.status === undefined) return llmError('server_error', `The LLM failed mid-stream: ${detail}`);
    return llmError(kindForStatus(err.status), `The LLM answered ${err.status}: ${detail}`, err.status);
  }
  if (err instanceof SyntaxError) return llmError('server_error', `The LLM sent malformed data: ${err.message}`);
  const message = err instanceof Error ? err.message : String(err);
  // Sockets cut mid-body surface from undici as a plain TypeError ("terminated").
  return llmError('connection', `The LLM connection failed: ${message}`);
}
