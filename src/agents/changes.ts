/**
 * Agent changes that affect which flow answers a call (activation, deactivation,
 * switch, rollback, unavailable behaviour, number assignments, deletion). Caches
 * subscribe and drop what they hold, so the next call sees the change at once.
 * In one process they travel in memory; with REDIS_URL, `RedisAgentChanges`
 * (src/store/redis/agent-changes.ts) carries them to every process.
 */
export interface AgentChange {
  kind: 'lifecycle' | 'updated' | 'deleted' | 'number';
  agentId: string;
  /** The served version after a lifecycle change. */
  servedVersion?: number | null;
  /** The number, for assignment changes. */
  e164?: string;
}

export interface AgentChanges {
  /** Resolves once every process will see the change (its generation is bumped). */
  publish(change: AgentChange): Promise<void>;
  /** Listeners hear changes from every process. Returns the unsubscribe function. */
  subscribe(listener: (change: AgentChange) => void): () => void;
  /**
   * A value that differs after any change anywhere. A lookup cached under one
   * generation is stale under another, which makes caches exact across processes
   * even before a pub/sub message arrives. NaN when it cannot be known (do not cache).
   */
  generation(): Promise<number>;
}

/** Calls each listener; a failing one must not stop the others from hearing the change. */
export function notifyAll(listeners: Iterable<(change: AgentChange) => void>, change: AgentChange): void {
  for (const l of [...listeners]) {
    try {
      l(change);
    } catch {
      /* ignored on purpose */
    }
  }
}

export class InProcessAgentChanges implements AgentChanges {
  private readonly listeners = new Set<(change: AgentChange) => void>();
  private counter = 0;

  async publish(change: AgentChange): Promise<void> {
    this.counter++;
    notifyAll(this.listeners, change);
  }

  subscribe(listener: (change: AgentChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async generation(): Promise<number> {
    return this.counter;
  }
}
