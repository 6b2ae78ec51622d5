import type { Kysely, Selectable } from 'kysely';
import { AppError } from '../core/errors.js';
import type { UnavailableBehaviour } from '../agents/directory.js';
import type { AgentStore, NewAgent, SaveDraftResult, TransitionChange } from '../agents/store.js';
import type { AgentPatch, AgentRecord, AgentState, AgentWebhook, AuditEntry, LifecycleAction, OutboundLimits, Page, PageRequest, VersionRecord } from '../agents/types.js';
import type { Flow } from '../flow/schema.js';
import { decodeCursor, toPage } from './cursor.js';
import { isUniqueViolation } from './db.js';
import { newId } from './ids.js';
import type { AgentAuditTable, AgentVersionsTable, AgentsTable, DatabaseSchema } from './tables.js';

/** Agents with their draft, published versions and audit log, on SQL. */
export class SqlAgentStore implements AgentStore {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async insert(agent: NewAgent): Promise<AgentRecord> {
    const row: AgentsTable = {
      id: newId('ag', agent.nowMs),
      slug: agent.slug,
      name: agent.name,
      state: 'draft',
      served_version: null,
      latest_version: 0,
      draft_flow: agent.draftFlow === undefined || agent.draftFlow === null ? null : JSON.stringify(agent.draftFlow),
      draft_revision: agent.draftFlow === undefined || agent.draftFlow === null ? 0 : 1,
      draft_updated_at: agent.nowMs,
      unavailable: null,
      require_tests_to_publish: 0,
      webhook: null,
      outbound: null,
      created_at: agent.nowMs,
      updated_at: agent.nowMs,
    };
    try {
      await this.db.insertInto('agents').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('SLUG_TAKEN', `an agent with slug "${agent.slug}" exists`, { slug: agent.slug });
      throw err;
    }
    return toAgent(row);
  }

  async get(id: string): Promise<AgentRecord | undefined> {
    const row = await this.db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toAgent(row);
  }

  async getBySlug(slug: string): Promise<AgentRecord | undefined> {
    const row = await this.db.selectFrom('agents').selectAll().where('slug', '=', slug).executeTakeFirst();
    return row && toAgent(row);
  }

  async list(page: PageRequest): Promise<Page<AgentRecord>> {
    const after = decodeCursor<string>(page.cursor, 'string');
    let q = this.db.selectFrom('agents').selectAll().orderBy('id').limit(page.limit + 1);
    if (after !== undefined) q = q.where('id', '>', after);
    return toPage(await q.execute(), page, toAgent, (r) => r.id);
  }

