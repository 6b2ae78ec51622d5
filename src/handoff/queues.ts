import type { Page, PageRequest } from '../agents/types.js';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';

/** A queue of people calls can be offered to (docs/people.md#queues). Names are unique, case-insensitively. */
export interface QueueRecord {
  id: string;
  name: string;
  /** Staff ids. */
  members: string[];
  createdAtMs: number;
  updatedAtMs: number;
}

export interface QueueStore {
  /** Throws QUEUE_NAME_TAKEN when the name (any case) exists. */
  insert(queue: { id: string; name: string; members: string[]; nowMs: number }): Promise<QueueRecord>;
  get(id: string): Promise<QueueRecord | undefined>;
  list(page: PageRequest): Promise<Page<QueueRecord>>;
  update(id: string, changes: { name?: string; members?: string[] }, nowMs: number): Promise<QueueRecord | undefined>;
  delete(id: string): Promise<boolean>;
  /** Which of these ids are queues. */
  existing(ids: readonly string[]): Promise<Set<string>>;
}

/** Which of these ids are people (any state). */
export type StaffExists = (ids: readonly string[]) => Promise<Set<string>>;

export const queueNameKey = (name: string) => name.trim().toLowerCase();

export class QueueService {
  constructor(
    private readonly deps: {
      store: QueueStore;
      staffExists: StaffExists;
      clock: Clock;
      newId: (prefix: string, nowMs: number) => string;
      /** Told after membership changes, so people's views can be pushed. */
      onMembersChanged?: (staffIds: readonly string[]) => Promise<void> | void;
    },
  ) {}

  list(page: PageRequest): Promise<Page<QueueRecord>> {
    return this.deps.store.list(page);
  }

  async get(id: string): Promise<QueueRecord> {
    const q = await this.deps.store.get(id);
    if (!q) throw new AppError('NOT_FOUND', `no queue ${id}`);
    return q;
  }

  /** The queue a flow's transfer names (names are unique, case-insensitively); undefined when there is none. */
  async findByName(name: string): Promise<QueueRecord | undefined> {
    const key = queueNameKey(name);
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.list({ limit: 100, cursor });
      const found = page.items.find((q) => queueNameKey(q.name) === key);
      if (found) return found;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return undefined;
  }

  async create(input: { name: string; members?: string[] }): Promise<QueueRecord> {
    const members = await this.checkMembers(input.members ?? []);
    const nowMs = this.deps.clock.wallNow();
    const q = await this.deps.store.insert({ id: this.deps.newId('que', nowMs), name: input.name.trim(), members, nowMs });
    await this.deps.onMembersChanged?.(members);
    return q;
  }

  async update(id: string, changes: { name?: string; members?: string[] }): Promise<QueueRecord> {
    const before = await this.get(id);
    const members = changes.members === undefined ? undefined : await this.checkMembers(changes.members);
    const q = await this.deps.store.update(
      id,
      { ...(changes.name !== undefined ? { name: changes.name.trim() } : {}), ...(members !== undefined ? { members } : {}) },
      this.deps.clock.wallNow(),
    );
    if (!q) throw new AppError('NOT_FOUND', `no queue ${id}`);
    if (members !== undefined) await this.deps.onMembersChanged?.(symmetricDifference(before.members, members));
    return q;
  }

  async delete(id: string): Promise<void> {
    const before = await this.get(id);
    if (!(await this.deps.store.delete(id))) throw new AppError('NOT_FOUND', `no queue ${id}`);
    await this.deps.onMembersChanged?.(before.members);
  }

  private async checkMembers(ids: string[]): Promise<string[]> {
    const unique = [...new Set(ids)];
    const known = await this.deps.staffExists(unique);
    const unknown = unique.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new AppError('VALIDATION_FAILED', `body.members: no such people: ${unknown.join(', ')}`, {
        issues: [{ path: 'body.members', message: 'unknown staff ids' }],
        unknown,
      });
    }
    return unique;
  }
}

function symmetricDifference(a: readonly string[], b: readonly string[]): string[] {
  const sa = new Set(a);
  const sb = new Set(b);
  return [...a.filter((x) => !sb.has(x)), ...b.filter((x) => !sa.has(x))];
}
