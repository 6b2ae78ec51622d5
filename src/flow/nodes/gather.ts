import type { GatherNode } from '../schema.js';
import { hasPlaceholders } from '../template.js';
import type { NodeContext, NodeHandler } from './context.js';
import { extractionMessages, fastExtract, parseExtraction, validateValue, valueFromDigits, type Extracted } from './gather-extract.js';

/**
 * `gather`: ask, listen, type the answer. A timeout or an unusable answer uses
 * one of `retries` (the prompt is asked again); when they run out, `onFailure`.
 * The attempt number is in the snapshot, so a resumed call asks again at the
 * same attempt.
 */
export function dtmfSettings(node: GatherNode): { min: number; max: number; terminator: '#' | '*' | 'none' } | false {
  if (!node.input.includes('dtmf')) return false;
  if (node.digits) return node.digits;
  // A one-key menu needs no terminator.
  if (node.valueType === 'yesno' || node.valueType === 'choice') return { min: 1, max: 1, terminator: 'none' };
  return { min: 1, max: 32, terminator: '#' };
}

async function extractSpeech(node: GatherNode, text: string, question: string, ctx: NodeContext): Promise<Extracted> {
  const { date: today, weekday } = ctx.today();
  const opts = { ...(node.choices ? { choices: node.choices } : {}), today };
  const fast = fastExtract(node.valueType, text, opts);
  if (fast) return fast;
  let reply = '';
  for await (const ev of ctx.llmStream({
    messages: extractionMessages(question, text, node.valueType, { ...opts, weekday }),
    json: true,
    temperature: 0,
    ...(ctx.settings.llm?.model ? { model: ctx.settings.llm.model } : {}),
    ...(ctx.settings.llm?.secondaryModel ? { secondaryModel: ctx.settings.llm.secondaryModel } : {}),
  })) {
    if (ev.type === 'text') reply += ev.text;
  }
  ctx.checkAbort();
  const value = parseExtraction(reply);
  if (value === null || value === undefined) return { ok: false };
  const digits = node.digits ? { min: node.digits.min, max: node.digits.max } : undefined;
  return validateValue(node.valueType, value, { ...(node.choices ? { choices: node.choices } : {}), ...(digits ? { digits } : {}) });
}

export const runGather: NodeHandler<'gather'> = async (node, ctx) => {
  const step = ctx.step('gather');
  const dtmf = dtmfSettings(node);
  const speech = node.input.includes('speech');
  while (step.attempt <= node.retries) {
    const prompt = ctx.render(node.prompt);
    await ctx.say(prompt, { interruptible: true, cacheable: !hasPlaceholders(node.prompt), stopOnDtmf: dtmf !== false });
    const input = await ctx.listen({ speech, dtmf, timeoutMs: node.timeoutMs });
    let result: Extracted = { ok: false };
    if (input.kind === 'dtmf' && dtmf) {
      const okLength = input.digits.length >= dtmf.min && input.digits.length <= dtmf.max;
      result = okLength ? valueFromDigits(node.valueType, input.digits, node.choices ? { choices: node.choices } : {}) : { ok: false };
    } else if (input.kind === 'speech' && speech) {
      result = await extractSpeech(node, input.text, prompt, ctx);
    }
    if (result.ok) {
      ctx.setVariable(node.variable, result.value);
      return { kind: 'next', to: node.next };
    }
    step.attempt += 1;
    ctx.checkpoint();
  }
  return { kind: 'fail', edge: node.onFailure, reason: 'gather_failed' };
};
