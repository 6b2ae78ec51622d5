import { systemClock, type Clock } from '../core/clock.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { Flow } from '../flow/schema.js';
import type { VoiceSpec } from '../providers/tts/port.js';
import { ACTIVATION_WARM_TIMEOUT_MS, voiceKey, type PhraseCache, type WarmResult } from './phrase-cache.js';
import { staticPhrasesOf } from './static-phrases.js';

/**
 * When the static-phrase cache is filled (docs/architecture.md#static-phrase-cache): in the background after a
 * publish, within 15 s of an activation, switch or rollback (the request then
 * answers anyway), and for every served version before `/ready` at start-up.
 * The voice of a flow is resolved exactly as the call pipeline resolves it
 * (`voiceFor`), or the cached audio would never be found.
 */

/**
 * Start-up waits this long at most before `/ready`: a dead TTS provider must not
 * keep the server out of the load balancer. Fills still running go on after.
 */
export const STARTUP_WARM_TIMEOUT_MS = 60_000;

/** What a warm-up did, as the HTTP API and the logs report it. */
export interface WarmSummary {
  total: number;
  cached: number;
  synthesized: number;
  failed: number;
  timedOut: boolean;
}

/** A version that answers calls now. */
export interface ServedFlow {
  agentId: string;
  slug: string;
  version: number;
  flow: Flow;
}

export interface PhraseWarmerOptions {
  cache: Pick<PhraseCache, 'warm'>;
  voiceFor: (flow: Flow) => VoiceSpec;
  /** Set when warming cannot work (e.g. "ELEVENLABS_API_KEY is not set"); every warm is then skipped. */
  disabledReason?: string;
  clock?: Clock;
  logger?: Logger;
}

export class PhraseWarmer {
  private readonly cache: Pick<PhraseCache, 'warm'>;
  private readonly voiceFor: (flow: Flow) => VoiceSpec;
  private readonly clock: Clock;
  private readonly logger: Logger;
  /** Aborted on close so background fills stop before the store closes. */
  private readonly closing = new AbortController();
  private readonly background = new Set<Promise<unknown>>();
  readonly disabledReason: string | undefined;

  constructor(options: PhraseWarmerOptions) {
    this.cache = options.cache;
    this.voiceFor = options.voiceFor;
    this.disabledReason = options.disabledReason;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
  }

  get enabled(): boolean {
    return this.disabledReason === undefined;
  }

  /** Fills the flow's static phrases; undefined when warming is disabled. Never throws. */
  async warmFlow(flow: Flow, options: { timeoutMs?: number } = {}): Promise<WarmSummary | undefined> {
    if (!this.enabled || this.closing.signal.aborted) return undefined;
    try {
      const result = await this.cache.warm(staticPhrasesOf(flow), this.voiceFor(flow), {
        signal: this.closing.signal,
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      });
      return summaryOf(result);
    } catch (err) {
      // warm() counts failures itself; this is a bug or a closed store, not a reason to fail a request.
      this.logger.error({ err }, 'warming static phrases failed');
      return undefined;
    }
  }

  /**
   * After a publish: fills the new version's phrases without anyone waiting.
   * The returned promise (for tests) always resolves.
   */
  warmInBackground(target: ServedFlow): Promise<WarmSummary | undefined> {
    const run = this.warmFlow(target.flow).then((summary) => {
      if (summary) this.report(summary, target, 'publish');
      return summary;
    });
    this.background.add(run);
    void run.finally(() => this.background.delete(run));
    return run;
  }

  /** Activation, switch or rollback: waits up to 15 s for the served version's phrases. */
  async warmForActivation(target: ServedFlow): Promise<WarmSummary | undefined> {
    const summary = await this.warmFlow(target.flow, { timeoutMs: ACTIVATION_WARM_TIMEOUT_MS });
    if (summary) this.report(summary, target, 'activation');
    return summary;
  }

  /**
   * Start-up: every served version, one voice at a time (so the cache's
   * concurrency limit holds), within `timeoutMs` overall. Returns what was done;
   * fills still running when time is up continue in the background.
   */
  async warmAtStartup(served: readonly ServedFlow[], options: { timeoutMs?: number } = {}): Promise<WarmSummary | undefined> {
    if (!this.enabled) {
      this.logger.warn({ reason: this.disabledReason }, 'static phrases not cached at start-up');
      return undefined;
    }
    const deadline = this.clock.now() + (options.timeoutMs ?? STARTUP_WARM_TIMEOUT_MS);
    // Phrases with the same voice go in one batch: shared greetings are counted once.
    const byVoice = new Map<string, { voice: VoiceSpec; phrases: Set<string> }>();
    for (const s of served) {
      const voice = this.voiceFor(s.flow);
      const key = voiceKey(voice);
      const group = byVoice.get(key) ?? { voice, phrases: new Set<string>() };
      for (const p of staticPhrasesOf(s.flow)) group.phrases.add(p);
      byVoice.set(key, group);
    }
    const total: WarmSummary = { total: 0, cached: 0, synthesized: 0, failed: 0, timedOut: false };
    for (const { voice, phrases } of byVoice.values()) {
      const remainingMs = deadline - this.clock.now();
      if (remainingMs <= 0 || this.closing.signal.aborted) {
        total.total += phrases.size;
        total.timedOut = true;
        continue;
      }
      const r = await this.cache.warm([...phrases], voice, { timeoutMs: remainingMs, signal: this.closing.signal });
      total.total += r.total;
      total.cached += r.cached;
      total.synthesized += r.synthesized;
      total.failed += r.failed;
      total.timedOut ||= r.timedOut;
      if (r.errors.length > 0) this.logger.warn({ errors: r.errors.slice(0, 3).map((e) => e.message) }, 'some static phrases could not be cached');
    }
    const log = total.failed > 0 || total.timedOut ? this.logger.warn.bind(this.logger) : this.logger.info.bind(this.logger);
    log({ ...total, versions: served.length }, 'static phrases warmed at start-up');
    return total;
  }

  /** Stops background fills (shutdown) and waits for them to notice. */
  async close(): Promise<void> {
    this.closing.abort();
    await Promise.allSettled([...this.background]);
  }

  private report(summary: WarmSummary, target: ServedFlow, when: 'publish' | 'activation'): void {
    const fields = { ...summary, agentId: target.agentId, slug: target.slug, version: target.version, when };
    if (summary.failed > 0 || summary.timedOut) this.logger.warn(fields, 'static phrases partly cached');
    else this.logger.info(fields, 'static phrases cached');
  }
}

function summaryOf(r: WarmResult): WarmSummary {
  return { total: r.total, cached: r.cached, synthesized: r.synthesized, failed: r.failed, timedOut: r.timedOut };
}

/** The part of the agents service start-up needs: pages of agents and their versions. */
export interface ServedFlowSource {
  list(page: { limit: number; cursor?: string | undefined }): Promise<{
    items: { id: string; slug: string; state: string; servedVersion: number | null }[];
    nextCursor: string | null;
  }>;
  getVersion(agentId: string, version: number): Promise<{ flow: Flow }>;
}

/** Every active agent's served version. */
export async function servedFlowsOf(agents: ServedFlowSource): Promise<ServedFlow[]> {
  const served: ServedFlow[] = [];
  let cursor: string | undefined;
  do {
    const page = await agents.list({ limit: 100, cursor });
    for (const a of page.items) {
      if (a.state !== 'active' || a.servedVersion === null) continue;
      const v = await agents.getVersion(a.id, a.servedVersion);
      served.push({ agentId: a.id, slug: a.slug, version: a.servedVersion, flow: v.flow });
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return served;
}
