import type { Clock, TimerHandle } from '../core/clock.js';
import { HEARTBEAT_INTERVAL_MS, heartbeatStep, nextCheckAt, type HeartbeatState } from './heartbeat.js';
import type { PresenceStore } from './presence.js';

/**
 * The people's side of the workspace socket (`WS /api/v1/workspace`): every open
 * connection, its heartbeat, presence, and what is pushed to the person. The
 * HTTP route adapts a WebSocket to `WorkspaceSocket`; nothing here knows `ws`.
 */
export type WorkspaceMessage =
  | { type: 'hello'; staffId: string; heartbeatIntervalMs: number }
  /** The person's own account changed (the staff view, as GET /me shows it). */
  | { type: 'account'; staff: unknown }
  /**
   * Calls in progress the person may see, and transfer offers. The handoff work
   * pushes these through `WorkspaceHub.push`; numbers are masked per viewer before.
   */
  | { type: 'calls'; items: unknown[] }
  | { type: 'transfer.offer'; offer: unknown }
  | { type: 'error'; message: string };

/** Close codes the client can act on. */
export const WORKSPACE_CLOSE = {
  /** Two heartbeats missed: reconnect. */
  heartbeatMissed: 4000,
  /** Signed out, disabled, removed or deleted: sign in again (or stop). */
  accessEnded: 4001,
  /** Server shutting down. */
  goingAway: 1001,
} as const;

export interface WorkspaceSocket {
  send(message: WorkspaceMessage): void;
  close(code: number, reason: string): void;
}

interface Connection {
  id: string;
  staffId: string;
  sessionId: string | undefined;
  socket: WorkspaceSocket;
  heartbeat: HeartbeatState;
  timer: TimerHandle | undefined;
  closed: boolean;
}

export class WorkspaceHub {
  private readonly connections = new Map<string, Connection>();
  private seq = 0;

  constructor(
    private readonly deps: {
      presence: PresenceStore;
      clock: Clock;
      /** Presence changes, e.g. to log or to push to other people later. */
      onPresence?: (staffId: string, online: boolean) => void;
    },
  ) {}

  /** Registers an open socket; returns the handle its events are fed to. */
  async open(staffId: string, sessionId: string | undefined, socket: WorkspaceSocket) {
    const nowMs = this.deps.clock.now();
    const conn: Connection = {
      id: `wsc_${++this.seq}`,
      staffId,
      sessionId,
      socket,
      heartbeat: heartbeatStep(undefined, { type: 'opened' }, nowMs),
      timer: undefined,
      closed: false,
    };
    this.connections.set(conn.id, conn);
    const wasOnline = await this.deps.presence.isOnline(staffId);
    await this.deps.presence.connect(staffId, conn.id, this.deps.clock.wallNow());
    if (!wasOnline) this.deps.onPresence?.(staffId, true);
    this.schedule(conn);
    socket.send({ type: 'hello', staffId, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS });
    return {
      id: conn.id,
      beat: () => {
        if (conn.closed) return;
        conn.heartbeat = heartbeatStep(conn.heartbeat, { type: 'beat' }, this.deps.clock.now());
        this.schedule(conn);
      },
      /** The socket closed on its own (client left, network gone). */
      closed: () => this.drop(conn),
    };
  }

  /** Sends to every open connection of the person. */
  push(staffId: string, message: WorkspaceMessage): void {
    for (const c of this.connections.values()) if (c.staffId === staffId && !c.closed) c.socket.send(message);
  }

  /** Closes every connection of the person (access ended). */
  async endFor(staffId: string, reason: string): Promise<void> {
    for (const c of [...this.connections.values()]) {
      if (c.staffId === staffId) await this.closeConnection(c, WORKSPACE_CLOSE.accessEnded, reason);
    }
  }

  /** Closes the connections opened with this sign-in (logout). */
  async endSession(sessionId: string, reason: string): Promise<void> {
    for (const c of [...this.connections.values()]) {
      if (c.sessionId === sessionId) await this.closeConnection(c, WORKSPACE_CLOSE.accessEnded, reason);
    }
  }

  async closeAll(): Promise<void> {
    for (const c of [...this.connections.values()]) await this.closeConnection(c, WORKSPACE_CLOSE.goingAway, 'server shutting down');
  }

  get size(): number {
    return this.connections.size;
  }

  /** People with at least one open connection (whom pushes reach). */
  connectedStaffIds(): string[] {
    return [...new Set([...this.connections.values()].filter((c) => !c.closed).map((c) => c.staffId))];
  }

  private schedule(conn: Connection): void {
    conn.timer?.cancel();
    const dueInMs = Math.max(0, nextCheckAt(conn.heartbeat) - this.deps.clock.now());
    conn.timer = this.deps.clock.setTimeout(() => void this.tick(conn), dueInMs);
  }

  private async tick(conn: Connection): Promise<void> {
    if (conn.closed) return;
    conn.heartbeat = heartbeatStep(conn.heartbeat, { type: 'tick' }, this.deps.clock.now());
    if (conn.heartbeat.offline) await this.closeConnection(conn, WORKSPACE_CLOSE.heartbeatMissed, 'heartbeats missed');
    else this.schedule(conn);
  }

  private async closeConnection(conn: Connection, code: number, reason: string): Promise<void> {
    if (conn.closed) return;
    await this.drop(conn);
    conn.socket.close(code, reason);
  }

  private async drop(conn: Connection): Promise<void> {
    if (conn.closed) return;
    conn.closed = true;
    conn.timer?.cancel();
    this.connections.delete(conn.id);
    await this.deps.presence.disconnect(conn.staffId, conn.id);
    if (!(await this.deps.presence.isOnline(conn.staffId))) this.deps.onPresence?.(conn.staffId, false);
  }
}
