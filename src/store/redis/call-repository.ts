import type { CallRecord } from '../../calls/call-record.js';
import type { CallRepository } from '../../calls/repository.js';
import type { RedisConnection } from './connection.js';

/**
 * Live call records in Redis, shared by every process: the webhook may land on
 * one process and the media stream on another. Each record is a hash
 * `{ v, json }`; an update reads it, applies the change and writes it back only
 * if `v` is unchanged (a Lua compare-and-set), else reads again, so concurrent
 * changes from several processes are never lost.
 */

/** Ended records stay this long for live reads; the call history (SQL) keeps them for good. */
export const ENDED_RECORD_TTL_MS = 60 * 60_000;
/** A record nobody updates for this long is abandoned (no call lasts a day: maxCallSeconds caps it). */
export const LIVE_RECORD_TTL_MS = 24 * 60 * 60_000;
/** Compare-and-set retries before an update gives up; contention on one call is a handful of writers. */
const MAX_CAS_ATTEMPTS = 50;

const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HGET', KEYS[1], 'json') end
redis.call('HSET', KEYS[1], 'v', '1', 'json', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return false`;

const COMPARE_AND_SET = `
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(v) + 1), 'json', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

export class RedisCallRepository implements CallRepository {
  constructor(private readonly redis: RedisConnection) {}

  async createIfAbsent(record: CallRecord): Promise<{ record: CallRecord; created: boolean }> {
    const existing = (await this.redis.command.eval(
      CREATE,
      1,
      this.redis.keys.call(record.callSid),
      JSON.stringify(record),
      String(LIVE_RECORD_TTL_MS),
    )) as string | null;
    if (existing !== null) return { record: JSON.parse(existing) as CallRecord, created: false };
    return { record: structuredClone(record), created: true };
  }

  async get(callSid: string): Promise<CallRecord | undefined> {
    const json = await this.redis.command.hget(this.redis.keys.call(callSid), 'json');
    return json === null ? undefined : (JSON.parse(json) as CallRecord);
  }

  /** A record read from Redis is this caller's own already. */
  peek(callSid: string): Promise<CallRecord | undefined> {
    return this.get(callSid);
  }

  async update(callSid: string, change: (record: CallRecord) => void): Promise<CallRecord | undefined> {
    const key = this.redis.keys.call(callSid);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const [v, json] = await this.redis.command.hmget(key, 'v', 'json');
      if (v == null || json == null) return undefined;
      const record = JSON.parse(json) as CallRecord;
      change(record);
      const ttl = record.state === 'ended' ? ENDED_RECORD_TTL_MS : LIVE_RECORD_TTL_MS;
      const result = (await this.redis.command.eval(COMPARE_AND_SET, 1, key, v, JSON.stringify(record), String(ttl))) as number;
      if (result === 1) return record;
      if (result === -1) return undefined;
    }
    throw new Error(`call ${callSid}: too many concurrent updates`);
  }

  /** Calls in progress, on any process. */
  async list(): Promise<CallRecord[]> {
    const sids = await this.redis.command.hkeys(this.redis.keys.callHolders());
    if (sids.length === 0) return [];
    const pipeline = this.redis.command.pipeline();
    for (const sid of sids) pipeline.hget(this.redis.keys.call(sid), 'json');
    const results = (await pipeline.exec()) ?? [];
    return results.flatMap(([err, json]) => (err || typeof json !== 'string' ? [] : [JSON.parse(json) as CallRecord]));
  }
}
