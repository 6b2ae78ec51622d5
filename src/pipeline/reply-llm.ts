import type { StopReason } from '../core/stop-reason.js';
import { findSentenceEnd } from '../flow/sentences.js';
import type { LlmPort, LlmRequest, LlmStreamEvent } from '../providers/llm/port.js';

/**
 * The LLM as one call sees it: a decorator over the shared LlmPort that
 * reports the timing marks of per-turn metrics (request sent, first token,
 * first complete sentence) and lets turn-taking abort the request in flight
 * when a second caller turn joins the first (docs/architecture.md#turn-taking). An abort through
 * `abortInFlight` ends the stream quietly, like any intended abort, so the
 * interpreter simply sees a reply with no text and listens for the joined turn.
 */
export interface ReplyLlmHooks {
  onRequest?: () => void;
  onFirstToken?: () => void;
  onFirstSentence?: () => void;
}

export class ReplyLlm implements LlmPort {
  private readonly inFlight = new Set<AbortController>();

  constructor(
    private readonly inner: LlmPort,
    private hooks: ReplyLlmHooks = {},
  ) {}

  setHooks(hooks: ReplyLlmHooks): void {
    this.hooks = hooks;
  }

  /** Aborts every request still streaming; tool HTTP requests are not LLM requests and are never touched. */
  abortInFlight(reason: StopReason = 'join_turns'): boolean {
    const any = this.inFlight.size > 0;
    for (const c of this.inFlight) c.abort(reason);
    return any;
  }

  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  async *stream(request: LlmRequest): AsyncGenerator<LlmStreamEvent, void, undefined> {
    const own = new AbortController();
    const signal = request.signal ? AbortSignal.any([request.signal, own.signal]) : own.signal;
    this.inFlight.add(own);
    this.hooks.onRequest?.();
    let firstToken = true;
    let sentenceSeen = false;
    let text = '';
    try {
      for await (const ev of this.inner.stream({ ...request, signal })) {
        if (own.signal.aborted) return;
        if (firstToken && (ev.type === 'text' || ev.type === 'tool_call')) {
          firstToken = false;
          this.hooks.onFirstToken?.();
        }
        if (!sentenceSeen && ev.type === 'text') {
          text += ev.text;
          if (findSentenceEnd(text) >= 0) {
            sentenceSeen = true;
            this.hooks.onFirstSentence?.();
          }
        }
        if (!sentenceSeen && ev.type === 'done' && text.trim()) {
          // A reply of one sentence without a trailing space ends here.
          sentenceSeen = true;
          this.hooks.onFirstSentence?.();
        }
        yield ev;
      }
    } catch (err) {
      if (own.signal.aborted) return;
      throw err;
    } finally {
      this.inFlight.delete(own);
    }
  }
}
