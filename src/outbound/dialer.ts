import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { DEFAULT_OUTBOUND_LIMITS, type AgentRecord, type OutboundLimits } from '../agents/types.js';
import type { Calls } from '../calls/calls.js';
import type { CallEvent } from '../calls/events.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { MemoryOutboundSlots, type OutboundSlots } from './slots.js';
import { OutboundRequestError, type OutboundTelephony } from './port.js';

/**
 * Outbound calls (docs/outbound.md): `POST /calls` lands here. A request is
 * checked (the number with libphonenumber, the agent active and owning a number
 * to call from) before anything is dialled, then waits in its agent's queue
 * until the agent's limits admit it (AgentAdmission: concurrent calls, starts
 * per minute). Each request has one state: queued → dialing → in_progress →
 * ended. A slot is held from the dial until the call ends, which the dialer
 * hears from the call ledger's events (status callback, stream end, …).
 *
 * The queue is this process's; the limits are `OutboundSlots`: this process's
 * memory, or shared in Redis so they hold across every process
 * (docs/outbound.md#limits). A process waiting on shared limits looks again
 * every OUTBOUND_SLOT_POLL_MS, and whenever a call ends anywhere, since another
 * process's slot frees without its hearing.
 */

export type OutboundState = 'queued' | 'dialing' | 'in_progress' | 'ended';

export interface OutboundCall {
  id: string;
  agentId: string;
  slug: string;
  to: string;
  /** The agent's number the call is placed from; set when it is dialled. */
  from?: string;
  /** The pinned version; set when it is dialled. */
  version?: number;
  variables: Record<string, string | number | boolean>;
  machineDetection: boolean;
  state: OutboundState;
  /** Twilio's CallSid once dialled: the call's id in GET /calls/:id. */
  callSid?: string;
  /** The call's outcome (completed, no-answer, busy, failed, …) or why it was never dialled. */
  outcome?: string;
  error?: { code: string; message: string };
  /** Wall-clock epoch ms. */
  createdAt: number;
  dialledAt?: number;
  endedAt?: number;
}

export interface OutboundSubmit {
  /** Agent id or slug. */
  agentId: string;
  to: string;
  variables?: Record<string, string | number | boolean>;
  machineDetection?: boolean;
}

/** Twilio rings the callee this long before reporting no-answer. */
export const OUTBOUND_RING_SECONDS = 30;
/**
 * A dialled call that neither answered nor ended this long after its ring
 * timeout lost its status callback: its slot is given back and the call ended
 * as failed, or one lost callback would block a slot for ever.
 */
export const OUTBOUND_NO_PROGRESS_GRACE_MS = 60_000;
/** Twilio's AMD gives up after this long and reports `unknown`. */
export const MACHINE_DETECTION_TIMEOUT_SECONDS = 30;
/** With shared limits, a queue blocked on concurrency looks again this often. */
export const OUTBOUND_SLOT_POLL_MS = 1_000;
/** Ended requests kept for GET /calls/outbound/:id; older ones are forgotten first. */
export const MAX_ENDED_REQUESTS = 2000;
export const MAX_VARIABLES = 50;
export const MAX_VARIABLE_CHARS = 1000;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

export interface OutboundDialerDeps {
  calls: Calls;
  telephony: OutboundTelephony;
  clock: Clock;
  logger: Logger;
  /** The agent by id or slug (NOT_FOUND when unknown). */
  agent(idOrSlug: string): Promise<AgentRecord>;
  /** The agent's numbers, the first of which calls are placed from. */
  numbersOf(agentId: string): Promise<string[]>;
  /** Whether the agent's flow leaves voicemails (detection then waits for the beep). */
  leavesVoicemail(agentId: string, version: number): Promise<boolean>;
  accountSid: string;
  publicUrl: string;
  newId(prefix: string, nowMs: number): string;
  /** This process, with several (the answer URL names it); unset in one process. */
  processId?: string;
  /** The agents' limits (default: this process's memory). */
  slots?: OutboundSlots;
}

interface AgentQueue {
  limits: OutboundLimits;
  waiting: OutboundCall[];
  /** Requests of this process holding a slot (dialling or in progress). */
  active: number;
  wake?: TimerHandle;
  /** The pump running now, and whether it must go round once more. */
  pumping?: Promise<void>;
  again: boolean;
}

export const OUTBOUND_PATHS = {
  answer: '/twilio/outbound-answer',
  amd: '/twilio/amd-status',
} as const;

