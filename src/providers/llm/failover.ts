import type { Logger } from '../../core/logger.js';
import type { ProviderEndpoint } from '../endpoints.js';
import { streamWithFailover, type StreamTarget } from '../failover.js';
import type { LlmPort, LlmRequest, LlmStreamEvent } from './port.js';

/**
 * The LLM stage behind circuit breakers: the primary, then (when configured) a
 * secondary OpenAI-compatible endpoint with its own model. A flow's
 * `settings.llm.model` names a model of the primary, so the secondary always
 * answers with its own configured model.
 */
export interface LlmEndpoint {
  endpoint: ProviderEndpoint;
  llm: LlmPort;
}

export class FailoverLlm implements LlmPort {
  private readonly targets: StreamTarget<LlmRequest, LlmStreamEvent>[];

  constructor(
    endpoints: readonly LlmEndpoint[],
    private readonly logger: Logger,
  ) {
    this.targets = endpoints.map(({ endpoint, llm }) => ({
      endpoint,
      run: (request) => {
        if (endpoint.role === 'primary') return llm.stream(request);
        const { model: _flowModel, ...rest } = request;
        return llm.stream(rest);
      },
    }));
  }

  stream(request: LlmRequest): AsyncIterable<LlmStreamEvent> {
    return streamWithFailover('llm', this.targets, request, this.logger);
  }
}
