import { randomBytes } from 'node:crypto';

/**
 * Ids that sort by creation time as plain strings (cursor pagination orders by
 * id): prefix, 12 hex digits of epoch ms, a 4-digit per-process sequence for ids
 * made in the same millisecond, and random hex so processes never collide.
 */
let lastMs = 0;
let seq = 0;

export function newId(prefix: string, nowMs: number = Date.now()): string {
  if (nowMs > lastMs) {
    lastMs = nowMs;
    seq = 0;
  } else {
    seq = (seq + 1) & 0xffff;
    if (seq === 0) lastMs += 1;
  }
  return `${prefix}_${lastMs.toString(16).padStart(12, '0')}${seq.toString(16).padStart(4, '0')}${randomBytes(5).toString('hex')}`;
}
