import type { Config } from './config.js';
import { systemClock, type Clock } from './core/clock.js';
import type { Logger } from './core/logger.js';
import { createPersistence, type Persistence } from './store/wiring.js';
import { createTelephony, type Telephony, type TelephonyDeps } from './telephony/wiring.js';
import { PhraseCache } from './pipeline/phrase-cache.js';
import { PhraseWarmer, servedFlowsOf, type WarmSummary } from './pipeline/phrase-warmer.js';
import { ElevenLabsTts } from './providers/tts/elevenlabs.js';
import { SqlTtsCacheStore } from './store/tts-cache-repository.js';
import { SqlCallStore } from './store/calls-repo.js';
import { CallRecorder } from './calls/recorder.js';

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
  /** The static-phrase cache calls read (SQL `tts_cache` behind a 64 MB LRU) and when it is filled. */
  phrases: PhraseCache;
  phraseWarmer: PhraseWarmer;
  /** The start-up warm-up of every served version; `/ready` waits for it (pending `phrase-cache`). */
  warmup: Promise<WarmSummary | undefined>;
  /** Call records and events in SQL, written through from the live ledger by `callRecorder`. */
  callHistory: SqlCallStore;
  callRecorder: CallRecorder;
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
  // One TTS port and one static-phrase cache per process, shared by every call.
  const tts =
    overrides.telephony?.tts ??
    new ElevenLabsTts({
      ...(config.ELEVENLABS_API_KEY ? { apiKey: config.ELEVENLABS_API_KEY } : {}),
      ...(config.ELEVENLABS_BASE_URL ? { baseUrl: config.ELEVENLABS_BASE_URL } : {}),
      clock,
    });
  const phrases = new PhraseCache({ tts, store: new SqlTtsCacheStore(persistence.db.db, clock), clock, logger });
  const telephony = createTelephony({
    config,
    clock,
    logger,
    directory: persistence.directory,
    secretKey: persistence.secretKey,
    tts,
    phrases,
    ...overrides.telephony,
  });
  closers.push(() => telephony.close());
  const phraseWarmer = new PhraseWarmer({
    cache: phrases,
    voiceFor: telephony.voiceFor,
    clock,
    logger,
    ...phraseWarmingOff(config, overrides, telephony.phrases === phrases),
  });
  const callHistory = new SqlCallStore(persistence.db.db, clock);
  const callRecorder = new CallRecorder({
    live: telephony.calls.repository,
    bus: telephony.calls.bus,
    history: callHistory,
    clock,
    logger,
  });
  closers.push(() => callRecorder.close());
  const warmup = warmServedAtStartup(phraseWarmer, persistence, readiness, logger);
  closers.push(async () => {
    await phraseWarmer.close();
    await warmup;
  });
  const container: Container = {
    config,
    logger,
    clock,
    readiness,
    persistence,
    telephony,
    phrases,
    phraseWarmer,
    warmup,
    callHistory,
    callRecorder,
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

/** Why the container's phrase cache is not filled, if it is not. */
function phraseWarmingOff(config: Config, overrides: ContainerOverrides, callsUseIt: boolean): { disabledReason?: string } {
  // A caller-supplied phrase source (tests) is the caller's to fill.
  if (!callsUseIt) return { disabledReason: 'the calls use a phrase source supplied by the caller' };
  if (!config.ELEVENLABS_API_KEY && !overrides.telephony?.tts) return { disabledReason: 'ELEVENLABS_API_KEY is not set' };
  return {};
}

/** Fills every served version's phrases before `/ready`; never fails the start. */
function warmServedAtStartup(
  warmer: PhraseWarmer,
  persistence: Persistence,
  readiness: Readiness,
  logger: Logger,
): Promise<WarmSummary | undefined> {
  if (!warmer.enabled) return warmer.warmAtStartup([]);
  readiness.pending.add('phrase-cache');
  return servedFlowsOf(persistence.agents)
    .then((served) => warmer.warmAtStartup(served))
    .catch((err: unknown) => {
      logger.error({ err }, 'start-up phrase warm-up failed; calls will synthesize phrases live');
      return undefined;
    })
    .finally(() => readiness.pending.delete('phrase-cache'));
}
