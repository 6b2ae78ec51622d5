import type { AgentState } from '../agents/types.js';
import type { Calls } from '../calls/calls.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Flow } from '../flow/schema.js';
import type { TransferRequest } from '../flow/port.js';
import type { PeopleTransfer } from '../pipeline/call-session.js';
import type { AssumeRefusal, LiveHandoff } from './live-handoff.js';
import { dialOf } from './pickers.js';
import type { StaffRecord } from './staff.js';
import type { HandoffTelephony } from './telephony-port.js';

/**
 * Commands on a live call (docs/handoff.md#commands-on-a-live-call): a person
 * assumes it, hands it back to an AI, or hangs it up. Each is ONE call with
 * plain, serialisable arguments, resolving with nothing or throwing an
 * AppError, so a router can carry it to the process that holds the call (the
 * media stream, the conference callbacks and the transfer all live in one
 * process). `LocalLiveCalls` acts in this process and throws `CALL_NOT_HERE`
 * when another one holds the call; `holds(callSid)` tells a router beforehand.
 */
export interface LiveCallCommands {
  /** A person takes the call from the AI. 404 unknown, 409 ended or not with the AI. */
  assume(callSid: string, command: { staffId: string; reason?: string }): Promise<void>;
  /** The person hands the caller to an active AI agent. 409 `AGENT_NOT_ACTIVE`, 409 when no person has the call. */
  transferToAi(callSid: string, command: { agentId: string; by?: string; reason?: string }): Promise<void>;
  /** Ends the call for everyone (the caller's leg is completed through the REST API); an ended call is done. */
  hangUp(callSid: string, command: { by?: string; reason?: string }): Promise<void>;
  /** Whether this process holds the call (its AI stream or its handoff). */
  holds(callSid: string): boolean;
}

/** Seconds a person who assumes a call is rung before the AI takes the caller back. */
export const ASSUME_RING_SECONDS = 20;

export interface LocalLiveCallsDeps {
  calls: Calls;
  /** The live AI calls of this process (src/pipeline/call.ts handles). */
  sessions: Map<string, { park(): Promise<unknown>; stop(reason: 'hangup'): Promise<void> }>;
  live: LiveHandoff;
  telephony: Pick<HandoffTelephony, 'endCall'>;
  staff: { get(id: string): Promise<StaffRecord | undefined> };
  /** Counts a session the person took themselves (assignment). */
  takeSession(staffId: string): Promise<void>;
  agents: { get(idOrSlug: string): Promise<{ id: string; slug: string; state: AgentState; servedVersion: number | null }> };
  getVersion(agentId: string, version: number): Promise<{ flow: Flow } | undefined>;
  logger: Logger;
}

const ASSUME_REFUSALS: Record<AssumeRefusal, () => AppError> = {
  not_found: () => new AppError('NOT_FOUND', 'no such live call'),
  ended: () => new AppError('CALL_ENDED', 'the call has ended'),
  not_with_ai: () => new AppError('CALL_STATE_CONFLICT', 'a person already has the call, or a transfer is under way'),
  hold_failed: () => new AppError('UPSTREAM_FAILED', 'Twilio refused to move the caller; the AI keeps the call'),
};

export class LocalLiveCalls implements LiveCallCommands {
  constructor(private readonly deps: LocalLiveCallsDeps) {}

  holds(callSid: string): boolean {
    return this.deps.sessions.has(callSid) || this.deps.live.has(callSid);
  }

