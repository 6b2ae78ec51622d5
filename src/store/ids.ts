import { randomFillSync } from 'node:crypto';

/**
 * Ids that sort by creation time as plain strings (cursor pagination orders by
 * id): prefix, 12 hex digits of epoch ms, a 4-digit per-process sequence for ids
 * made in the same millisecond, and random hex so processes never collide.
 */
let lastMs = 0;
let seq = 0;

/**
 * The random part comes from a pool filled 4 KB at a time: one `randomBytes` call per id cost
 * more than the rest of the id (the call history gives every event one, bench/README.md#call-history-writer).
 */
const RANDOM_BYTES = 5;
const POOL_SIZE = 4096 - (4096 % RANDOM_BYTES);
const pool = Buffer.alloc(POOL_SIZE);
let poolAt = POOL_SIZE;

export function newId(prefix: string, nowMs: number = Date.now()): string {
  if (nowMs > lastMs) {
    lastMs = nowMs;
    seq = 0;
  } else {
    seq = (seq + 1) & 0xffff;
    if (seq === 0) lastMs += 1;
  }
  return `${prefix}_${lastMs.toString(16).padStart(12, '0')}${seq.toString(16).padStart(4, '0')}${randomHex()}`;
}

function randomHex(): string {
  if (poolAt === POOL_SIZE) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const hex = pool.toString('hex', poolAt, poolAt + RANDOM_BYTES);
  poolAt += RANDOM_BYTES;
  return hex;
}
