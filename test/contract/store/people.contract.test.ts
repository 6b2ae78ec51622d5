import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { AppError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { newCallRecord } from '../../../src/calls/call-record.js';
import { createPeople, type People } from '../../../src/handoff/people.js';
import { hashPassword } from '../../../src/handoff/passwords.js';
import type { NewStaff } from '../../../src/handoff/staff.js';
import { SqlCallStore } from '../../../src/store/calls-repo.js';
import { openDb, type Db } from '../../../src/store/db.js';
import { newId } from '../../../src/store/ids.js';
import { migrateToLatest } from '../../../src/store/migrate.js';
import { sqlPeopleStores } from '../../../src/store/people-stores.js';
import type { PeopleStores } from '../../../src/handoff/people.js';
import { BACKENDS } from './backends.js';

/**
 * The people side on SQL, the same code on SQLite and PostgreSQL: usernames are
 * unique whatever their case, the seat limit holds under concurrent creates,
 * queue membership is one relation seen from both ends, sessions die with their
 * person, and assignment under 50 racing claims never passes anyone's limit,
 * never picks a disabled, offline or removed person, and picks the longest idle.
 */

async function rejectsWith(p: Promise<unknown>, code: string): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe(code);
    return err as AppError;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

describe.each(BACKENDS)('people store contract on $name', (backend) => {
  let db: Db;
  let cleanup: () => Promise<void>;
  let clock: ManualClock;
  let stores: PeopleStores;
  let people: People;
  let hash: string;

  function build(seatLimit?: number): People {
    return createPeople({
      stores,
      clock,
      logger: silentLogger,
      newId,
      secretKey: 'contract-secret-key-0123456789',
      publicUrl: 'https://example.test',
      seatLimit,
      passwordCost: { N: 1 << 10, r: 8, p: 1 },
    });
  }

  beforeEach(async () => {
    const created = await backend.create();
    cleanup = created.cleanup;
    db = await openDb(created.databaseUrl);
    await migrateToLatest(db);
    clock = new ManualClock();
    stores = sqlPeopleStores(db.db);
    people = build();
    hash ??= await hashPassword('secret-password', { N: 1 << 10, r: 8, p: 1 });
  });

  afterEach(async () => {
    await people.close();
    await db.close();
    await cleanup();
  });

  let seq = 0;
  function newStaff(init: Partial<NewStaff> = {}): NewStaff {
    seq++;
    return {
      id: newId('stf', clock.wallNow()),
      displayName: `Person ${seq}`,
      username: `person${seq}`,
      email: null,
      role: 'support',
      state: 'enabled',
      passwordHash: hash,
      maxConcurrentSessions: null,
      showRealPhoneNumbers: false,
      phone: null,
      clientIdentity: null,
      queues: [],
      nowMs: clock.wallNow(),
      ...init,
    };
  }

  it('keeps usernames unique whatever their case, and finds them in any case', async () => {
    const s = await stores.staff.insert(newStaff({ username: 'Alice.Smith' }), undefined);
    await rejectsWith(stores.staff.insert(newStaff({ username: 'alice.smith' }), undefined), 'USERNAME_TAKEN');
    expect((await stores.staff.findByUsername('ALICE.SMITH'))?.id).toBe(s.id);
    expect((await stores.staff.get(s.id))?.username).toBe('Alice.Smith');
  });

  it('never passes the seat limit, even with concurrent creates; removed people free their seat', async () => {
    const limited = build(5);
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => limited.staff.create({ displayName: `P${i}`, username: `racer${i}`, role: 'support' })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as AppError).code).toBe('SEAT_LIMIT_REACHED');
    expect(await stores.staff.countSeats()).toBe(5);
    const first = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ id: string }>).value;
    await limited.staff.remove(first.id);
    expect(await stores.staff.countSeats()).toBe(4);
    await limited.staff.create({ displayName: 'Late', username: 'late', role: 'builder' });
    // Inviting the removed person again needs a seat too.
    await rejectsWith(limited.staff.invite(first.id, { role: 'support' }), 'SEAT_LIMIT_REACHED');
    await limited.close();
  });

  it('keeps queue membership as one relation, settable from the queue or the person', async () => {
    const a = await people.staff.create({ displayName: 'A', username: 'qa', role: 'support', password: 'secret1' });
    const b = await people.staff.create({ displayName: 'B', username: 'qb', role: 'support', password: 'secret1' });
    const sales = await people.queues.create({ name: 'Sales', members: [a.id] });
    await rejectsWith(people.queues.create({ name: 'sales' }), 'QUEUE_NAME_TAKEN');
    const support = await people.queues.create({ name: 'Support' });
    await people.staff.update(b.id, { queues: [sales.id, support.id] });
    expect((await people.queues.get(sales.id)).members.sort()).toEqual([a.id, b.id].sort());
    expect((await people.staff.get(b.id)).queues.sort()).toEqual([sales.id, support.id].sort());
    await rejectsWith(people.queues.update(support.id, { name: 'SALES' }), 'QUEUE_NAME_TAKEN');
    await rejectsWith(people.queues.update(support.id, { members: ['stf_nobody'] }), 'VALIDATION_FAILED');
    await rejectsWith(people.staff.update(a.id, { queues: ['que_nothing'] }), 'VALIDATION_FAILED');
    await people.queues.delete(sales.id);
    expect((await people.staff.get(b.id)).queues).toEqual([support.id]);
    await people.staff.delete(b.id);
    expect((await people.queues.get(support.id)).members).toEqual([]);
  });

  it('stores session tokens and passwords hashed: neither appears in the database', async () => {
    await people.staff.create({ displayName: 'T', username: 'tess', role: 'support', password: 'tess-secret-pw' });
    const login = await people.sessions.login('tess', 'tess-secret-pw', '127.0.0.1');
    if (login.kind !== 'ok') throw new Error(login.kind);
    const rows = JSON.stringify([
      await db.db.selectFrom('staff_sessions').selectAll().execute(),
      await db.db.selectFrom('staff').selectAll().execute(),
    ]);
    expect(rows).not.toContain(login.token);
    expect(rows).not.toContain('tess-secret-pw');
    const [session] = await db.db.selectFrom('staff_sessions').select('token_hash').execute();
    expect(session!.token_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('ends sessions with their person and counts calls people handled', async () => {
    await people.staff.create({ displayName: 'S', username: 'sam', role: 'support', password: 'secret1' });
    const login = await people.sessions.login('SAM', 'secret1', '127.0.0.1');
    if (login.kind !== 'ok') throw new Error(login.kind);
    expect(await people.sessions.authenticate(login.token)).toMatchObject({ kind: 'session', id: login.staff.id, role: 'support' });
    await people.staff.delete(login.staff.id);
    expect(await people.sessions.authenticate(login.token)).toBeUndefined();

    const calls = new SqlCallStore(db.db, clock);
    const handled = newCallRecord({ callSid: 'CA1', accountSid: 'AC1', agentId: 'ag', slug: 's', version: 1, from: '+15550001111', to: '+15550002222', direction: 'inbound', nowMs: clock.wallNow() });
    await calls.save({ ...handled, handledBy: ['stf_x'] });
    await calls.save({ ...handled, callSid: 'CA2' });
    expect((await people.staff.usage()).sessionsLast30Days).toBe(1);
  });

  describe('assignment', () => {
    async function person(init: Partial<NewStaff> & { online?: boolean; idleSince?: number; queue: string }): Promise<string> {
      const { online = true, idleSince, queue, ...rest } = init;
      const s = await stores.staff.insert(newStaff({ queues: [queue], ...rest }), undefined);
      if (idleSince !== undefined) await db.db.updateTable('staff').set({ idle_since: idleSince }).where('id', '=', s.id).execute();
      if (online) await people.presence.connect(s.id, `c-${s.id}`, 0);
      return s.id;
    }

    it('50 racing claims never pass a limit, never pick a disabled, offline or removed person', async () => {
      const q = (await people.queues.create({ name: 'Race' })).id;
      const limits: Record<string, number> = {};
      for (const max of [1, 2, 3, 5, 10]) limits[await person({ queue: q, maxConcurrentSessions: max })] = max;
      const disabled = await person({ queue: q, state: 'disabled' });
      const offline = await person({ queue: q, online: false });
      const removed = await person({ queue: q, state: 'removed', role: null as never });
      const elsewhere = await person({ queue: (await people.queues.create({ name: 'Other' })).id });

      const claims = await Promise.all(Array.from({ length: 50 }, () => people.assignment.assign(q)));
      const chosen = claims.filter((c) => c !== undefined).map((c) => c.staffId);
      // Capacity is 1+2+3+5+10 = 21: exactly that many claims succeed, the rest find nobody.
      expect(chosen).toHaveLength(21);
      for (const id of [disabled, offline, removed, elsewhere]) expect(chosen).not.toContain(id);
      for (const [id, max] of Object.entries(limits)) {
        expect(chosen.filter((c) => c === id), id).toHaveLength(max);
        expect((await stores.staff.get(id))?.liveSessions).toBe(max);
      }
    });

    it('chooses the longest idle: idle people before busy ones, oldest idle first, and skips people already tried', async () => {
      const q = (await people.queues.create({ name: 'Idle' })).id;
      const recent = await person({ queue: q, idleSince: 3_000, maxConcurrentSessions: 2 });
      const oldest = await person({ queue: q, idleSince: 1_000, maxConcurrentSessions: 2 });
      const middle = await person({ queue: q, idleSince: 2_000, maxConcurrentSessions: 2 });
      const next = async (exclude: string[] = []) => {
        await clock.advance(1_000); // each assignment at its own time
        return (await people.assignment.assign(q, { exclude }))?.staffId;
      };
      expect(await next()).toBe(oldest);
      expect(await next()).toBe(middle);
      expect(await next([recent])).toBe(oldest);
      expect(await next()).toBe(recent);
      // Everyone is busy now; `middle` has the oldest assignment among those with room.
      expect(await next()).toBe(middle);
      // Released to zero sessions: idle again, and first.
      await people.assignment.release(recent);
      expect((await stores.staff.get(recent))?.liveSessions).toBe(0);
      expect((await people.assignment.assign(q))?.staffId).toBe(recent);
    });

    it('finds nobody when the queue is empty or nobody is online, and never counts below zero', async () => {
      const q = (await people.queues.create({ name: 'Empty' })).id;
      expect(await people.assignment.assign(q)).toBeUndefined();
      const id = await person({ queue: q, online: false });
      expect(await people.assignment.assign(q)).toBeUndefined();
      await people.assignment.release(id);
      expect((await stores.staff.get(id))?.liveSessions).toBe(0);
    });
  });
});
