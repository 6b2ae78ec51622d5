import type { CallRecord } from '../calls/call-record.js';
import type { CallEvent, CallEventBus } from '../calls/events.js';
import type { Logger } from '../core/logger.js';
import type { TransferOffer } from './live-handoff.js';
import { forViewer, type Viewer } from './masking.js';
import type { StaffRecord } from './staff.js';
import type { WorkspaceHub } from './workspace.js';

/**
 * What the workspace socket pushes about calls (docs/people.md#presence-and-the-workspace-socket):
 * the calls in progress, to everyone connected (every role may read calls),
 * after each change of a call's state; and transfer offers, to the one person
 * being rung, followed by how that attempt ended. Numbers are masked per person.
 */
export interface LiveCallView {
  id: string;
  agent: { id: string; slug: string };
  version: number;
  from: string;
  to: string;
  direction: 'inbound' | 'outbound';
  state: CallRecord['state'];
  handler: CallRecord['handler'];
  createdAt: string;
}

/** Control topic: a transfer offer from another process, for the person's sockets open here. */
export const WORKSPACE_OFFER_TOPIC = 'workspace:offer';

const CALL_CHANGES = new Set<CallEvent['type']>(['call.started', 'call.state', 'call.ended']);
const OFFER_OUTCOMES = new Set<CallEvent['type']>([
  'transfer.accepted',
  'transfer.no_answer',
  'transfer.declined',
  'transfer.machine',
  'transfer.caller_hung_up',
  'transfer.failed',
]);

export function liveCallView(r: CallRecord): LiveCallView {
  return {
    id: r.callSid,
    agent: { id: r.agentId, slug: r.slug },
    version: r.version,
    from: r.from,
    to: r.to,
    direction: r.direction,
    state: r.state,
    handler: r.handler,
    createdAt: new Date(r.createdAt).toISOString(),
  };
}

export class WorkspaceFeed {
  private pending: Promise<void> | undefined;
  private again = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly deps: {
      hub: Pick<WorkspaceHub, 'push' | 'connectedStaffIds'>;
      bus: CallEventBus;
      liveCalls(): Promise<CallRecord[]>;
      staff: { get(id: string): Promise<StaffRecord | undefined> };
      logger: Logger;
      /** The other server processes, where the person's socket may be open instead (none in one process). */
      elsewhere?(offer: TransferOffer): void;
    },
  ) {
    // Every process's calls: the person's socket rarely sits on the process holding the call.
    this.unsubscribe = deps.bus.subscribeAll((e) => this.onEvent(e));
  }

  /** A person is about to be rung for a call: pushed to their sockets here and on every other process. */
  offer(offer: TransferOffer): void {
    this.offerHere(offer);
    this.deps.elsewhere?.(offer);
  }

  /** An offer to the person's sockets open on this process (another process's transfer sends it here). */
  offerHere(offer: TransferOffer): void {
    void this.pushTo(offer.staffId, (viewer) => ({ type: 'transfer.offer', offer: forViewer({ ...offer, status: 'ringing' }, viewer) }));
  }

  /** The calls in progress, to one person (e.g. when their socket opens). */
  async sendCallsTo(staffId: string): Promise<void> {
    const items = await this.items();
    await this.pushTo(staffId, (viewer) => ({ type: 'calls', items: forViewer(items, viewer) }));
  }

  close(): void {
    this.unsubscribe();
  }

  private onEvent(e: CallEvent): void {
    if (CALL_CHANGES.has(e.type)) this.schedule();
    if (OFFER_OUTCOMES.has(e.type) && 'staffId' in e && e.staffId) {
      const status = e.type.slice('transfer.'.length);
      void this.pushTo(e.staffId, () => ({ type: 'transfer.offer', offer: { callSid: e.callSid, staffId: e.staffId, status } }));
    }
  }

  /** Coalesces bursts of changes into one push of the whole list. */
  private schedule(): void {
    // Nobody watching: nothing to build (a socket that opens gets the list from sendCallsTo).
    if (this.deps.hub.connectedStaffIds().length === 0) return;
    if (this.pending) {
      this.again = true;
      return;
    }
    this.pending = (async () => {
      do {
        this.again = false;
        await Promise.resolve();
        try {
          const items = await this.items();
          await Promise.all(this.deps.hub.connectedStaffIds().map((id) => this.pushTo(id, (viewer) => ({ type: 'calls', items: forViewer(items, viewer) }))));
        } catch (err) {
          this.deps.logger.warn({ err }, 'pushing calls to the workspace failed');
        }
      } while (this.again);
      this.pending = undefined;
    })();
  }

  private async items(): Promise<LiveCallView[]> {
    return (await this.deps.liveCalls()).filter((r) => r.state !== 'ended').map(liveCallView);
  }

  private async pushTo(staffId: string, build: (viewer: Viewer) => Parameters<WorkspaceHub['push']>[1]): Promise<void> {
    try {
      if (!this.deps.hub.connectedStaffIds().includes(staffId)) return;
      const person = await this.deps.staff.get(staffId);
      if (!person) return;
      this.deps.hub.push(staffId, build({ kind: 'session', role: person.role ?? 'support', showRealPhoneNumbers: person.showRealPhoneNumbers }));
    } catch (err) {
      this.deps.logger.warn({ err, staffId }, 'workspace push failed');
    }
  }
}
