import type { Logger } from '../../core/logger.js';
import type { ProviderEndpoint } from '../endpoints.js';
import { streamWithFailover, type StreamTarget } from '../failover.js';
import type { TtsPort, TtsRequest, VoiceSpec } from './port.js';

/**
 * The TTS stage behind circuit breakers: the primary, then (when configured) a
 * secondary ElevenLabs endpoint, optionally with its own voice and model (the flow's
 * `voice.secondary`, else the endpoint's configured one).
 * A secondary speaking another voice never fills the phrase cache (`exactVoice`),
 * whose audio is keyed by the primary's voice.
 */
export interface TtsEndpoint {
  endpoint: ProviderEndpoint;
  tts: TtsPort;
  /** The secondary's voice and model, replacing the flow's. */
  voice?: { voiceId?: string | undefined; modelId?: string | undefined };
}

export class FailoverTts implements TtsPort {
  private readonly targets: StreamTarget<TtsRequest, Uint8Array>[];

  constructor(
    endpoints: readonly TtsEndpoint[],
    private readonly logger: Logger,
  ) {
    this.targets = endpoints.map(({ endpoint, tts, voice }) => {
      // A secondary speaks the flow's secondary voice, else the endpoint's configured one, else the flow's own.
      const swap = ({ secondary, ...v }: VoiceSpec): VoiceSpec => {
        if (endpoint.role === 'primary') return v;
        const voiceId = secondary?.voiceId ?? voice?.voiceId;
        const modelId = secondary?.modelId ?? voice?.modelId;
        return { ...v, ...(voiceId ? { voiceId } : {}), ...(modelId ? { modelId } : {}) };
      };
      const changesVoice = (v: VoiceSpec) => {
        const swapped = swap(v);
        return swapped.voiceId !== v.voiceId || swapped.modelId !== v.modelId;
      };
      return {
        endpoint,
        skip: (request) => request.exactVoice === true && changesVoice(request.voice),
        run: (request) => tts.synthesize({ ...request, voice: swap(request.voice) }),
      };
    });
  }

  synthesize(request: TtsRequest): AsyncIterable<Uint8Array> {
    return streamWithFailover('tts', this.targets, request, this.logger);
  }
}
