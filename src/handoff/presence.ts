/**
 * Who is online (docs/people.md#presence-and-the-workspace-socket): a person is online while at least
 * one workspace connection of theirs is open and beating. The port lets Redis
 * hold it when scaled out (a hash per process, expiring with the heartbeat);
 * the in-process version serves a single server.
 */
export interface PresenceStore {
  connect(staffId: string, connectionId: string, nowMs: number): Promise<void>;
  disconnect(staffId: string, connectionId: string): Promise<void>;
  /** Everyone online now. */
  onlineIds(): Promise<string[]>;
  isOnline(staffId: string): Promise<boolean>;
}

export class InMemoryPresence implements PresenceStore {
  private readonly connections = new Map<string, Set<string>>();

  async connect(staffId: string, connectionId: string): Promise<void> {
    const set = this.connections.get(staffId) ?? new Set<string>();
    set.add(connectionId);
    this.connections.set(staffId, set);
  }

  async disconnect(staffId: string, connectionId: string): Promise<void> {
    const set = this.connections.get(staffId);
    if (!set) return;
    set.delete(connectionId);
    if (set.size === 0) this.connections.delete(staffId);
  }

  async onlineIds(): Promise<string[]> {
    return [...this.connections.keys()];
  }

  async isOnline(staffId: string): Promise<boolean> {
    return this.connections.has(staffId);
  }
}
