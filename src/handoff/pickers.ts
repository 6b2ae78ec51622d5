import type { Candidate } from './warm-transfer.js';
import type { PeoplePicker } from './transfer-run.js';

/**
 * Who a transfer rings, by target (docs/handoff.md): a queue's people through
 * the assignment module (the longest idle eligible person, their session taken
 * atomically), or the one number of a `{ number }` target.
 */

/** A person as assignment returns them: where they are dialled. */
export interface AssignedPerson {
  staffId: string;
  phone: string | null;
  clientIdentity: string | null;
}

/** `phone` (E.164) or `client:<identity>`, where a person is dialled (docs/handoff.md#warm-transfer). */
export function dialOf(p: AssignedPerson): string | undefined {
  if (p.phone) return p.phone;
  if (p.clientIdentity) return `client:${p.clientIdentity}`;
  return undefined;
}

/**
 * Over assignment: a person with nowhere to dial is given back and skipped
 * (never rung, never chosen again for this transfer).
 */
export function assignmentPicker(assignment: {
  assign(exclude: readonly string[]): Promise<AssignedPerson | undefined>;
  release(staffId: string): Promise<void>;
}): PeoplePicker {
  return {
    async pick(exclude) {
      const skipped: string[] = [];
      for (;;) {
        const p = await assignment.assign([...exclude, ...skipped]);
        if (!p) return undefined;
        const dial = dialOf(p);
        if (dial) return { staffId: p.staffId, dial };
        await assignment.release(p.staffId);
        skipped.push(p.staffId);
      }
    },
    release: (staffId) => assignment.release(staffId),
  };
}

/** A `{ number }` target: that number once; there is no session to give back. */
export function numberPicker(number: string): PeoplePicker {
  const candidate: Candidate = { staffId: `number:${number}`, dial: number };
  return {
    pick: async (exclude) => (exclude.includes(candidate.staffId) ? undefined : candidate),
    release: async () => undefined,
  };
}

/**
 * A `{ queue }` target: the queue (found by name once, on the first pick) offered
 * through assignment; a queue that does not exist has nobody eligible.
 */
export function queuePicker(
  queueName: string,
  deps: {
    findQueueId(name: string): Promise<string | undefined>;
    assign(queueId: string, exclude: readonly string[]): Promise<AssignedPerson | undefined>;
    release(staffId: string): Promise<void>;
  },
): PeoplePicker {
  let queueId: Promise<string | undefined> | undefined;
  return assignmentPicker({
    assign: async (exclude) => {
      queueId ??= deps.findQueueId(queueName);
      const id = await queueId;
      return id === undefined ? undefined : deps.assign(id, exclude);
    },
    release: (staffId) => deps.release(staffId),
  });
}
