/**
 * What one live call sees of its media stream, with no WebSocket or Twilio
 * types: the transport (src/telephony/media-stream.ts) implements the channel
 * and feeds the handler.
 */
export interface MediaChannel {
  readonly callSid: string;
  readonly streamSid: string;
  /** μ-law 8 kHz bytes; a multiple of 160 for clean playout. */
  sendMedia(mulaw: Uint8Array): void;
  sendMark(name: string): void;
  sendClear(): void;
  /** Closes the stream: Twilio then asks `/twilio/stream-ended` what to do next. */
  close(reason: string): void;
  readonly isOpen: boolean;
}

export interface StreamHandler {
  /**
   * Caller audio: raw μ-law bytes exactly as received. The buffer is reused for
   * the next frame (no allocation per frame): copy what you keep.
   */
  onMedia(mulaw: Buffer, timestampMs: number): void;
  onDtmf(digit: string): void;
  onMark(name: string): void;
  /** Twilio's `stop`: the caller hung up or the call was redirected. */
  onStop(): void;
  /** The socket is gone, for whatever reason (after onStop, or abruptly). */
  onClosed(reason: StreamCloseReason): void;
}

export type StreamCloseReason = 'stop' | 'server_closed' | 'too_large' | 'rate_limited' | 'socket_closed' | 'socket_error';
