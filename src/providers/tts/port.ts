/**
 * The text-to-speech port: text in, μ-law 8 kHz audio chunks out (any sizes;
 * the playout re-frames them).
 */
export interface VoiceSpec {
  voiceId: string;
  modelId: string;
  language: string;
  stability?: number;
  similarityBoost?: number;
  speed?: number;
  /** A flow's choice for a secondary endpoint (its `voice.secondary`), over the endpoint's configured one. */
  secondary?: { voiceId?: string | undefined; modelId?: string | undefined };
}

export interface TtsRequest {
  /** Text after pronunciations. */
  text: string;
  voice: VoiceSpec;
  signal?: AbortSignal;
  /**
   * The audio is stored under this exact voice (the phrase cache): a failover
   * endpoint that would speak another voice must not produce it.
   */
  exactVoice?: boolean;
}

export interface TtsPort {
  /** Streams `ulaw_8000` bytes. Throws ProviderError (stage `tts`); ends quietly on abort. */
  synthesize(request: TtsRequest): AsyncIterable<Uint8Array>;
}
