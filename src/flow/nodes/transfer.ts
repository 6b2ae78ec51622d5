import { hasPlaceholders } from '../template.js';
import type { TransferRequest } from '../port.js';
import type { NodeHandler } from './context.js';

/**
 * `transfer`: announce, then ask the channel to hand the caller to people.
 * `transferred` ends the AI's part of the call; `unavailable` continues at
 * `onUnavailable` (or the fallback).
 */
export const runTransfer: NodeHandler<'transfer'> = async (node, ctx) => {
  const step = ctx.step('transfer');
  const announce = node.announce ? ctx.render(node.announce) : undefined;
  if (step.phase === 'announce') {
    if (announce) await ctx.say(announce, { interruptible: false, cacheable: !hasPlaceholders(node.announce!) });
    step.phase = 'request';
    ctx.checkpoint();
  }
  const request: TransferRequest = {
    target: node.target,
    mode: node.mode,
    nodeId: node.id,
    ringSeconds: node.ringSeconds,
    maxWaitSeconds: node.maxWaitSeconds,
    ...(announce ? { announce } : {}),
    ...(node.summary && node.mode === 'warm' ? { summary: ctx.render(node.summary) } : {}),
    ...(node.onUnavailable ? { onUnavailable: node.onUnavailable } : {}),
  };
  ctx.emit({ type: 'transfer.requested', nodeId: node.id, target: node.target, mode: node.mode });
  const result = await ctx.port.transfer(request);
  ctx.checkAbort();
  if (result.outcome === 'transferred') {
    step.phase = 'done';
    ctx.state.transcript.push({ role: 'system', text: `Transferred to ${'queue' in node.target ? `queue ${node.target.queue}` : 'a number'}.`, nodeId: node.id, at: ctx.clock.wallNow() });
    return { kind: 'end', outcome: 'transferred', reason: node.mode };
  }
  ctx.state.transcript.push({ role: 'system', text: `Transfer unavailable: ${result.reason}.`, nodeId: node.id, at: ctx.clock.wallNow() });
  return { kind: 'fail', edge: node.onUnavailable, reason: 'transfer_unavailable' };
};
