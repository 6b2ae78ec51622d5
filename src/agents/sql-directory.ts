import type { Clock } from '../core/clock.js';
import type { Flow } from '../flow/schema.js';
import type { AgentChanges } from './changes.js';
import { DEFAULT_UNAVAILABLE, type AgentDirectory, type NumberLookup } from './directory.js';
import type { AgentStore, PhoneNumberStore } from './store.js';

/**
 * The AgentDirectory over the SQL stores. Number lookups are cached under the
 * agent-change generation they were read at (src/agents/changes.ts) and dropped
 * on every change, so an activation, deactivation, switch or rollback made
 * through any process applies to the very next call on every process.
 * Published versions are immutable and cached by (agent, version). The TTL
 * bounds what a cache can hold if changes stop arriving at all.
 */
export const LOOKUP_TTL_MS = 5_000;
const MAX_CACHED_VERSIONS = 256;

export class StoreAgentDirectory implements AgentDirectory {
  private readonly lookups = new Map<string, { result: NumberLookup; expiresAtMs: number; generation: number }>();
  private readonly versions = new Map<string, { slug: string; flow: Flow }>();
  /** Bumped on every change: a lookup that raced a change must not cache what it read. */
  private generation = 0;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly deps: { agents: AgentStore; numbers: PhoneNumberStore; clock: Clock; changes: AgentChanges },
  ) {
    this.unsubscribe = deps.changes.subscribe((change) => {
      this.generation++;
      this.lookups.clear();
      if (change.kind === 'deleted') {
        for (const key of this.versions.keys()) if (key.startsWith(`${change.agentId}:`)) this.versions.delete(key);
      }
    });
  }

  close(): void {
    this.unsubscribe();
  }

  async lookupNumber(e164: string): Promise<NumberLookup> {
    const nowMs = this.deps.clock.now();
    const shared = await this.deps.changes.generation();
    const hit = this.lookups.get(e164);
    if (hit && hit.expiresAtMs > nowMs && hit.generation === shared) return hit.result;
    const local = this.generation;
    const result = await this.resolve(e164);
    // NaN (generation unknown) never equals itself: nothing is cached then.
    if (local === this.generation && !Number.isNaN(shared)) this.lookups.set(e164, { result, expiresAtMs: nowMs + LOOKUP_TTL_MS, generation: shared });
    return result;
  }

  async getVersion(agentId: string, version: number): Promise<{ slug: string; flow: Flow } | undefined> {
    const key = `${agentId}:${version}`;
    const hit = this.versions.get(key);
    if (hit) return hit;
    const agent = await this.deps.agents.get(agentId);
    if (!agent) return undefined;
    const v = await this.deps.agents.getVersion(agentId, version);
    if (!v) return undefined;
    const entry = { slug: agent.slug, flow: v.flow };
    if (this.versions.size >= MAX_CACHED_VERSIONS) {
      const oldest = this.versions.keys().next().value;
      if (oldest !== undefined) this.versions.delete(oldest);
    }
    this.versions.set(key, entry);
    return entry;
  }

  private async resolve(e164: string): Promise<NumberLookup> {
    const assignment = await this.deps.numbers.get(e164);
    if (!assignment) return { kind: 'unassigned' };
    const agent = await this.deps.agents.get(assignment.agentId);
    if (!agent) return { kind: 'unassigned' };
    const unavailable = agent.unavailable ?? DEFAULT_UNAVAILABLE;
    if (agent.state === 'active' && agent.servedVersion !== null) {
      const v = await this.getVersion(agent.id, agent.servedVersion);
      if (v) return { kind: 'active', agentId: agent.id, slug: agent.slug, version: agent.servedVersion, flow: v.flow, unavailable };
    }
    return { kind: 'unavailable', agentId: agent.id, slug: agent.slug, unavailable };
  }
}
