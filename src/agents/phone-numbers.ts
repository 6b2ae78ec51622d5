import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { AgentChanges } from './changes.js';
import type { AgentStore, PhoneNumberStore } from './store.js';
import type { Page, PageRequest, PhoneNumberRecord } from './types.js';

export const E164_PATTERN = /^\+[1-9]\d{6,14}$/;

/** Number → agent assignments: E.164 only, at most one agent per number (docs/api.md#phone-numbers). */
export class PhoneNumberService {
  constructor(
    private readonly deps: { numbers: PhoneNumberStore; agents: AgentStore; clock: Clock; changes: AgentChanges },
  ) {}

  list(page: PageRequest): Promise<Page<PhoneNumberRecord>> {
    return this.deps.numbers.list(page);
  }

  get(e164: string): Promise<PhoneNumberRecord | undefined> {
    return this.deps.numbers.get(checkE164(e164));
  }

  async assign(e164: string, agentIdOrSlug: string): Promise<PhoneNumberRecord> {
    checkE164(e164);
    const agent = (await this.deps.agents.get(agentIdOrSlug)) ?? (await this.deps.agents.getBySlug(agentIdOrSlug));
    if (!agent) throw new AppError('NOT_FOUND', `no agent ${agentIdOrSlug}`);
    const res = await this.deps.numbers.assign(e164, agent.id, this.deps.clock.wallNow());
    if (!res.ok) {
      throw new AppError('NUMBER_TAKEN', 'this number is assigned to another agent; unassign it first', { agentId: res.takenBy });
    }
    await this.deps.changes.publish({ kind: 'number', agentId: agent.id, e164 });
    return res.record;
  }

  /** Assigns only when the number has no agent (PHONE_NUMBERS at start never overrides). */
  async assignIfUnassigned(e164: string, agentId: string): Promise<boolean> {
    if (await this.deps.numbers.get(checkE164(e164))) return false;
    const res = await this.deps.numbers.assign(e164, agentId, this.deps.clock.wallNow());
    if (res.ok) await this.deps.changes.publish({ kind: 'number', agentId, e164 });
    return res.ok && res.record.agentId === agentId;
  }

  async unassign(e164: string): Promise<void> {
    const existing = await this.deps.numbers.get(checkE164(e164));
    if (!existing || !(await this.deps.numbers.unassign(e164))) throw new AppError('NOT_FOUND', `number ${e164} is not assigned`);
    await this.deps.changes.publish({ kind: 'number', agentId: existing.agentId, e164 });
  }
}

function checkE164(e164: string): string {
  if (!E164_PATTERN.test(e164)) {
    throw new AppError('VALIDATION_FAILED', 'phone numbers are E.164: "+" then 7–15 digits, e.g. +15550100001', { e164 });
  }
  return e164;
}
