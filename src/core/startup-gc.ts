import type { Logger } from './logger.js';

/**
 * One full collection once start-up is over, before the process reads ready
 * (docs/architecture.md#memory). Migrating, importing flows, loading the vendor
 * SDKs and warming the phrase cache leave ~60 MB of garbage in the old
 * generation. Left alone, V8 collects it at its first mark-compact some 20 s
 * later, in the middle of the first calls' turns: measured in the bench, a
 * stall of 100–240 ms for every turn in progress at that moment. Collected
 * here, it costs no call anything.
 *
 * Needs `--expose-gc` (`npm start`, the Dockerfile and the cluster's children
 * pass it); without it this does nothing and says so at debug level.
 */
export interface StartupCollection {
  heapUsedBeforeMb: number;
  heapUsedAfterMb: number;
  ms: number;
}

type Collect = () => void;

/** `collect`: V8's full collection (`exposedGc()`), undefined when the flag is missing. */
export function collectStartupGarbage(logger: Logger, collect: Collect | undefined): StartupCollection | undefined {
  if (!collect) {
    logger.debug('start-up garbage left to V8: the process was not started with --expose-gc');
    return undefined;
  }
  const before = process.memoryUsage().heapUsed;
  const started = performance.now();
  collect();
  const result: StartupCollection = {
    heapUsedBeforeMb: Math.round(before / 2 ** 20),
    heapUsedAfterMb: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    ms: Math.round(performance.now() - started),
  };
  logger.info(result, 'start-up garbage collected');
  return result;
}

/** The `gc` global that `--expose-gc` installs, if it is there. */
export function exposedGc(): Collect | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as Collect) : undefined;
}