export class OutboundDialer {
  private readonly requests = new Map<string, OutboundCall>();
  private readonly byCallSid = new Map<string, OutboundCall>();
  private readonly queues = new Map<string, AgentQueue>();
  private readonly guards = new Map<string, TimerHandle>();
  private readonly ended: string[] = [];
  /** Dials started and not yet settled, by request id (a submit admitted at once waits for its dial). */
  private readonly dials = new Map<string, Promise<void>>();
  private readonly slots: OutboundSlots;
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(private readonly deps: OutboundDialerDeps) {
    this.slots = deps.slots ?? new MemoryOutboundSlots();
    // Every process's events: the call's stream and its end may be on another process (only this dialer's requests count).
    this.unsubscribe = deps.calls.bus.subscribeAll((e) => this.onCallEvent(e));
  }

  /**
   * Checks and queues a request; when the agent's limits admit it at once it is
   * dialled before this resolves (the answer then carries the CallSid).
   * Throws a 4xx AppError, with nothing dialled, for a bad number, an unknown
   * or inactive agent, or an agent with no number to call from.
   */
  async submit(input: OutboundSubmit): Promise<OutboundCall> {
    if (this.closed) throw new AppError('SHUTTING_DOWN', 'server is shutting down');
    const to = normaliseNumber(input.to);
    const variables = checkVariables(input.variables ?? {});
    const agent = await this.deps.agent(input.agentId);
    checkActive(agent);
    if ((await this.deps.numbersOf(agent.id)).length === 0) {
      throw new AppError('CONFLICT', `agent ${agent.slug} has no phone number to call from; assign one with PUT /phone-numbers/:e164`, {
        agentId: agent.id,
      });
    }
    const now = this.deps.clock.wallNow();
    const call: OutboundCall = {
      id: this.deps.newId('ob', now),
      agentId: agent.id,
      slug: agent.slug,
      to,
      variables,
      machineDetection: input.machineDetection ?? false,
      state: 'queued',
      createdAt: now,
    };
    this.requests.set(call.id, call);
    const queue = this.queueOf(agent.id);
    queue.limits = agent.outbound ?? DEFAULT_OUTBOUND_LIMITS;
    queue.waiting.push(call);
    await this.pump(agent.id);
    await this.dials.get(call.id);
    return { ...call };
  }

  get(id: string): OutboundCall | undefined {
    const c = this.requests.get(id);
    return c ? { ...c } : undefined;
  }

  /** Requests of one agent (or all) not yet ended, oldest first. */
  pending(agentId?: string): OutboundCall[] {
    return [...this.requests.values()].filter((c) => c.state !== 'ended' && (agentId === undefined || c.agentId === agentId)).map((c) => ({ ...c }));
  }

  /** Outbound calls of the agent this process is dialling or has in progress now. */
  inFlight(agentId: string): number {
    return this.queues.get(agentId)?.active ?? 0;
  }

  /** The callee answered (Twilio fetched the answer URL): the request is in progress. */
  answered(callSid: string): void {
    const call = this.byCallSid.get(callSid);
    if (!call || call.state !== 'dialing') return;
    call.state = 'in_progress';
    this.guards.get(callSid)?.cancel();
    this.guards.delete(callSid);
  }

  /**
   * Ties a CallSid to its request and opens the call's record (idempotent):
   * the answer URL names the request, in case Twilio's answer beats the REST
   * reply that names the call. False when the request is unknown or over.
   */
  async attach(requestId: string, callSid: string): Promise<boolean> {
    const call = this.byCallSid.get(callSid) ?? this.requests.get(requestId);
    if (!call || call.state === 'ended' || (call.callSid !== undefined && call.callSid !== callSid)) return false;
    if (call.callSid === undefined) {
      call.callSid = callSid;
      this.byCallSid.set(callSid, call);
    }
    await this.openRecord(call);
    return true;
  }

