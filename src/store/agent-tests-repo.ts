import type { Kysely } from 'kysely';
import type { AgentTestsStore, LastRun, StoredSuite } from '../agents/flow-tests.js';
import type { FlowTestSuite } from '../flow-tests/suite-schema.js';
import type { AgentTestsTable, DatabaseSchema } from './tables.js';

/** Agents' flow test suites and last runs, on SQL (one row per agent). */
export class SqlAgentTestsStore implements AgentTestsStore {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  async get(agentId: string): Promise<StoredSuite | undefined> {
    const row = await this.db.selectFrom('agent_tests').selectAll().where('agent_id', '=', agentId).executeTakeFirst();
    return row && toStored(row);
  }

  async put(agentId: string, suite: FlowTestSuite, actor: string, nowMs: number): Promise<StoredSuite> {
    const row: AgentTestsTable = { agent_id: agentId, suite: JSON.stringify(suite), updated_by: actor, updated_at: nowMs, last_run: null };
    // One statement on both dialects: concurrent saves each leave a whole suite.
    await this.db
      .insertInto('agent_tests')
      .values(row)
      .onConflict((oc) => oc.column('agent_id').doUpdateSet({ suite: row.suite, updated_by: actor, updated_at: nowMs, last_run: null }))
      .execute();
    return toStored(row);
  }

  async saveRun(agentId: string, run: LastRun): Promise<void> {
    await this.db.updateTable('agent_tests').set({ last_run: JSON.stringify(run) }).where('agent_id', '=', agentId).execute();
  }
}

function toStored(r: AgentTestsTable): StoredSuite {
  return {
    agentId: r.agent_id,
    suite: JSON.parse(r.suite) as FlowTestSuite,
    updatedBy: r.updated_by,
    updatedAtMs: Number(r.updated_at),
    lastRun: r.last_run === null ? null : (JSON.parse(r.last_run) as LastRun),
  };
}
