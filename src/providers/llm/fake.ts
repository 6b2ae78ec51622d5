import { ProviderError, type ProviderErrorKind } from '../errors.js';
import { type LlmPort, type LlmRequest, type LlmStreamEvent, type LlmToolCall } from './port.js';

/**
 * An in-process scripted LLM for tests: each `stream` call takes the next
 * scripted reply. Replies stream text chunks, then tool calls, then `done`; or
 * fail (before the first chunk, or after `errorAfterChunks` chunks). Every
 * request is recorded (messages cloned) for assertions.
 *
 * ```ts
 * const llm = new ScriptedLlm([
 *   { text: ['Hello! ', 'How can I help?'] },
 *   { toolCalls: [{ name: 'exit_book', arguments: { reason: 'wants to book' } }] },
 *   { error: 'server_error' },
 * ]);
 * ```
 */
export interface ScriptedToolCall {
  name: string;
  /** An object (serialised) or the raw JSON text. */
  arguments?: Record<string, unknown> | string;
  id?: string;
}

export interface ScriptedTurn {
  /** Text deltas, streamed in order (a string is one chunk). */
  text?: string | string[];
  toolCalls?: ScriptedToolCall[];
  finishReason?: string;
  /** Fail with this error after `errorAfterChunks` text chunks (default 0: before any). */
  error?: ProviderError | ProviderErrorKind;
  errorAfterChunks?: number;
  /** Resolves before each text chunk is yielded (lets a test pace or interleave the stream). */
  beforeChunk?: (index: number, request: LlmRequest) => Promise<void> | void;
}

export type ScriptedReply = ScriptedTurn | ((request: LlmRequest, index: number) => ScriptedTurn);

export interface ScriptedLlmOptions {
  /** What to answer once the script is used up (default: a `server_error`, so a test notices). */
  whenEmpty?: ScriptedReply;
}

export class ScriptedLlm implements LlmPort {
  readonly requests: LlmRequest[] = [];
  private readonly queue: ScriptedReply[];
  private calls = 0;

  constructor(
    replies: ScriptedReply[] = [],
    private readonly options: ScriptedLlmOptions = {},
  ) {
    this.queue = [...replies];
  }

  push(...replies: ScriptedReply[]): this {
    this.queue.push(...replies);
    return this;
  }

  /** Scripted replies not used yet. */
  get remaining(): number {
    return this.queue.length;
  }

  /** The last request's messages, for quick assertions. */
  get lastRequest(): LlmRequest | undefined {
    return this.requests[this.requests.length - 1];
  }

  stream(request: LlmRequest): AsyncIterable<LlmStreamEvent> {
    const { signal, ...rest } = request;
    this.requests.push({ ...structuredClone(rest), ...(signal ? { signal } : {}) });
    const index = this.calls++;
    const next = this.queue.shift() ?? this.options.whenEmpty;
    return this.play(next, request, index);
  }

  private async *play(reply: ScriptedReply | undefined, request: LlmRequest, index: number): AsyncGenerator<LlmStreamEvent> {
    if (!reply) throw new ProviderError('fake', 'llm', 'server_error', `ScriptedLlm: no scripted reply left for request ${index + 1}`);
    const turn = typeof reply === 'function' ? reply(request, index) : reply;
    const chunks = turn.text === undefined ? [] : Array.isArray(turn.text) ? turn.text : [turn.text];
    const failAt = turn.error !== undefined ? (turn.errorAfterChunks ?? 0) : Infinity;
    const fail = () => {
      const e = turn.error!;
      throw typeof e === 'string' ? new ProviderError('fake', 'llm', e, `scripted ${e}`) : e;
    };
    for (const [i, chunk] of chunks.entries()) {
      if (i >= failAt) fail();
      await turn.beforeChunk?.(i, request);
      // Ends quietly on abort, like the real adapter.
      if (request.signal?.aborted) return;
      yield { type: 'text', text: chunk };
      await Promise.resolve();
    }
    if (failAt !== Infinity) fail();
    if (request.signal?.aborted) return;
    for (const [i, call] of (turn.toolCalls ?? []).entries()) {
      const toolCall: LlmToolCall = {
        id: call.id ?? `call_${index + 1}_${i + 1}`,
        name: call.name,
        arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {}),
      };
      yield { type: 'tool_call', call: toolCall };
    }
    yield { type: 'done', finishReason: turn.finishReason ?? (turn.toolCalls?.length ? 'tool_calls' : 'stop') };
  }
}
