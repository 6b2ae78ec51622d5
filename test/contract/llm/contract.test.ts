import { vi } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { ScriptedLlm } from '../../../src/providers/llm/fake.js';
import { LLM_FIRST_TOKEN_TIMEOUT_MS, LLM_MAX_ATTEMPTS, OpenAiLlm } from '../../../src/providers/llm/openai.js';
import { startFakeOpenAI } from '../../../src/testing/openai-server.js';
import { describeLlmContract, type ContractFailure } from './llm-contract.js';

/** The HTTP status the loopback OpenAI answers for each failure the contract asks for. */
const STATUS: Record<ContractFailure, number> = { auth: 401, bad_request: 400, rate_limited: 429, server_error: 500 };

describeLlmContract('OpenAiLlm + loopback fake', async () => {
  const fake = await startFakeOpenAI({ apiKey: 'k' });
  return {
    llm: new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url, backoffMs: 10 }),
    script: (r) =>
      r.fail
        ? // Every attempt of the retry policy meets the same refusal.
          fake.enqueue(...Array.from({ length: LLM_MAX_ATTEMPTS }, () => ({ status: STATUS[r.fail!] })))
        : fake.enqueue({
              ...(r.text !== undefined ? { text: r.text } : {}),
              ...(r.toolCalls ? { toolCalls: r.toolCalls } : {}),
              ...(r.slow ? { tokensPerSecond: 40 } : {}),
            }),
    hanging: () => {
      const clock = new ManualClock();
      fake.enqueue({ text: 'late', headersDelayMs: 60_000 });
      const before = fake.responses.length;
      return {
        llm: new OpenAiLlm({ apiKey: 'k', baseUrl: fake.url, clock }),
        expire: async () => {
          await vi.waitFor(() => {
            if (fake.responses.length <= before) throw new Error('request not in yet');
          });
          await clock.advance(LLM_FIRST_TOKEN_TIMEOUT_MS);
        },
      };
    },
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
        r.fail
          ? { error: r.fail }
          : {
              // Word-sized deltas, like the server's tokens.
              ...(r.text !== undefined ? { text: r.text.match(/\s*\S+/g) ?? [] } : {}),
              ...(r.toolCalls ? { toolCalls: r.toolCalls } : {}),
              ...(r.slow ? { beforeChunk: () => new Promise<void>((res) => setTimeout(res, 5)) } : {}),
            },
      ),
    // The scripted fake has no clock of its own: it reports the timeout the real adapter would.
    hanging: () => ({ llm: new ScriptedLlm([{ error: 'first_token_timeout' }]), expire: async () => undefined }),
    requestCount: () => llm.requests.length,
  };
});
