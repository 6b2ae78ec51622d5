/**
 * Per-turn latency metrics (docs/architecture.md#per-turn-metrics). The names are stored in the call's
 * history; keep them. A pure recorder: the call session reports monotonic
 * timestamps (clock.now()) as things happen and reads `metrics()` when the
 * reply's first frame is out (or the turn is over).
 *
 *   endpointMs         caller's last word → end-of-turn event (from TurnTaking)
 *   responseMs         end-of-turn event → first agent media frame sent
 *   llmFirstTokenMs    LLM request sent → first token
 *   llmFirstSentenceMs LLM request sent → first complete sentence
 *   ttsFirstByteMs     first sentence's TTS request → its first audio byte
 *   overheadMs         responseMs − llmFirstSentenceMs − ttsFirstByteMs (our own share)
 *
 * A stage that did not happen (a static phrase needs no LLM; a cached phrase
 * no TTS) is `null` and counts as 0 in `overheadMs`. Only the first occurrence
 * of each mark counts, except that a new LLM request (a re-issue after
 * `join_turns`) restarts the LLM stages.
 */
export interface TurnMetrics {
  endpointMs: number | null;
  responseMs: number | null;
  llmFirstTokenMs: number | null;
  llmFirstSentenceMs: number | null;
  ttsFirstByteMs: number | null;
  overheadMs: number | null;
}

const ms = (from: number | undefined, to: number | undefined): number | null =>
  from === undefined || to === undefined ? null : Math.max(0, Math.round(to - from));

export class TurnMetricsRecorder {
  private turnEndedAt: number | undefined;
  private endpoint: number | null = null;
  private llmStartedAt: number | undefined;
  private llmFirstTokenAt: number | undefined;
  private llmFirstSentenceAt: number | undefined;
  private ttsStartedAt: number | undefined;
  private ttsFirstByteAt: number | undefined;
  private firstFrameAt: number | undefined;

  /** The end-of-turn event (`caller_turn.endedAtMs`) and its `endpointMs`. */
  turnEnded(atMs: number, endpointMs: number | null = null): this {
    this.turnEndedAt = atMs;
    this.endpoint = endpointMs === null ? null : Math.max(0, Math.round(endpointMs));
    return this;
  }

  /** An LLM request was sent; a second call (re-issue after a join) starts the LLM stages over. */
  llmRequestSent(atMs: number): this {
    this.llmStartedAt = atMs;
    this.llmFirstTokenAt = undefined;
    this.llmFirstSentenceAt = undefined;
    return this;
  }

  llmFirstToken(atMs: number): this {
    this.llmFirstTokenAt ??= atMs;
    return this;
  }

  llmFirstSentence(atMs: number): this {
    this.llmFirstSentenceAt ??= atMs;
    return this;
  }

  /** The TTS request for the reply's first segment. */
  ttsRequestSent(atMs: number): this {
    this.ttsStartedAt ??= atMs;
    return this;
  }

  ttsFirstByte(atMs: number): this {
    if (this.ttsStartedAt !== undefined) this.ttsFirstByteAt ??= atMs;
    return this;
  }

  firstFrameSent(atMs: number): this {
    this.firstFrameAt ??= atMs;
    return this;
  }

  metrics(): TurnMetrics {
    const responseMs = ms(this.turnEndedAt, this.firstFrameAt);
    const llmFirstTokenMs = ms(this.llmStartedAt, this.llmFirstTokenAt);
    const llmFirstSentenceMs = ms(this.llmStartedAt, this.llmFirstSentenceAt);
    const ttsFirstByteMs = ms(this.ttsStartedAt, this.ttsFirstByteAt);
    return {
      endpointMs: this.endpoint,
      responseMs,
      llmFirstTokenMs,
      llmFirstSentenceMs,
      ttsFirstByteMs,
      overheadMs:
        responseMs === null ? null : responseMs - (llmFirstSentenceMs ?? 0) - (ttsFirstByteMs ?? 0),
    };
  }
}
