import { findSentenceEnd } from '../../src/flow/sentences.js';

/**
 * Our own share of a spoken turn, timed from outside the server: the provider
 * fakes stamp each hand-off on the machine-wide monotonic clock
 * (`process.hrtime.bigint()`, CLOCK_MONOTONIC on Linux, shared by every
 * process), and the simulated Twilio stamps the reply's first media frame on
 * the same clock. Between the stamps only the server works:
 *
 *   sttToLlmMs    fake Deepgram sends the final transcript (speech_final) → fake OpenAI has the request
 *   llmToTtsMs    fake OpenAI sends what completes the first sentence      → fake ElevenLabs has the request
 *   ttsToMediaMs  fake ElevenLabs sends the first audio byte               → simulated Twilio has the first media frame
 *   overheadMs    the sum
 *
 * "Completes the first sentence": the server's sentence splitter needs to see
 * what follows a "." (a decimal or an abbreviation may continue it), so the
 * moment is the token after which the text so far holds a complete sentence,
 * by the server's own rule (src/flow/sentences.ts).
 *
 * The fakes tie requests to calls by the call's tag: the caller says "order
 * <id>", the fake LLM's reply repeats it in its first sentence, so the TTS
 * request for that sentence carries it too.
 */

/** Provider-side stamps of one turn (monotonic ms). */
export interface TurnStamps {
  sttFinalAt: number;
  llmRequestAt: number;
  llmSentenceAt: number;
  ttsRequestAt: number;
  ttsFirstByteAt: number;
}

export interface TurnHops {
  sttToLlmMs: number;
  llmToTtsMs: number;
  ttsToMediaMs: number;
  overheadMs: number;
}

/** What the caller says: the tag ties the LLM and TTS requests to the call. */
export function taggedUtterance(text: string, callId: number): string {
  return text.replace('{tag}', `order ${callId}`);
}

/** The call a request belongs to, from the "order <id>" in its text; undefined without one. */
export function callTagOf(text: string): number | undefined {
  const m = /\border (\d+)/i.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The fake LLM's reply to a tagged turn: the tag sits in the first sentence, so the first TTS request carries it. */
export function taggedReply(callId: number): string {
  return `Sure, order ${callId}, I can help with that. Your order is on its way and should arrive in about twenty minutes.`;
}

/** The same text with the tag removed: the audio (and its length) does not depend on the call. */
export function untagged(text: string): string {
  return text.replace(/\border \d+,? ?/gi, '');
}

interface OpenTurn {
  sttFinalAt: number;
  llmRequestAt?: number;
  llmSentenceAt?: number;
  ttsRequestAt?: number;
  reported: boolean;
}

/**
 * Collects the stamps per call in the fakes process and reports a turn once
 * its first TTS byte is out. Each new final transcript starts a new turn; only
 * the first of each stamp counts (a later request of the same turn, e.g. the
 * reply's second sentence, changes nothing).
 */
export class TurnStampCollector {
  private readonly open = new Map<number, OpenTurn>();

  constructor(private readonly report: (callId: number, stamps: TurnStamps) => void) {}

  sttFinal(callId: number, at: number): void {
    this.open.set(callId, { sttFinalAt: at, reported: false });
  }

  llmRequest(callId: number, at: number): void {
    const t = this.open.get(callId);
    if (t && t.llmRequestAt === undefined) t.llmRequestAt = at;
  }

  /** A content token went out on this LLM response; `text` is everything sent so far. Returns true once the first sentence is complete. */
  llmContent(callId: number, text: string, at: number): boolean {
    if (findSentenceEnd(text) < 0) return false;
    const t = this.open.get(callId);
    if (t && t.llmRequestAt !== undefined && t.llmSentenceAt === undefined) t.llmSentenceAt = at;
    return true;
  }

  ttsRequest(callId: number, at: number): void {
    const t = this.open.get(callId);
    if (t && t.llmSentenceAt !== undefined && t.ttsRequestAt === undefined) t.ttsRequestAt = at;
  }

  ttsFirstByte(callId: number, at: number): void {
    const t = this.open.get(callId);
    if (!t || t.reported || t.llmRequestAt === undefined || t.llmSentenceAt === undefined || t.ttsRequestAt === undefined) return;
    t.reported = true;
    this.report(callId, {
      sttFinalAt: t.sttFinalAt,
      llmRequestAt: t.llmRequestAt,
      llmSentenceAt: t.llmSentenceAt,
      ttsRequestAt: t.ttsRequestAt,
      ttsFirstByteAt: at,
    });
  }

  forget(callId: number): void {
    this.open.delete(callId);
  }
}

/**
 * The generator's side: the reply's first media frame (monotonic ms) and the
 * fakes' stamps arrive in either order (the stamps come over IPC); the turn is
 * complete when both are there. A media frame older than the TTS first byte
 * belongs to something else and is dropped.
 */
export class TurnJoiner {
  private stamps: TurnStamps | undefined;
  private mediaAt: number | undefined;

  constructor(private readonly done: (hops: TurnHops) => void) {}

  /** The caller started a new turn: whatever was half-joined is stale. */
  reset(): void {
    this.stamps = undefined;
    this.mediaAt = undefined;
  }

  media(at: number): void {
    this.mediaAt ??= at;
    this.join();
  }

  fakes(stamps: TurnStamps): void {
    this.stamps = stamps;
    this.join();
  }

  private join(): void {
    const s = this.stamps;
    const m = this.mediaAt;
    if (!s || m === undefined) return;
    if (m < s.ttsFirstByteAt) {
      this.mediaAt = undefined;
      return;
    }
    this.stamps = undefined;
    this.mediaAt = undefined;
    const hops = {
      sttToLlmMs: s.llmRequestAt - s.sttFinalAt,
      llmToTtsMs: s.ttsRequestAt - s.llmSentenceAt,
      ttsToMediaMs: m - s.ttsFirstByteAt,
    };
    this.done({ ...hops, overheadMs: hops.sttToLlmMs + hops.llmToTtsMs + hops.ttsToMediaMs });
  }
}
