/**
 * Agent changes that affect which flow answers a call (activation, deactivation,
 * switch, rollback, unavailable behaviour, number assignments, deletion). Caches
 * subscribe and drop what they hold, so the next call sees the change at once.
 * In-process now; with REDIS_URL a pub/sub implementation of the same port
 * carries changes to the other processes.
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
  publish(change: AgentChange): void;
  /** Returns the unsubscribe function. */
  subscribe(listener: (change: AgentChange) => void): () => void;
}

export class InProcessAgentChanges implements AgentChanges {
  private readonly listeners = new Set<(change: AgentChange) => void>();

  publish(change: AgentChange): void {
    for (const l of [...this.listeners]) {
      try {
        l(change);
      } catch {
        // A failing subscriber must not stop the others from hearing the change.
      }
    }
  }

  subscribe(listener: (change: AgentChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
