import type { Kysely } from 'kysely';

/**
 * Flow test suites stored with their agent (docs/flows.md#testing-a-flow): the
 * suite as JSON text and the last run's report, one row per agent; and the
 * agent's `requireTestsToPublish` switch (0/1, an integer so it means the same
 * on SQLite and PostgreSQL).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('agents')
    .addColumn('require_tests_to_publish', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable('agent_tests')
    .addColumn('agent_id', 'text', (c) => c.primaryKey())
    .addColumn('suite', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    // The last run: what it ran against and its report (JSON), so every role can read the result.
    .addColumn('last_run', 'text')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('agent_tests').ifExists().execute();
  await db.schema.alterTable('agents').dropColumn('require_tests_to_publish').execute();
}
