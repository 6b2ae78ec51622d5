import type { Kysely } from 'kysely';

/**
 * People (docs/people.md): staff, queues and their members, sign-in sessions,
 * and the person who handled a call. Booleans are integers (0/1) so the column
 * means the same on SQLite and PostgreSQL; times are epoch-ms bigints.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('staff')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('username', 'text', (c) => c.notNull())
    // The username lowercased: uniqueness is case-insensitive on both dialects.
    .addColumn('username_key', 'text', (c) => c.notNull().unique())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('email', 'text')
    // Null once the person is removed from the workspace (roles cleared).
    .addColumn('role', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text')
    .addColumn('max_concurrent_sessions', 'integer')
    .addColumn('show_real_phone_numbers', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('phone', 'text')
    .addColumn('client_identity', 'text')
    // sha256 of the activation token; a resend replaces it, activation clears it.
    .addColumn('invite_token_hash', 'text', (c) => c.unique())
    .addColumn('invite_expires_at', 'bigint')
    // Assignment: sessions the person handles now, and since when they have been idle.
    .addColumn('live_sessions', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('idle_since', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('staff_state').on('staff').column('state').execute();

  await db.schema
    .createTable('queues')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('name_key', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('queue_members')
    .addColumn('queue_id', 'text', (c) => c.notNull().references('queues.id').onDelete('cascade'))
    .addColumn('staff_id', 'text', (c) => c.notNull().references('staff.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('queue_members_pk', ['queue_id', 'staff_id'])
    .execute();
  await db.schema.createIndex('queue_members_staff').on('queue_members').column('staff_id').execute();

  await db.schema
    .createTable('staff_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('staff_id', 'text', (c) => c.notNull().references('staff.id').onDelete('cascade'))
    // HMAC-SHA256 of the bearer token with SECRET_KEY; the token itself is never stored.
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('staff_sessions_staff').on('staff_sessions').column('staff_id').execute();

  // The person who last handled the call (no foreign key: a deleted person's calls stay readable).
  await db.schema.alterTable('calls').addColumn('staff_id', 'text').execute();
  await db.schema.createIndex('calls_staff_created').on('calls').columns(['staff_id', 'created_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('calls_staff_created').ifExists().execute();
  await db.schema.alterTable('calls').dropColumn('staff_id').execute();
  for (const t of ['staff_sessions', 'queue_members', 'queues', 'staff']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
