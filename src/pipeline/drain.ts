import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { CallHandle } from './call.js';

/**
 * The shutdown drain of live calls: every call gets up to `drainMs` to end on
 * its own (calls that start meanwhile, from webhooks answered before the
 * shutdown, count too); the calls still live then are stopped with
 * `shutdown` (a short goodbye, then hang up) and awaited.
 */
export interface DrainOptions {
  live: Map<string, CallHandle>;
  clock: Clock;
  drainMs: number;
  logger: Logger;
}

export interface DrainSummary {
  /** Calls that were live when the drain began or started during it. */
  seen: number;
  /** Calls stopped with `shutdown` at the deadline. */
  stopped: number;
}

export async function drainCalls({ live, clock, drainMs, logger }: DrainOptions): Promise<DrainSummary> {
  const seen = new Set(live.keys());
  let deadlinePassed = false;
  let onDeadline = () => {};
  const deadline = new Promise<void>((resolve) => (onDeadline = resolve));
  const timer = clock.setTimeout(() => {
    deadlinePassed = true;
    onDeadline();
  }, drainMs);
  logger.info({ liveCalls: live.size, drainMs }, 'draining live calls');
  const over = new Set<CallHandle>();
  const stillLive = () => [...live.values()].filter((h) => !over.has(h));
  try {
    for (let handles = stillLive(); handles.length > 0 && !deadlinePassed; handles = stillLive()) {
      for (const h of handles) {
        seen.add(h.callSid);
        void h.done.then(() => over.add(h));
      }
      await Promise.race([Promise.all(handles.map((h) => h.done)), deadline]);
    }
  } finally {
    timer.cancel();
  }
  const remaining = stillLive();
  for (const h of remaining) seen.add(h.callSid);
  if (remaining.length > 0) logger.warn({ calls: remaining.length }, 'drain time is up; saying goodbye to calls still live');
  await Promise.all(
    remaining.map((h) => h.stop('shutdown').catch((err: unknown) => logger.error({ err, callSid: h.callSid }, 'stopping a call failed'))),
  );
  return { seen: seen.size, stopped: remaining.length };
}
