import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { fakeSpeech } from '../../../src/core/audio/tone.js';
import { openDb, type Db } from '../../../src/store/db.js';
import { migrateToLatest } from '../../../src/store/migrate.js';
import { SqlTtsCacheStore } from '../../../src/store/tts-cache-repository.js';
import { MemoryTtsCacheStore, PhraseCache, phraseKey, voiceKey, type TtsCacheStore } from '../../../src/pipeline/phrase-cache.js';
import { FakeTts } from '../../../src/providers/tts/fake.js';
import { BACKENDS } from '../store/backends.js';

/**
 * The SQL phrase store on SQLite and PostgreSQL (migration 0001's `tts_cache`):
 * bytes round-trip exactly, a key is stored once, uses are recorded, and a
 * PhraseCache on a fresh connection serves stored phrases with no TTS request.
 */

const voice = { voiceId: 'v1', modelId: 'm1', language: 'en' };

describe.each(BACKENDS)('SqlTtsCacheStore on $name', (backend) => {
  let store: Db | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await store?.close();
    await cleanup?.();
    store = undefined;
    cleanup = undefined;
  });

  async function open(): Promise<{ db: Db; url: string }> {
    const created = await backend.create();
    cleanup = created.cleanup;
    store = await openDb(created.databaseUrl);
    await migrateToLatest(store);
    return { db: store, url: created.databaseUrl };
  }

  it('round-trips audio bytes, keeps the first write of a key, and records uses', async () => {
    const { db } = await open();
    const clock = new ManualClock();
    const repo = new SqlTtsCacheStore(db.db, clock);
    const audio = fakeSpeech('Hello there.');
    const key = phraseKey('Hello there.', voice);
    expect(await repo.get(key)).toBeUndefined();
    await repo.put({ key, voiceKey: voiceKey(voice), text: 'Hello there.', audio });
    await repo.put({ key, voiceKey: voiceKey(voice), text: 'Hello there.', audio: new Uint8Array(10) });
    const got = await repo.get(key);
    expect(got).toBeInstanceOf(Uint8Array);
    expect([...got!]).toEqual([...audio]);
    expect(await repo.stats()).toEqual({ entries: 1, bytes: audio.length });

    await clock.advance(60_000);
    await repo.touch(key);
    const row = await db.db.selectFrom('tts_cache').selectAll().where('key', '=', key).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ voice_key: voiceKey(voice), text: 'Hello there.', bytes: audio.length });
    expect(Number(row.last_used_at) - Number(row.created_at)).toBe(60_000);
  });

  it('lets a cache on another connection serve a stored phrase without TTS', async () => {
    const { db, url } = await open();
    await new PhraseCache({ tts: new FakeTts(), store: new SqlTtsCacheStore(db.db) }).warm(['Welcome.'], voice);
    const other = await openDb(url);
    try {
      const tts = new FakeTts();
      const cache = new PhraseCache({ tts, store: new SqlTtsCacheStore(other.db) });
      expect(await cache.get('Welcome.', voice)).toEqual(fakeSpeech('Welcome.'));
      expect(tts.requests).toHaveLength(0);
    } finally {
      await other.close();
    }
  });
});

/** The TtsCacheStore port, the same cases on the in-memory store (tests) and SQL on both backends. */
const STORES: { name: string; open(clock: ManualClock): Promise<{ store: TtsCacheStore; close(): Promise<void> }> }[] = [
  { name: 'memory', open: async (clock) => ({ store: new MemoryTtsCacheStore(clock), close: async () => undefined }) },
  ...BACKENDS.map((backend) => ({
    name: backend.name,
    async open(clock: ManualClock) {
      const created = await backend.create();
      const db = await openDb(created.databaseUrl);
      await migrateToLatest(db);
      return {
        store: new SqlTtsCacheStore(db.db, clock),
        close: async () => {
          await db.close();
          await created.cleanup();
        },
      };
    },
  })),
];

describe.each(STORES)('TtsCacheStore contract on $name', (impl) => {
  it('returns the exact bytes put, keeps the first write of a key, and knows nothing of other keys', async () => {
    const { store, close } = await impl.open(new ManualClock());
    try {
      const audio = fakeSpeech('See you soon.');
      const key = phraseKey('See you soon.', voice);
      expect(await store.get(key)).toBeUndefined();
      await store.put({ key, voiceKey: voiceKey(voice), text: 'See you soon.', audio });
      await store.put({ key, voiceKey: voiceKey(voice), text: 'See you soon.', audio: new Uint8Array(8) });
      expect([...((await store.get(key)) ?? [])]).toEqual([...audio]);
      expect(await store.get(phraseKey('Something else.', voice))).toBeUndefined();
      // Recording a use of an unknown key is harmless.
      await store.touch?.('no-such-key');
      await store.touch?.(key);
      expect([...((await store.get(key)) ?? [])]).toEqual([...audio]);
    } finally {
      await close();
    }
  });

  it('keeps what was put even if the caller later changes its buffer', async () => {
    const { store, close } = await impl.open(new ManualClock());
    try {
      const audio = fakeSpeech('Hello.');
      const key = phraseKey('Hello.', voice);
      await store.put({ key, voiceKey: voiceKey(voice), text: 'Hello.', audio });
      audio.fill(0);
      expect([...((await store.get(key)) ?? [])]).toEqual([...fakeSpeech('Hello.')]);
    } finally {
      await close();
    }
  });
});
