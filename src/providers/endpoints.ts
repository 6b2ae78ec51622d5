import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { CircuitBreaker, DEFAULT_BREAKER_POLICY, type BreakerPolicy, type BreakerState } from './breaker.js';
import type { ProviderError, ProviderName, ProviderStage } from './errors.js';

/**
 * One provider endpoint (a stage's primary or secondary) with its circuit
 * breaker, and the registry `/ready` reads. The failover ports
 * (llm/failover.ts, tts/failover.ts, stt/failover.ts) ask an endpoint before
 * each request and report how it went.
 */

export type EndpointRole = 'primary' | 'secondary';

export interface EndpointStatus {
  stage: ProviderStage;
  role: EndpointRole;
  provider: ProviderName;
  state: BreakerState;
  /** Failures in a row. */
  failures: number;
}

/**
 * Whether a failure says something about the endpoint. A refused request
 * (`bad_request`: our payload, e.g. a flow's unknown model) would fail anywhere
 * and must not open the breaker for every other call; nor must a timeout that
 * expired while our own loop was late beyond what its deadline forgives
 * (`ownLatenessMs`): under overload that would turn a few late answers into every
 * call failing at once on the open circuit.
 */
export function countsAgainstEndpoint(err: ProviderError): boolean {
  return err.kind !== 'bad_request' && !((err.ownLatenessMs ?? 0) > 0);
}

export class ProviderEndpoint {
  readonly breaker: CircuitBreaker;

  constructor(
    readonly stage: ProviderStage,
    readonly role: EndpointRole,
    readonly provider: ProviderName,
    private readonly clock: Clock,
    logger: Logger,
    policy: BreakerPolicy = DEFAULT_BREAKER_POLICY,
  ) {
    const log = logger.child({ component: 'provider.breaker', stage, role, provider });
    this.breaker = new CircuitBreaker(policy, ({ from, to, failures }) => {
      if (to === 'open') log.warn({ from, failures, openMs: policy.openMs }, `${stage} ${role} circuit opened: requests skip it`);
      else if (to === 'half_open') log.info({ from }, `${stage} ${role} circuit half-open: the next request probes it`);
      else log.info({ from }, `${stage} ${role} circuit closed: serving again`);
    });
  }

  tryAcquire(): boolean {
    return this.breaker.tryAcquire(this.clock.now());
  }

  success(): void {
    this.breaker.success();
  }

  /** Reports a failed request; one the endpoint is not to blame for only frees a probe slot. */
  failure(err: ProviderError): void {
    if (countsAgainstEndpoint(err)) this.breaker.failure(this.clock.now());
    else this.breaker.release();
  }

  release(): void {
    this.breaker.release();
  }

  status(): EndpointStatus {
    return {
      stage: this.stage,
      role: this.role,
      provider: this.provider,
      state: this.breaker.state(this.clock.now()),
      failures: this.breaker.failures,
    };
  }
}

export type StageHealth = 'ok' | 'degraded' | 'failing';

export interface ProviderHealthReport {
  /** `degraded` when any stage is not `ok`. */
  status: 'ok' | 'degraded';
  /**
   * Per stage: `ok` (the primary's breaker is closed), `degraded` (the primary is
   * skipped and a secondary serves), `failing` (no endpoint of the stage is closed:
   * calls get the flow's fallback for that stage until a probe succeeds).
   */
  stages: Partial<Record<ProviderStage, StageHealth>>;
  endpoints: EndpointStatus[];
}

/** Every endpoint of the process, for `/ready`. */
export class ProviderHealth {
  private readonly endpoints: ProviderEndpoint[] = [];

  add(endpoint: ProviderEndpoint): ProviderEndpoint {
    this.endpoints.push(endpoint);
    return endpoint;
  }

  report(): ProviderHealthReport {
    const endpoints = this.endpoints.map((e) => e.status());
    const stages: Partial<Record<ProviderStage, StageHealth>> = {};
    for (const stage of ['stt', 'llm', 'tts'] as const) {
      const mine = endpoints.filter((e) => e.stage === stage);
      if (mine.length === 0) continue;
      const primary = mine.find((e) => e.role === 'primary');
      if (!primary || primary.state === 'closed') stages[stage] = 'ok';
      else stages[stage] = mine.some((e) => e.role === 'secondary' && e.state === 'closed') ? 'degraded' : 'failing';
    }
    const status = Object.values(stages).every((s) => s === 'ok') ? 'ok' : 'degraded';
    return { status, stages, endpoints };
  }
}
