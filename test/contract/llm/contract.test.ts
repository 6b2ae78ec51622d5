import { OpenAiLlm } from '../../../src/providers/llm/openai.js';
import { startFakeOpenAI } from '../../support/fakes/openai-server.js';
import { describeLlmContract } from './llm-contract.js';

describeLlmContract('OpenAiLlm + loopback fake', async () => {
  const fake = await startFakeOpenAI({ apiKey: 'k' });
  return {
    llm: new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url, backoffMs: 10 }),
    script: (r) =>
      fake.enqueue(
        r.fail === 'auth'
          ? { status: 401 }
          : {
              ...(r.text !== undefined ? { text: r.text } : {}),
              ...(r.toolCalls ? { toolCalls: r.toolCalls } : {}),
              ...(r.slow ? { tokensPerSecond: 40 } : {}),
            },
      ),
    requestCount: () => fake.requests.length,
    close: () => fake.close(),
  };
});
