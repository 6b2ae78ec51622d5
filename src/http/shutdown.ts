import type { FastifyInstance } from 'fastify';
import type { Container } from '../container.js';
import { drainCalls, type DrainSummary } from '../pipeline/drain.js';

/**
 * The designed shutdown (SIGTERM/SIGINT), in this order:
 * 1. `/ready` answers 503 at once, so the load balancer stops sending calls;
 *    new `/twilio/voice` calls get the agent's unavailable TwiML and Twilio's
 *    callbacks for calls in progress keep working (see src/app.ts and the
 *    Twilio routes);
 * 2. live calls get up to SHUTDOWN_DRAIN_MS to end, then hear a short goodbye
 *    and are hung up (src/pipeline/drain.ts);
 * 3. the call history is flushed to SQL;
 * 4. the HTTP server and the container close, and the process exits 0.
 * If any of it hangs, the process exits 1 after the drain time plus
 * CLOSE_GRACE_MS, so a stuck close cannot keep a dead server around.
 */

/** Time after the drain for the goodbyes, the history flush and closing. */
export const CLOSE_GRACE_MS = 10_000;

export interface ShutdownOptions {
  app: FastifyInstance;
  container: Container;
  /** Ends the process (process.exit in production). */
  exit(code: number): void;
  /** Closes the server and the container; by default `app.close()` then `container.close()`. */
  close?: () => Promise<void>;
}

export interface Shutdown {
  /** Starts the shutdown (once; later calls return the same promise). */
  begin(signal: string): Promise<DrainSummary>;
}

export function createShutdown(options: ShutdownOptions): Shutdown {
  const { app, container } = options;
  const { logger, clock, config } = container;
  const close =
    options.close ??
    (async () => {
      await app.close();
      await container.close();
    });
  let running: Promise<DrainSummary> | undefined;

  const run = async (signal: string): Promise<DrainSummary> => {
    container.readiness.shuttingDown = true;
    logger.info({ signal, drainMs: config.SHUTDOWN_DRAIN_MS }, 'draining');
    const force = clock.setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting');
      options.exit(1);
    }, config.SHUTDOWN_DRAIN_MS + CLOSE_GRACE_MS);
    let summary: DrainSummary = { seen: 0, stopped: 0 };
    try {
      summary = await drainCalls({ live: container.telephony.sessions, clock, drainMs: config.SHUTDOWN_DRAIN_MS, logger });
      await container.callRecorder.flush();
      await close();
      logger.info({ ...summary }, 'stopped');
    } catch (err) {
      logger.error({ err }, 'error during shutdown');
    } finally {
      force.cancel();
    }
    options.exit(0);
    return summary;
  };

  return {
    begin(signal) {
      running ??= run(signal);
      return running;
    },
  };
}
