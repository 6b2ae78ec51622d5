import type { CallHolders } from '../../calls/holders.js';
import type { ProcessRegistry } from '../../calls/process-watch.js';
import type { RedisConnection } from './connection.js';

/**
 * Call holders and process heartbeats in Redis (docs/architecture.md#several-processes).
 * `calls:holder` maps each call in progress to its process; each process has the
 * set of its calls, so a dead one's calls are found in one read; `processes`
 * holds every process's last beat. Moving a call between processes and claiming
 * a dead process's calls are Lua scripts, so two sweepers never both end the
 * same process's calls and a call is never in two sets.
 */

/** The per-process key templates, split around the id, so the scripts build keys exactly as keys.ts does. */
function template(build: (id: string) => string): [string, string] {
  const marker = '\u0000';
  const [head, tail] = build(marker).split(marker);
  return [head!, tail!];
}

const HOLD = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and old ~= ARGV[2] then redis.call('SREM', ARGV[3] .. old .. ARGV[4], ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1`;

const RELEASE = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  redis.call('SREM', ARGV[2] .. old .. ARGV[3], ARGV[1])
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1`;

/** Claims a process that stopped beating: only the sweeper whose ZREM succeeds gets its calls. */
const CLAIM_DEAD = `
local beat = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not beat or tonumber(beat) > tonumber(ARGV[2]) then return false end
redis.call('ZREM', KEYS[1], ARGV[1])
local calls = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[2], KEYS[4])
local mine = {}
for _, sid in ipairs(calls) do
  if redis.call('HGET', KEYS[3], sid) == ARGV[1] then
    redis.call('HDEL', KEYS[3], sid)
    table.insert(mine, sid)
  end
end
return mine`;

/** A clean exit: forgotten at once unless calls are left, which the other processes then end as lost. */
const LEAVE = `
redis.call('DEL', KEYS[3])
if redis.call('SCARD', KEYS[2]) == 0 then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1`;

export class RedisCallHolders implements CallHolders, ProcessRegistry {
  readonly processId: string;
  private readonly callsTemplate: [string, string];

  constructor(private readonly redis: RedisConnection) {
    this.processId = redis.processId;
    this.callsTemplate = template((id) => redis.keys.processCalls(id));
  }

  async hold(callSid: string): Promise<void> {
    const { keys } = this.redis;
    await this.redis.command.eval(
      HOLD,
      2,
      keys.callHolders(),
      keys.processCalls(this.processId),
      callSid,
      this.processId,
      ...this.callsTemplate,
    );
  }

  async release(callSid: string): Promise<void> {
    await this.redis.command.eval(RELEASE, 1, this.redis.keys.callHolders(), callSid, ...this.callsTemplate);
  }

  async holderOf(callSid: string): Promise<string | undefined> {
    return (await this.redis.command.hget(this.redis.keys.callHolders(), callSid)) ?? undefined;
  }

  async beat(nowMs: number): Promise<void> {
    await this.redis.command.zadd(this.redis.keys.processes(), nowMs, this.processId);
  }

  async liveProcesses(cutoffMs: number): Promise<string[]> {
    return this.redis.command.zrangebyscore(this.redis.keys.processes(), `(${cutoffMs}`, '+inf');
  }

  async deadProcesses(cutoffMs: number): Promise<string[]> {
    return this.redis.command.zrangebyscore(this.redis.keys.processes(), '-inf', cutoffMs);
  }

  async claimDead(processId: string, cutoffMs: number): Promise<string[] | undefined> {
    const { keys } = this.redis;
    const result = (await this.redis.command.eval(
      CLAIM_DEAD,
      4,
      keys.processes(),
      keys.processCalls(processId),
      keys.callHolders(),
      keys.processPresence(processId),
      processId,
      String(cutoffMs),
    )) as string[] | null;
    return result ?? undefined;
  }

  async leave(): Promise<void> {
    const { keys } = this.redis;
    await this.redis.command.eval(
      LEAVE,
      3,
      keys.processes(),
      keys.processCalls(this.processId),
      keys.processPresence(this.processId),
      this.processId,
    );
  }
}
