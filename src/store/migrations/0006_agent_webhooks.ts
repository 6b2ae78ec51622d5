import type { Kysely } from 'kysely';

/**
 * Outbound webhooks (docs/jobs.md#webhooks): each agent may name a receiver URL
 * and the secret its deliveries are signed with, stored as JSON text on the
 * agent, beside the unavailable behaviour (both belong to the agent, not a version).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('agents').addColumn('webhook', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('agents').dropColumn('webhook').execute();
}