  /** Stops dialling: queued requests end as `canceled`; calls in progress go on. */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const q of this.queues.values()) {
      q.wake?.cancel();
      for (const c of q.waiting.splice(0)) this.finish(c, 'canceled');
    }
    for (const g of this.guards.values()) g.cancel();
    this.guards.clear();
  }

  private queueOf(agentId: string): AgentQueue {
    let q = this.queues.get(agentId);
    if (!q) {
      q = { limits: DEFAULT_OUTBOUND_LIMITS, waiting: [], active: 0, again: false };
      this.queues.set(agentId, q);
    }
    return q;
  }

  /**
   * Dials what the agent's limits admit now, oldest request first. One pump per
   * agent at a time: a call while it runs makes it go round once more.
   */
  private pump(agentId: string): Promise<void> {
    const q = this.queues.get(agentId);
    if (!q || this.closed) return Promise.resolve();
    if (q.pumping) {
      q.again = true;
      return q.pumping;
    }
    q.pumping = (async () => {
      do {
        q.again = false;
        await this.admitWaiting(agentId, q);
      } while (q.again && !this.closed);
    })()
      .catch((err: unknown) => this.deps.logger.error({ err, agentId }, 'outbound admission failed; the queue waits for the next look'))
      .finally(() => {
        q.pumping = undefined;
      });
    return q.pumping;
  }

  private async admitWaiting(agentId: string, q: AgentQueue): Promise<void> {
    const { clock } = this.deps;
    while (q.waiting.length > 0 && !this.closed) {
      const call = q.waiting[0]!;
      const admission = await this.slots.take(agentId, call.id, q.limits, clock.wallNow());
      if (!admission.ok) {
        // A rate limit reopens at a known time; a shared slot may free on another process unheard: look again soon.
        const waitMs = admission.reason === 'rate' ? Math.max(0, admission.retryAtMs - clock.wallNow()) : this.slots.shared ? OUTBOUND_SLOT_POLL_MS : undefined;
        if (waitMs !== undefined && !q.wake) {
          q.wake = clock.setTimeout(() => {
            q.wake = undefined;
            void this.pump(agentId);
          }, waitMs);
        }
        return;
      }
      if (q.waiting[0] !== call) {
        // Cancelled while the slot was being taken (shutdown): the slot goes back.
        await this.slots.release(agentId, call.id);
        continue;
      }
      q.waiting.shift();
      q.active++;
      call.state = 'dialing';
      const dial = this.dial(call).finally(() => this.dials.delete(call.id));
      this.dials.set(call.id, dial);
    }
  }

  private async dial(call: OutboundCall): Promise<void> {
    const { deps } = this;
    const log = deps.logger.child({ outboundId: call.id, agentId: call.agentId });
    let agent: AgentRecord;
    let from: string | undefined;
    try {
      // Queued requests wait: the agent may have been deactivated or lost its number since.
      agent = await deps.agent(call.agentId);
      checkActive(agent);
      from = (await deps.numbersOf(agent.id))[0];
      if (!from) throw new AppError('CONFLICT', `agent ${agent.slug} has no phone number to call from`);
    } catch (err) {
      const e = err instanceof AppError ? err : new AppError('INTERNAL', 'agent lookup failed');
      this.finish(call, 'not_dialled', { code: e.code, message: e.message });
      return;
    }
    const version = agent.servedVersion!;
    call.from = from;
    call.version = version;
    const voicemail = call.machineDetection && (await deps.leavesVoicemail(agent.id, version).catch(() => false));
    const base = deps.publicUrl;
    try {
      const callSid = await deps.telephony.placeCall({
        to: call.to,
        from,
        // `via`: the answer may land on another process, which runs it here, where the request waits.
        answerUrl: `${base}${OUTBOUND_PATHS.answer}?request=${encodeURIComponent(call.id)}${deps.processId ? `&via=${encodeURIComponent(deps.processId)}` : ''}`,
        statusCallback: `${base}/twilio/status`,
        ringSeconds: OUTBOUND_RING_SECONDS,
        ...(call.machineDetection
          ? {
              machineDetection: {
                mode: voicemail ? 'detectMessageEnd' : 'enable',
                callbackUrl: base + OUTBOUND_PATHS.amd,
                timeoutSeconds: MACHINE_DETECTION_TIMEOUT_SECONDS,
              },
            }
          : {}),
      });
      call.dialledAt = deps.clock.wallNow();
      await this.attach(call.id, callSid);
      log.info({ callSid, to: call.to, machineDetection: call.machineDetection }, 'outbound call placed');
      if (call.state === 'dialing') this.guard(callSid);
    } catch (err) {
      const e =
        err instanceof OutboundRequestError
          ? { code: err.code !== undefined ? `TWILIO_${err.code}` : 'UPSTREAM_FAILED', message: err.message }
          : { code: err instanceof AppError ? err.code : 'UPSTREAM_FAILED', message: err instanceof Error ? err.message : String(err) };
      log.warn({ err, code: e.code }, 'outbound call could not be placed');
      this.finish(call, 'failed', e);
    }
  }

  /** The call's record, as /twilio/voice opens it for inbound calls; idempotent. */
  private async openRecord(call: OutboundCall): Promise<void> {
    if (!call.callSid || call.from === undefined || call.version === undefined) return;
    await this.deps.calls.open({
      callSid: call.callSid,
      accountSid: this.deps.accountSid,
      agentId: call.agentId,
      slug: call.slug,
      version: call.version,
      from: call.from,
      to: call.to,
      direction: 'outbound',
      outbound: { requestId: call.id, machineDetection: call.machineDetection, variables: call.variables },
    });
  }

  private guard(callSid: string): void {
    const ms = OUTBOUND_RING_SECONDS * 1000 + OUTBOUND_NO_PROGRESS_GRACE_MS;
    this.guards.set(
      callSid,
      this.deps.clock.setTimeout(() => {
        this.guards.delete(callSid);
        const call = this.byCallSid.get(callSid);
        if (call?.state !== 'dialing') return;
        this.deps.logger.warn({ callSid, outboundId: call.id }, 'outbound call reported no progress; its slot is released');
        void this.deps.calls.end(callSid, 'no_progress', 'failed');
      }, ms),
    );
  }

  private onCallEvent(e: CallEvent): void {
    // A call ended somewhere: with shared limits a slot may be free now for a queue waiting here.
    if (e.type === 'call.ended' && this.slots.shared) {
      for (const [agentId, q] of this.queues) if (q.waiting.length > 0) void this.pump(agentId);
    }
    const call = this.byCallSid.get(e.callSid);
    if (!call) return;
    if (e.type === 'stream.started') this.answered(e.callSid);
    else if (e.type === 'call.ended') this.finish(call, e.outcome);
  }

  private finish(call: OutboundCall, outcome: string, error?: { code: string; message: string }): void {
    if (call.state === 'ended') return;
    const held = call.state === 'dialing' || call.state === 'in_progress';
    call.state = 'ended';
    call.outcome = outcome;
    if (error) call.error = error;
    call.endedAt = this.deps.clock.wallNow();
    if (call.callSid) {
      this.guards.get(call.callSid)?.cancel();
      this.guards.delete(call.callSid);
      this.byCallSid.delete(call.callSid);
    }
    this.ended.push(call.id);
    while (this.ended.length > MAX_ENDED_REQUESTS) this.requests.delete(this.ended.shift()!);
    const q = this.queues.get(call.agentId);
    if (q && held) {
      q.active = Math.max(0, q.active - 1);
      void this.slots
        .release(call.agentId, call.id)
        .catch((err: unknown) => this.deps.logger.error({ err, outboundId: call.id }, 'freeing an outbound slot failed'))
        .then(() => this.pump(call.agentId));
    }
  }
}

