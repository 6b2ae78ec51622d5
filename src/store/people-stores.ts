import type { Kysely } from 'kysely';
import type { PeopleStores } from '../handoff/people.js';
import { SqlAssignmentStore } from './assignment-repo.js';
import { SqlQueueStore } from './queues-repo.js';
import { SqlSessionStore } from './sessions-repo.js';
import { SqlStaffStore } from './staff-repo.js';
import type { DatabaseSchema } from './tables.js';

/** The people side's stores on SQL (SQLite or PostgreSQL). */
export function sqlPeopleStores(db: Kysely<DatabaseSchema>): PeopleStores {
  return {
    staff: new SqlStaffStore(db),
    queues: new SqlQueueStore(db),
    sessions: new SqlSessionStore(db),
    assignment: new SqlAssignmentStore(db),
  };
}
