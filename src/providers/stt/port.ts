import type { ProviderError } from '../errors.js';

/**
 * The live speech-to-text port: μ-law 8 kHz in, transcript events out.
 * Times are seconds of audio since the start of the call's audio.
 */
export type SttEvent =
  | {
      type: 'transcript';
      text: string;
      isFinal: boolean;
      speechFinal: boolean;
      /** Audio time of the span's start and end, seconds. */
      start: number;
      end: number;
      /** Audio time of the last word's end, seconds (for endpointMs). */
      lastWordEnd?: number;
    }
  | { type: 'speech_started'; timestamp: number }
  | { type: 'utterance_end'; lastWordEnd: number }
  | { type: 'reconnecting'; attempt: number }
  | { type: 'reconnected'; attempt: number }
  /** Speech-to-text gave up for this call: `error` says why, classified; `reason` is its message. */
  | { type: 'failed'; reason: string; error: ProviderError };

export interface SttOptions {
  language: string;
  model?: string;
  /** The model a secondary endpoint hears with (a flow's `stt.secondaryModel`); `model` names one of the primary. */
  secondaryModel?: string;
  endpointingMs?: number;
  /**
   * Caller audio goes to the provider in batches of this many ms (20–100): fewer
   * messages and syscalls per call, at up to this much minus one 20 ms frame of
   * extra recognition latency. Providers that stream otherwise may ignore it.
   */
  sendIntervalMs?: number;
}

export interface SttSession {
  /**
   * Raw μ-law bytes exactly as received from the phone; valid only during the call (the media path reuses its buffer): copy what you keep.
   * `atMs`: when they arrived, on the clock the adapter was given, when the caller has just read it (a clock read per 20 ms
   * frame saved, ~370 instructions; bench/README.md "Hot path"); else the adapter reads its clock.
   */
  sendAudio(mulaw: Uint8Array, atMs?: number): void;
  close(): Promise<void>;
}

export interface SttPort {
  open(options: SttOptions, onEvent: (event: SttEvent) => void, signal?: AbortSignal): SttSession;
}
