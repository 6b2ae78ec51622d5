/**
 * The LLM port. The flow engine streams chat completions through this; the
 * OpenAI adapter and the scripted fake both implement it.
 */

export interface LlmToolDef {
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

export type LlmMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: LlmToolCall[] }
  | { role: 'tool'; toolCallId: string; content: string };

export interface LlmToolCall {
  id: string;
  name: string;
  /** Raw JSON text as the model produced it. */
  arguments: string;
}

export interface LlmRequest {
  messages: LlmMessage[];
  tools?: LlmToolDef[];
  model?: string;
  /** The model a secondary endpoint answers with (a flow's `llm.secondaryModel`); `model` names one of the primary. */
  secondaryModel?: string;
  temperature?: number;
  /** Force JSON-only answers (used for gather extraction). */
  json?: boolean;
  signal?: AbortSignal;
}

export type LlmStreamEvent =
  | { type: 'text'; text: string }
  | { type: 'tool_call'; call: LlmToolCall }
  | { type: 'done'; finishReason: string; usage?: { promptTokens: number; completionTokens: number } };

export interface LlmPort {
  /**
   * Streams text deltas as they arrive; tool calls are yielded whole, once their
   * arguments are complete. Ends quietly when `signal` aborts. Throws ProviderError (stage `llm`).
   */
  stream(request: LlmRequest): AsyncIterable<LlmStreamEvent>;
}
