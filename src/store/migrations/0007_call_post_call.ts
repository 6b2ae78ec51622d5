import type { Kysely } from 'kysely';

/**
 * Post-call processing (docs/jobs.md#post-call-processing): the summary,
 * disposition and extracted variables of an ended call, as JSON text in a column
 * of its own. Not inside `record`: the call recorder rewrites the record JSON on
 * every flush and would drop it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('calls').addColumn('post_call', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('calls').dropColumn('post_call').execute();
}