/** E.164 from what the client sent; a number libphonenumber finds invalid is a 400 before anything is dialled. */
export function normaliseNumber(raw: string): string {
  const parsed = parsePhoneNumberFromString(raw.trim());
  if (!parsed || !parsed.isValid()) {
    throw new AppError('VALIDATION_FAILED', '`to` is not a valid phone number; send it in E.164, e.g. +14155550100', { field: 'to' });
  }
  return parsed.number;
}

function checkActive(agent: AgentRecord): void {
  if (agent.state !== 'active' || agent.servedVersion === null) {
    throw new AppError('AGENT_NOT_ACTIVE', `agent ${agent.slug} is ${agent.state}; only active agents place calls`, {
      agentId: agent.id,
      state: agent.state,
    });
  }
}

function checkVariables(vars: Record<string, string | number | boolean>): Record<string, string | number | boolean> {
  const entries = Object.entries(vars);
  if (entries.length > MAX_VARIABLES) throw new AppError('VALIDATION_FAILED', `at most ${MAX_VARIABLES} variables`, { field: 'variables' });
  for (const [name, value] of entries) {
    if (!VARIABLE_NAME.test(name)) {
      throw new AppError('VALIDATION_FAILED', `variable name "${name.slice(0, 64)}" must start with a letter or "_" and use letters, digits, "_", "-" or "."`, {
        field: 'variables',
      });
    }
    if (typeof value === 'string' && value.length > MAX_VARIABLE_CHARS) {
      throw new AppError('VALIDATION_FAILED', `variable "${name}" is longer than ${MAX_VARIABLE_CHARS} characters`, { field: 'variables' });
    }
  }
  return { ...vars };
}
