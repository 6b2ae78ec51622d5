import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { Assignment, type AssignmentStore } from './assignment.js';
import { InMemoryLoginThrottle, type LoginThrottle } from './login-throttle.js';
import type { ScryptCost } from './passwords.js';
import { InMemoryPresence, type PresenceStore } from './presence.js';
import { QueueService, type QueueStore } from './queues.js';
import { SessionService, type SessionStore } from './sessions.js';
import type { StaffStore } from './staff.js';
import { StaffService, type InvitationSender } from './staff-service.js';
import { toStaffView } from './staff-view.js';
import { WorkspaceHub } from './workspace.js';

/**
 * The people side, assembled from its ports: the staff directory, queues,
 * sign-in sessions, presence and the workspace sockets, and assignment. The
 * container passes SQL stores (src/store/people-stores.ts) and, when scaled out,
 * Redis-backed presence and login throttle.
 */
export interface PeopleStores {
  staff: StaffStore & { existing(ids: readonly string[]): Promise<Set<string>>; countHandledCallsSince(sinceMs: number): Promise<number> };
  queues: QueueStore;
  sessions: SessionStore;
  assignment: AssignmentStore;
}

export interface PeopleDeps {
  stores: PeopleStores;
  clock: Clock;
  logger: Logger;
  newId: (prefix: string, nowMs: number) => string;
  secretKey: string;
  publicUrl: string;
  seatLimit: number | undefined;
  presence?: PresenceStore;
  throttle?: LoginThrottle;
  invitations?: InvitationSender;
  /** scrypt cost of new passwords (default DEFAULT_SCRYPT_COST); tests use a cheap one. */
  passwordCost?: ScryptCost;
}

export interface People {
  staff: StaffService;
  queues: QueueService;
  sessions: SessionService;
  presence: PresenceStore;
  workspace: WorkspaceHub;
  assignment: Assignment;
  close(): Promise<void>;
}

export function createPeople(deps: PeopleDeps): People {
  const { stores, clock, logger, newId } = deps;
  const presence = deps.presence ?? new InMemoryPresence();
  const workspace = new WorkspaceHub({
    presence,
    clock,
    onPresence: (staffId, online) => logger.info({ staffId, online }, 'presence changed'),
  });
  const pushAccount = async (staffIds: readonly string[]) => {
    for (const id of staffIds) {
      const s = await stores.staff.get(id);
      if (s) workspace.push(id, { type: 'account', staff: toStaffView(s, await presence.isOnline(id)) });
    }
  };
  const staff = new StaffService({
    store: stores.staff,
    queues: stores.queues,
    clock,
    newId,
    seatLimit: deps.seatLimit,
    publicUrl: deps.publicUrl,
    handledCallsSince: (since) => stores.staff.countHandledCallsSince(since),
    ...(deps.invitations ? { invitations: deps.invitations } : {}),
    ...(deps.passwordCost ? { passwordCost: deps.passwordCost } : {}),
  });
  const queues = new QueueService({
    store: stores.queues,
    staffExists: (ids) => stores.staff.existing(ids),
    clock,
    newId,
    onMembersChanged: pushAccount,
  });
  const sessions = new SessionService({
    sessions: stores.sessions,
    staff: stores.staff,
    throttle: deps.throttle ?? new InMemoryLoginThrottle(),
    clock,
    secretKey: deps.secretKey,
    newId,
    ...(deps.passwordCost ? { passwordCost: deps.passwordCost } : {}),
  });
  // Access ends at once: sessions deleted, sockets closed, before the admin's request returns.
  staff.onChange(async (change) => {
    if (change.kind === 'access_ended') {
      const ended = await sessions.endAllFor(change.staffId);
      await workspace.endFor(change.staffId, `account ${change.reason}`);
      logger.info({ staffId: change.staffId, reason: change.reason, sessionsEnded: ended }, 'staff access ended');
    } else {
      workspace.push(change.staff.id, { type: 'account', staff: toStaffView(change.staff, await presence.isOnline(change.staff.id)) });
    }
  });
  const assignment = new Assignment({ store: stores.assignment, presence, clock });
  return {
    staff,
    queues,
    sessions,
    presence,
    workspace,
    assignment,
    close: () => workspace.closeAll(),
  };
}
