import { chooseBranch } from '../branch.js';
import type { NodeHandler } from './context.js';

/** `branch`: first matching condition, else `else`. Never the LLM. */
export const runBranch: NodeHandler<'branch'> = async (node, ctx) => {
  const { to } = chooseBranch(node, (name) => ctx.resolve(name));
  return { kind: 'next', to };
};
