import type { Container } from '../container.js';
import type { WorkspaceMessage } from '../handoff/workspace.js';
import type { PersonBehaviour, SimCall, TwilioSimulator } from '../testing/twilio-simulator.js';

/**
 * `npm run call -- --handoff`: a warm transfer tried locally. One person (staff)
 * with a phone, in the queue the flow's transfer node names, online in the
 * workspace; their simulated phone answers, hears the brief, presses 1, talks
 * in the conference for a moment and hangs up, which gives the caller back to
 * the AI at the flow's `handoffNode` (docs/handoff.md).
 */

/** The flow `--handoff` runs when no --flow is given: hello, a warm transfer to a queue, welcome back, goodbye. */
export const HANDOFF_DEMO_FLOW = {
  version: 1,
  name: 'Front desk (npm run call --handoff)',
  settings: { handoffNode: 'welcome-back' },
  start: 'hello',
  nodes: [
    { id: 'hello', type: 'say', text: 'Hello, this is the front desk assistant.', next: 'xfer' },
    {
      id: 'xfer',
      type: 'transfer',
      target: { queue: 'front-desk' },
      mode: 'warm',
      announce: 'Let me get a colleague for you.',
      summary: 'A caller asked for a person at the front desk.',
      onUnavailable: 'sorry',
      ringSeconds: 15,
    },
    { id: 'sorry', type: 'end', text: 'Sorry, nobody is free right now. Goodbye.' },
    { id: 'welcome-back', type: 'say', text: 'You are back with the assistant. Anything else?', next: 'bye' },
    { id: 'bye', type: 'end', text: 'Goodbye.' },
  ],
};

/** The person's phone: rings briefly, answers, presses 1 after the brief, leaves after a few seconds. */
export const HANDOFF_PERSON: PersonBehaviour = { pickUp: 'answer', ringMs: 300, press: '1', pressAfterMs: 300, hangUpAfterMs: 3000 };
export const HANDOFF_PERSON_PHONE = '+15550107777';

/** The queue of the flow's first warm/cold transfer node that targets a queue. */
export function transferQueueOf(flow: unknown): string | undefined {
  const nodes = (flow as { nodes?: unknown }).nodes;
  if (!Array.isArray(nodes)) return undefined;
  for (const n of nodes as { type?: unknown; target?: { queue?: unknown } }[]) {
    if (n.type === 'transfer' && typeof n.target?.queue === 'string') return n.target.queue;
  }
  return undefined;
}

export interface HandoffPerson {
  staffId: string;
  displayName: string;
  phone: string;
  queue: string;
  /** What the workspace pushed to the person (offers, call lists). */
  pushes: WorkspaceMessage[];
}

/** Sets up the person: staff record, queue membership, workspace presence, and their simulated phone. */
export async function setUpHandoffPerson(container: Container, sim: TwilioSimulator, queue: string): Promise<HandoffPerson> {
  const people = container.people;
  const staff = await people.staff.create({
    displayName: 'Sam (simulated)',
    username: `sam-${Date.now().toString(36)}`,
    role: 'support',
    password: `call-${Math.random().toString(36).slice(2)}-pw`,
    phone: HANDOFF_PERSON_PHONE,
  });
  const existing = await people.queues.findByName(queue);
  if (existing) await people.queues.update(existing.id, { members: [...existing.members, staff.id] });
  else await people.queues.create({ name: queue, members: [staff.id] });
  const pushes: WorkspaceMessage[] = [];
  await people.workspace.open(staff.id, undefined, { send: (m) => pushes.push(m), close: () => undefined });
  sim.setPerson(HANDOFF_PERSON_PHONE, HANDOFF_PERSON);
  return {
    staffId: staff.id,
    displayName: staff.displayName,
    phone: HANDOFF_PERSON_PHONE,
    queue,
    pushes,
  };
}

/** What the person and the conference went through, for the printout. */
export function formatHandoff(person: HandoffPerson, sim: TwilioSimulator, call: SimCall): string {
  const lines = [`handoff: ${person.displayName} (${person.phone}) in queue "${person.queue}"`];
  const offers = person.pushes.flatMap((m) => (m.type === 'transfer.offer' ? [String((m.offer as { status?: unknown }).status)] : []));
  if (offers.length) lines.push(`  workspace offer: ${offers.join(' → ')}`);
  const legs = sim.legsTo(person.phone);
  if (legs.length === 0) lines.push('  the person was not rung');
  for (const leg of legs) {
    for (const text of leg.says()) lines.push(`  person heard: ${text}`);
    for (const e of leg.events) {
      if (e.kind === 'gather' && e.digits) lines.push(`  person pressed: ${e.digits}`);
      if (e.kind === 'conference_join') lines.push(`  person joined conference ${e.conference}`);
      if (e.kind === 'conference_leave') lines.push(`  person left conference ${e.conference} (${e.reason})`);
    }
    lines.push(`  person's leg: ${leg.status}`);
  }
  for (const e of call.events) {
    if (e.kind === 'conference_join') lines.push(`  caller joined conference ${e.conference}`);
    if (e.kind === 'conference_leave') lines.push(`  caller left conference ${e.conference} (${e.reason})`);
    if (e.kind === 'hold') lines.push(`  caller on hold (${e.source})`);
  }
  return `${lines.join('\n')}\n`;
}
