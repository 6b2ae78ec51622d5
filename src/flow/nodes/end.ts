import { hasPlaceholders } from '../template.js';
import type { NodeHandler } from './context.js';

/** `end`: an optional goodbye, then hang up. */
export const runEnd: NodeHandler<'end'> = async (node, ctx) => {
  if (node.text) await ctx.say(ctx.render(node.text), { interruptible: false, cacheable: !hasPlaceholders(node.text) });
  await ctx.port.hangup('completed');
  return { kind: 'end', outcome: 'completed' };
};
