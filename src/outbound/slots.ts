import type { OutboundLimits } from '../agents/types.js';
import { AgentAdmission, type Admission } from './admission.js';

/**
 * The per-agent outbound limits as the dialer asks them (docs/outbound.md#limits):
 * a slot per request from its dial until its call ends, and dial starts counted
 * in a sliding minute. In one process the counts are this process's memory;
 * with REDIS_URL they are shared (src/store/redis/outbound-slots.ts), so the
 * limits hold across every process, whichever one a request landed on.
 * Times are wall-clock epoch ms (`retryAtMs` too), comparable between processes.
 */
export interface OutboundSlots {
  /** Shared with other processes: a slot another process frees is not heard of here, so waiting queues look again now and then. */
  readonly shared: boolean;
  /** Takes a slot for the request and counts its start when the limits allow it now. */
  take(agentId: string, requestId: string, limits: OutboundLimits, nowMs: number): Promise<Admission>;
  /** The request's call ended (or was never placed): its slot is free. Idempotent. */
  release(agentId: string, requestId: string): Promise<void>;
}

export class MemoryOutboundSlots implements OutboundSlots {
  readonly shared = false;
  private readonly agents = new Map<string, { admission: AgentAdmission; held: Set<string> }>();

  async take(agentId: string, requestId: string, limits: OutboundLimits, nowMs: number): Promise<Admission> {
    let a = this.agents.get(agentId);
    if (!a) {
      a = { admission: new AgentAdmission(), held: new Set() };
      this.agents.set(agentId, a);
    }
    const verdict = a.admission.check(limits, nowMs);
    if (!verdict.ok) return verdict;
    a.admission.take(nowMs);
    a.held.add(requestId);
    return verdict;
  }

  async release(agentId: string, requestId: string): Promise<void> {
    const a = this.agents.get(agentId);
    if (a?.held.delete(requestId)) a.admission.release();
  }
}