  async assume(callSid: string, command: { staffId: string; reason?: string }): Promise<void> {
    const { calls, live } = this.deps;
    const record = await calls.get(callSid);
    if (!record) throw new AppError('NOT_FOUND', `no live call ${callSid}`);
    if (record.state === 'ended') throw new AppError('CALL_ENDED', 'the call has ended');
    if (record.state !== 'ai') throw ASSUME_REFUSALS.not_with_ai();
    const handle = this.deps.sessions.get(callSid);
    if (!handle) throw new AppError('CALL_NOT_HERE', 'another process holds this call');
    const person = await this.deps.staff.get(command.staffId);
    if (!person || person.state !== 'enabled') throw new AppError('CONFLICT', 'the person is not an enabled member of the workspace');
    const dial = dialOf({ staffId: person.id, phone: person.phone, clientIdentity: person.clientIdentity });
    if (!dial) throw new AppError('BAD_REQUEST', 'the person has no phone or clientIdentity to ring', { staffId: person.id });
    const started = await live.assume({
      callSid,
      staffId: person.id,
      dial,
      ringSeconds: ASSUME_RING_SECONDS,
      ...(command.reason ? { reason: command.reason } : {}),
      park: () => handle.park(),
      takeSession: () => this.deps.takeSession(person.id),
    });
    if (!started.ok) throw ASSUME_REFUSALS[started.reason]();
    void started.done.catch((err: unknown) => this.deps.logger.error({ err, callSid }, 'assume failed'));
  }

  async transferToAi(callSid: string, command: { agentId: string; by?: string; reason?: string }): Promise<void> {
    const { calls, live } = this.deps;
    const record = await calls.get(callSid);
    if (!record) throw new AppError('NOT_FOUND', `no live call ${callSid}`);
    if (record.state === 'ended') throw new AppError('CALL_ENDED', 'the call has ended');
    if (record.state !== 'human') throw new AppError('CALL_STATE_CONFLICT', 'no person has the call');
    if (!live.has(callSid)) throw new AppError('CALL_NOT_HERE', 'another process holds this call');
    const agent = await this.deps.agents.get(command.agentId);
    if (agent.state !== 'active' || agent.servedVersion === null) {
      throw new AppError('AGENT_NOT_ACTIVE', `agent ${agent.slug} is not active`, { agentId: agent.id, state: agent.state });
    }
    const version = await this.deps.getVersion(agent.id, agent.servedVersion);
    if (!version) throw new AppError('AGENT_NOT_ACTIVE', `agent ${agent.slug} has no served version`, { agentId: agent.id });
    const entryNode = version.flow.settings.handoffNode ?? version.flow.start;
    const r = await live.transferToAi(
      callSid,
      { agentId: agent.id, slug: agent.slug, version: agent.servedVersion, entryNode },
      command.by,
      command.reason,
    );
    if (!r.ok) {
      throw r.reason === 'not_with_person'
        ? new AppError('CALL_STATE_CONFLICT', 'no person has the call')
        : new AppError('UPSTREAM_FAILED', 'Twilio refused to move the caller back to the AI');
    }
  }

  async hangUp(callSid: string, command: { by?: string; reason?: string }): Promise<void> {
    const { calls } = this.deps;
    const record = await calls.get(callSid);
    if (!record) throw new AppError('NOT_FOUND', `no live call ${callSid}`);
    if (record.state === 'ended') return;
    // Any process can end the call through the REST API: a call still connecting has no
    // session anywhere, and a session on another process stops when Twilio closes its stream.
    this.deps.logger.info({ callSid, by: command.by, reason: command.reason }, 'call hung up by command');
    await this.deps.telephony.endCall(callSid);
    await calls.end(callSid, command.reason ? `hung_up:${command.reason}` : 'hung_up', 'completed');
    await this.deps.sessions.get(callSid)?.stop('hangup');
  }
}

/** The transfer node's way to people: warm (any target) and queue (any mode) transfers, through LiveHandoff. */
export function peopleTransfer(live: LiveHandoff): PeopleTransfer {
  return {
    async start(callSid: string, request: TransferRequest) {
      const r = await live.warmTransfer({
        callSid,
        nodeId: request.nodeId,
        target: request.target,
        mode: request.mode === 'cold' ? 'cold' : 'warm',
        ...(request.summary ? { summary: request.summary } : {}),
        ...(request.onUnavailable ? { onUnavailable: request.onUnavailable } : {}),
        ringSeconds: request.ringSeconds ?? 20,
        maxWaitSeconds: request.maxWaitSeconds ?? 60,
      });
      return r.ok ? { ok: true } : { ok: false, reason: r.reason };
    },
  };
}
