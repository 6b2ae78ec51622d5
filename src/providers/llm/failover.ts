import type { Logger } from '../../core/logger.js';
import type { ProviderEndpoint } from '../endpoints.js';
import { streamWithFailover, type StreamTarget } from '../failover.js';
import type { LlmPort, LlmRequest, LlmStreamEvent } from './port.js';

/**
 * The LLM stage behind circuit breakers: the primary, then (when configured) a
 * secondary OpenAI-compatible endpoint with its own model. A flow's
 * `settings.llm.model` names a model of the primary; the secondary answers with the
 * flow's `settings.llm.secondaryModel`, else its own configured model.
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
        const { model, secondaryModel, ...rest } = request;
        if (endpoint.role === 'primary') return llm.stream(model !== undefined ? { ...rest, model } : rest);
        return llm.stream(secondaryModel !== undefined ? { ...rest, model: secondaryModel } : rest);
      },
    }));
  }

  stream(request: LlmRequest): AsyncIterable<LlmStreamEvent> {
    return streamWithFailover('llm', this.targets, request, this.logger);
  }
}
