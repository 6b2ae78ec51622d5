import type { OutboundLimits } from '../../agents/types.js';
import { RATE_WINDOW_MS, type Admission } from '../../outbound/admission.js';
import type { OutboundSlots } from '../../outbound/slots.js';
import type { RedisConnection } from './connection.js';

/**
 * Outbound limits shared by every process (docs/outbound.md#limits): per agent,
 * a hash of the requests holding a slot (→ the process that dialled them) and a
 * sorted set of dial starts in the last minute. Checking and taking is one Lua
 * script, so two processes racing for the last slot cannot both win. A slot
 * whose process stopped beating (it died with the call) is freed in the same
 * script, so a crash never leaks the agent's capacity.
 */
const TAKE = `
local active, starts, processes = KEYS[1], KEYS[2], KEYS[3]
local requestId, processId = ARGV[1], ARGV[2]
local now, window = tonumber(ARGV[3]), tonumber(ARGV[4])
local maxConcurrent, perMinute, liveAfter = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', starts, '-inf', now - window)
local held = redis.call('HGETALL', active)
local n = 0
for i = 1, #held, 2 do
  local owner = held[i + 1]
  local beat = redis.call('ZSCORE', processes, owner)
  if owner == processId or (beat and tonumber(beat) > liveAfter) then
    n = n + 1
  else
    redis.call('HDEL', active, held[i])
  end
end
if n >= maxConcurrent then return {0, 'concurrency', 0} end
if redis.call('ZCARD', starts) >= perMinute then
  local oldest = redis.call('ZRANGE', starts, 0, 0, 'WITHSCORES')
  return {0, 'rate', tostring(tonumber(oldest[2]) + window)}
end
redis.call('HSET', active, requestId, processId)
redis.call('ZADD', starts, now, requestId)
redis.call('PEXPIRE', starts, window)
return {1, 'ok', 0}
`;

export class RedisOutboundSlots implements OutboundSlots {
  readonly shared = true;

  constructor(
    private readonly redis: RedisConnection,
    /** A process silent this long holds no slots any more (PROCESS_HEARTBEAT_TIMEOUT_MS). */
    private readonly heartbeatTimeoutMs: number,
  ) {}

  async take(agentId: string, requestId: string, limits: OutboundLimits, nowMs: number): Promise<Admission> {
    const { keys, processId } = this.redis;
    const [ok, reason, retryAt] = (await this.redis.command.eval(
      TAKE,
      3,
      keys.outboundActive(agentId),
      keys.outboundStarts(agentId),
      keys.processes(),
      requestId,
      processId,
      String(nowMs),
      String(RATE_WINDOW_MS),
      String(limits.maxConcurrent),
      String(limits.perMinute),
      String(nowMs - this.heartbeatTimeoutMs),
    )) as [number, string, string | number];
    if (ok === 1) return { ok: true };
    if (reason === 'rate') return { ok: false, reason: 'rate', retryAtMs: Number(retryAt) };
    return { ok: false, reason: 'concurrency' };
  }

  async release(agentId: string, requestId: string): Promise<void> {
    await this.redis.command.hdel(this.redis.keys.outboundActive(agentId), requestId);
  }
}