  async update(id: string, patch: AgentPatch, nowMs: number): Promise<boolean> {
    const set: Partial<AgentsTable> = { updated_at: nowMs };
    if (patch.requireTestsToPublish !== undefined) set.require_tests_to_publish = patch.requireTestsToPublish ? 1 : 0;
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.unavailable !== undefined) set.unavailable = patch.unavailable === null ? null : JSON.stringify(patch.unavailable);
    if (patch.webhook !== undefined) set.webhook = patch.webhook === null ? null : JSON.stringify(patch.webhook);
    if (patch.outbound !== undefined) set.outbound = patch.outbound === null ? null : JSON.stringify(patch.outbound);
    const res = await this.db.updateTable('agents').set(set).where('id', '=', id).executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }

  async saveDraft(id: string, flow: unknown, baseRevision: number, nowMs: number): Promise<SaveDraftResult> {
    // One conditional UPDATE: of concurrent saves on the same base, exactly one matches.
    const won = await this.db
      .updateTable('agents')
      .set((eb) => ({
        draft_flow: JSON.stringify(flow),
        draft_revision: eb('draft_revision', '+', 1),
        draft_updated_at: nowMs,
        updated_at: nowMs,
      }))
      .where('id', '=', id)
      .where('draft_revision', '=', baseRevision)
      .returning('draft_revision')
      .executeTakeFirst();
    if (won) return { ok: true, revision: won.draft_revision };
    const current = await this.db.selectFrom('agents').select('draft_revision').where('id', '=', id).executeTakeFirst();
    return current ? { ok: false, currentRevision: current.draft_revision } : undefined;
  }

  async publish(
    id: string,
    v: { flow: Flow; author: string; note: string | null; draftRevision: number; nowMs: number },
  ): Promise<VersionRecord> {
    return this.db.transaction().execute(async (tx) => {
      // Incrementing first takes the row lock on PostgreSQL, so concurrent publishes queue here.
      const bumped = await tx
        .updateTable('agents')
        .set((eb) => ({ latest_version: eb('latest_version', '+', 1), updated_at: v.nowMs }))
        .where('id', '=', id)
        .returning('latest_version')
        .executeTakeFirst();
      if (!bumped) throw new AppError('NOT_FOUND', `no agent ${id}`);
      const row: AgentVersionsTable = {
        agent_id: id,
        version: bumped.latest_version,
        flow: JSON.stringify(v.flow),
        author: v.author,
        note: v.note,
        draft_revision: v.draftRevision,
        created_at: v.nowMs,
      };
      await tx.insertInto('agent_versions').values(row).execute();
      return toVersion(row);
    });
  }

  async getVersion(id: string, version: number): Promise<VersionRecord | undefined> {
    const row = await this.db
      .selectFrom('agent_versions')
      .selectAll()
      .where('agent_id', '=', id)
      .where('version', '=', version)
      .executeTakeFirst();
    return row && toVersion(row);
  }

  async listVersions(id: string, page: PageRequest): Promise<Page<VersionRecord>> {
    // Newest first: the version a builder looks for is usually the latest.
    const before = decodeCursor<number>(page.cursor, 'number');
    let q = this.db
      .selectFrom('agent_versions')
      .selectAll()
      .where('agent_id', '=', id)
      .orderBy('version', 'desc')
      .limit(page.limit + 1);
    if (before !== undefined) q = q.where('version', '<', before);
    return toPage(await q.execute(), page, toVersion, (r) => r.version);
  }

  async transition(id: string, change: TransitionChange): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      let q = tx
        .updateTable('agents')
        .set({ state: change.next.state, served_version: change.next.servedVersion, updated_at: change.nowMs })
        .where('id', '=', id)
        .where('state', '=', change.expect.state);
      q =
        change.expect.servedVersion === null
          ? q.where('served_version', 'is', null)
          : q.where('served_version', '=', change.expect.servedVersion);
      const res = await q.executeTakeFirst();
      if (res.numUpdatedRows === 0n) return false;
      const audit: AgentAuditTable = {
        id: newId('au', change.nowMs),
        agent_id: id,
        action: change.audit.action,
        actor: change.audit.actor,
        from_state: change.expect.state,
        to_state: change.next.state,
        from_version: change.expect.servedVersion,
        to_version: change.next.servedVersion,
        reason: change.audit.reason,
        created_at: change.nowMs,
      };
      await tx.insertInto('agent_audit').values(audit).execute();
      return true;
    });
  }

  async listAudit(id: string, page: PageRequest): Promise<Page<AuditEntry>> {
    const before = decodeCursor<string>(page.cursor, 'string');
    let q = this.db
      .selectFrom('agent_audit')
      .selectAll()
      .where('agent_id', '=', id)
      .orderBy('id', 'desc')
      .limit(page.limit + 1);
    if (before !== undefined) q = q.where('id', '<', before);
    return toPage(await q.execute(), page, toAudit, (r) => r.id);
  }

  async deleteUnlessActive(id: string): Promise<true | false | 'active'> {
    const res = await this.db.deleteFrom('agents').where('id', '=', id).where('state', '<>', 'active').executeTakeFirst();
    if (res.numDeletedRows > 0n) {
      // Its test suite goes with it (the suite describes this agent's flow; calls stay).
      await this.db.deleteFrom('agent_tests').where('agent_id', '=', id).execute();
      return true;
    }
    const still = await this.db.selectFrom('agents').select('state').where('id', '=', id).executeTakeFirst();
    return still ? 'active' : false;
  }
}

function toAgent(r: Selectable<AgentsTable>): AgentRecord {
  return {
    id: r.id,
    slug: r.slug,
    name: r.name,
    state: r.state as AgentState,
    servedVersion: r.served_version,
    latestVersion: r.latest_version,
    draft: {
      flow: r.draft_flow === null ? null : (JSON.parse(r.draft_flow) as unknown),
      revision: r.draft_revision,
      updatedAtMs: Number(r.draft_updated_at),
    },
    unavailable: r.unavailable === null ? null : (JSON.parse(r.unavailable) as UnavailableBehaviour),
    requireTestsToPublish: Number(r.require_tests_to_publish) === 1,
    webhook: r.webhook === null ? null : (JSON.parse(r.webhook) as AgentWebhook),
    outbound: r.outbound === null ? null : (JSON.parse(r.outbound) as OutboundLimits),
    createdAtMs: Number(r.created_at),
    updatedAtMs: Number(r.updated_at),
  };
}

function toVersion(r: Selectable<AgentVersionsTable>): VersionRecord {
  return {
    agentId: r.agent_id,
    version: r.version,
    flow: JSON.parse(r.flow) as Flow,
    author: r.author,
    note: r.note,
    draftRevision: r.draft_revision,
    createdAtMs: Number(r.created_at),
  };
}

function toAudit(r: Selectable<AgentAuditTable>): AuditEntry {
  return {
    id: r.id,
    agentId: r.agent_id,
    action: r.action as LifecycleAction,
    actor: r.actor,
    fromState: r.from_state as AgentState,
    toState: r.to_state as AgentState,
    fromVersion: r.from_version,
    toVersion: r.to_version,
    reason: r.reason,
    createdAtMs: Number(r.created_at),
  };
}
