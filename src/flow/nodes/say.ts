import { hasPlaceholders } from '../template.js';
import type { NodeHandler } from './context.js';

/** `say`: speaks its text; a barge-in only cuts it short, the flow still moves on. */
export const runSay: NodeHandler<'say'> = async (node, ctx) => {
  await ctx.say(ctx.render(node.text), { interruptible: node.interruptible, cacheable: !hasPlaceholders(node.text) });
  return { kind: 'next', to: node.next };
};
