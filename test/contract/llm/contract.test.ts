import { ScriptedLlm } from '../../../src/providers/llm/fake.js';
import { OpenAiLlm } from '../../../src/providers/llm/openai.js';
import { startFakeOpenAI } from '../../../src/testing/openai-server.js';
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

describeLlmContract('ScriptedLlm', async () => {
  const llm = new ScriptedLlm();
  return {
    llm,
    script: (r) =>
      llm.push(
        r.fail === 'auth'
          ? { error: 'auth' }
          : {
              // Word-sized deltas, like the server's tokens.
              ...(r.text !== undefined ? { text: r.text.match(/\s*\S+/g) ?? [] } : {}),
              ...(r.toolCalls ? { toolCalls: r.toolCalls } : {}),
              ...(r.slow ? { beforeChunk: () => new Promise<void>((res) => setTimeout(res, 5)) } : {}),
            },
      ),
    requestCount: () => llm.requests.length,
  };
});
