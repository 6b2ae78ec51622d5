import type { ManualClock } from '../../src/core/clock.js';

/** One real macrotask: lets sockets and fakes on real time make progress between virtual steps. */
export const realTick = () => new Promise<void>((r) => setTimeout(r, 1));

export interface UntilOptions {
  maxMs?: number;
  stepMs?: number;
  what?: string;
}

/**
 * Advances virtual time in steps until `done()` holds, giving real I/O a tick
 * between steps; fails after `maxMs` virtual ms naming what it waited for.
 * `beforeStep`/`afterStep` let a harness settle providers or feed microphones.
 */
export async function untilVirtual(
  clock: ManualClock,
  done: () => boolean | Promise<boolean>,
  opts: UntilOptions & { defaultStepMs: number; beforeStep?: () => Promise<void>; afterStep?: () => void },
): Promise<void> {
  const maxMs = opts.maxMs ?? 60_000;
  const stepMs = opts.stepMs ?? opts.defaultStepMs;
  for (let waited = 0; ; waited += stepMs) {
    if (await done()) return;
    if (waited >= maxMs) throw new Error(`timed out after ${maxMs} virtual ms waiting for ${opts.what ?? 'condition'}`);
    await opts.beforeStep?.();
    await clock.advance(stepMs);
    opts.afterStep?.();
    await realTick();
  }
}
