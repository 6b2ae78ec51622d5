import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * Figures of the Node.js process itself: event-loop delay (prom-client's
 * `nodejs_eventloop_lag_*`, measured with perf_hooks.monitorEventLoopDelay),
 * CPU, memory, heap, GC and handles. They belong to the process, not to an app
 * instance, so they are collected once per process (collectDefaultMetrics
 * starts a delay monitor and a GC observer that are never stopped) and every
 * app's registry is merged with this one when scraped.
 */
let shared: Registry | undefined;

export function processRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}
