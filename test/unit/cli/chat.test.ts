import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chatMain, flowPathFor, keypadDigits, loadChatFlow, runChat } from '../../../src/cli/chat.js';
import { ScriptedLlm } from '../../../src/providers/llm/fake.js';
import { makeFlow } from '../flow/harness.js';

/** The chat is driven by a scripted input stream; its output is collected as text. */
function io(lines: string[], { end = true } = {}) {
  const input = new PassThrough();
  for (const line of lines) input.write(`${line}\n`);
  if (end) input.end();
  let text = '';
  const output = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { input, output, text: () => text };
}

describe('text test chat', () => {
  it('the keypad example flows/pizza.json completes with no configuration', async () => {
    const { flow, slug } = await loadChatFlow('flows/pizza.json');
    const t = io(['#1', '#2']);
    const result = await runChat({ flow, slug, input: t.input, output: t.output, env: {} });
    expect(result.outcome).toBe('completed');
    const out = t.text();
    expect(out).toMatch(/Agent: .*margherita/i);
    expect(out).toContain('→ menu (gather)');
    expect(out).toContain('  pizza = "1"');
    expect(out).toContain('[ended: completed]');
    expect(out).not.toContain('\x1b['); // no colour when the output is not a terminal
  });

  it('an agent slug loads flows/<slug>.json', () => {
    expect(flowPathFor('pizza')).toEqual({ path: 'flows/pizza.json', slug: 'pizza' });
    expect(flowPathFor('./elsewhere/x.json')).toEqual({ path: './elsewhere/x.json', slug: 'x' });
  });

  it('without an LLM, a conversation node says which variable to set and the chat ends', async () => {
    const flow = makeFlow([
      { id: 'hi', type: 'say', text: 'Hello.', next: 'talk' },
      { id: 'talk', type: 'conversation', prompt: 'chat', speakFirst: true },
    ], { systemPrompt: 's' });
    const t = io([], { end: false });
    const result = await runChat({ flow, slug: 't', input: t.input, output: t.output, env: {} });
    expect(result).toMatchObject({ outcome: 'aborted', reason: 'llm_not_configured' });
    expect(t.text()).toContain('The conversation node "talk" needs an LLM: set OPENAI_API_KEY');
  });

  it('streams LLM replies, handles /silence (reprompt) and /quit, and refuses input a step does not take', async () => {
    const flow = makeFlow(
      [
        { id: 'pin', type: 'gather', prompt: 'PIN?', variable: 'pin', input: ['dtmf'], digits: { min: 4, max: 4, terminator: '#' }, next: 'talk' },
        { id: 'talk', type: 'conversation', prompt: 'chat' },
      ],
      { systemPrompt: 's', silence: { repromptAfterMs: 100, reprompt: 'Still there?', hangupAfterMs: 1000 }, pronunciations: [{ text: 'PIN', say: 'pin number' }] },
    );
    const llm = new ScriptedLlm([{ text: ['Sure, ', 'your PIN is fine.'] }]);
    const t = io(['words', '#0042#', '/silence', 'is it fine?', '/quit']);
    const result = await runChat({ flow, slug: 't', input: t.input, output: t.output, llm });
    expect(result).toMatchObject({ outcome: 'hangup', reason: 'caller' });
    const out = t.text();
    expect(out).toContain('(this step takes keys only: type e.g. #1)');
    expect(out).toContain('  pin = "0042"');
    expect(out).toContain('Agent: Still there?');
    expect(out).toContain('Agent: Sure, your PIN is fine.\n  (spoken as: Sure, your pin number is fine.)');
    expect(llm.requests[0]!.messages.at(-1)).toEqual({ role: 'user', content: 'is it fine?' });
  });

  it('the end of input hangs up', async () => {
    const flow = makeFlow([{ id: 'g', type: 'gather', prompt: 'Key?', variable: 'k', next: 'e' }, { id: 'e', type: 'end' }]);
    const t = io([]);
    expect((await runChat({ flow, slug: 't', input: t.input, output: t.output, env: {} })).outcome).toBe('hangup');
  });

  it('key presses follow the listen settings: terminator and max digits', () => {
    expect(keypadDigits('1234#99', { max: 8, terminator: '#' })).toBe('1234');
    expect(keypadDigits('123456', { max: 4, terminator: 'none' })).toBe('1234');
    expect(keypadDigits('1*2', { max: 4, terminator: '#' })).toBe('1*2');
  });

  it('a missing flow file is a clear error and exit code 2', async () => {
    const t = io([]);
    let err = '';
    const error = new Writable({
      write(chunk: Buffer, _e, cb) {
        err += chunk.toString();
        cb();
      },
    });
    expect(await chatMain(['no-such-agent'], { input: t.input, output: t.output, error, env: {} })).toBe(2);
    expect(err).toContain('flows/no-such-agent.json');
    expect(await chatMain([], { input: t.input, output: t.output, error, env: {} })).toBe(2);
    expect(err).toContain('usage');
  });
});
