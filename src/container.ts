import type { Config } from './config.js';
import { systemClock, type Clock } from './core/clock.js';
import type { Logger } from './core/logger.js';
import { createPersistence, type Persistence } from './store/wiring.js';
import { createTelephony, type Telephony, type TelephonyDeps } from './telephony/wiring.js';

/**
 * The one place that picks implementations: SQLite or PostgreSQL, memory or
 * Redis, real or fake providers. Everything else receives what it needs.
 */
export interface Readiness {
  /** Names of start-up tasks still running (migrations, cache warm-up, …). */
  pending: Set<string>;
  shuttingDown: boolean;
}

export interface Container {
  config: Config;
  logger: Logger;
  clock: Clock;
  readiness: Readiness;
  /** SQL store, agents, numbers, API keys, the agent directory and SECRET_KEY (src/store/wiring.ts). */
  persistence: Persistence;
  /** The Twilio edge and live calls: call ledger, stream tokens, REST client, pacer, speech out. */
  telephony: Telephony;
  /** Closers run in reverse order of registration on shutdown. */
  onClose(fn: () => Promise<void> | void): void;
  close(): Promise<void>;
}

export interface ContainerOverrides {
  clock?: Clock;
  /** Test doubles for the call pipeline (TTS, phrase source, LLM, REST control, transfer path). */
  telephony?: Partial<Omit<TelephonyDeps, 'config' | 'clock' | 'logger'>>;
}

export async function createContainer(
  config: Config,
  logger: Logger,
  overrides: ContainerOverrides = {},
): Promise<Container> {
  const closers: (() => Promise<void> | void)[] = [];
  const clock = overrides.clock ?? systemClock;
  const readiness: Readiness = { pending: new Set(), shuttingDown: false };
  // Migrations and the flows/ import finish before the container is handed out.
  const persistence = await createPersistence({ config, logger, clock, pending: readiness.pending });
  closers.push(() => persistence.close());
  const telephony = createTelephony({
    config,
    clock,
    logger,
    directory: persistence.directory,
    secretKey: persistence.secretKey,
    ...overrides.telephony,
  });
  closers.push(() => telephony.close());
  const container: Container = {
    config,
    logger,
    clock,
    readiness,
    persistence,
    telephony,
    onClose: (fn) => closers.push(fn),
    async close() {
      container.readiness.shuttingDown = true;
      for (const fn of closers.reverse()) {
        try {
          await fn();
        } catch (err) {
          logger.error({ err }, 'error while closing');
        }
      }
    },
  };
  return container;
}
