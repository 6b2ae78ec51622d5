import { performHttpRequest } from '../http-request.js';
import type { NodeHandler } from './context.js';

/** `http`: a templated request; saved reply fields become variables; failures take `onError`. */
export const runHttp: NodeHandler<'http'> = async (node, ctx) => {
  const result = await performHttpRequest(node, ctx.scope(), { fetch: ctx.http, clock: ctx.clock, signal: ctx.signal });
  ctx.checkAbort();
  ctx.emit({
    type: 'tool.called',
    nodeId: node.id,
    name: node.id,
    status: result.ok ? result.status : result.error === 'status' ? (result.status ?? 'error') : result.error === 'timeout' || result.error === 'network' ? result.error : 'error',
    ms: result.ms,
  });
  if (!result.ok) {
    ctx.logger.info({ nodeId: node.id, error: result.error, status: result.status }, 'http node failed');
    return { kind: 'fail', edge: node.onError, reason: `http_${result.error}` };
  }
  for (const [name, value] of Object.entries(result.saved)) ctx.setVariable(name, value);
  return { kind: 'next', to: node.next };
};
