/**
 * Every Redis key and channel the runtime uses, built here and nowhere else, under
 * one prefix (`REDIS_PREFIX`), so several deployments or test runs share a Redis
 * without meeting, and `SCAN <prefix>*` finds all of one deployment's state.
 * docs/architecture.md#redis-keys lists them with what each holds.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {
    if (prefix.length === 0) throw new Error('a Redis key prefix must not be empty');
  }

  // --- live calls -------------------------------------------------------------------------

  /** Hash `{ v, json }`: the live call record and its version (compare-and-set). */
  call(callSid: string): string {
    return `${this.prefix}call:${callSid}`;
  }

  /** Hash CallSid → process id: who holds each call in progress. */
  callHolders(): string {
    return `${this.prefix}calls:holder`;
  }

  /** Set of the CallSids a process holds; ended as `process_lost` if the process dies. */
  processCalls(processId: string): string {
    return `${this.prefix}process:${processId}:calls`;
  }

  // --- processes ----------------------------------------------------------------------------

  /** Sorted set process id → its last heartbeat (epoch ms). */
  processes(): string {
    return `${this.prefix}processes`;
  }

  /** Channel a process listens on for commands addressed to it (and the replies to its own). */
  processChannel(processId: string): string {
    return `${this.prefix}ch:process:${processId}`;
  }

  /** Hash connection id → staff id: the workspace sockets open on one process. */
  processPresence(processId: string): string {
    return `${this.prefix}process:${processId}:presence`;
  }

  // --- agents -------------------------------------------------------------------------------

  /** Channel of agent changes (activation, deactivation, rollback, numbers…): lookup caches drop. */
  agentChangesChannel(): string {
    return `${this.prefix}ch:agent-changes`;
  }

  /** Counter bumped by every agent change: a cached lookup is good only under the generation it was read at. */
  agentGeneration(): string {
    return `${this.prefix}agents:generation`;
  }

  // --- call events --------------------------------------------------------------------------

  /** Channel carrying every process's call events to live feeds and workspace sockets elsewhere. */
  callEventsChannel(): string {
    return `${this.prefix}ch:call-events`;
  }

  // --- people -------------------------------------------------------------------------------

  /** Hash staff id → live sessions (assignment counts them here, atomically). */
  staffLiveSessions(): string {
    return `${this.prefix}staff:live-sessions`;
  }

  /** Hash staff id → epoch ms since which the person is idle (or of their last assignment when busy). */
  staffIdleSince(): string {
    return `${this.prefix}staff:idle-since`;
  }

  /** Sorted set of failure times for one sign-in key (`user:<name>` or `ip:<address>`). */
  loginFailures(key: string): string {
    return `${this.prefix}login-failures:${key}`;
  }

  // --- outbound calls ----------------------------------------------------------------------

  /** Hash request id → process id: an agent's outbound requests holding a slot (dialling or in progress). */
  outboundActive(agentId: string): string {
    return `${this.prefix}outbound:${agentId}:active`;
  }

  /** Sorted set request id → dial start (epoch ms): an agent's outbound starts in the last minute. */
  outboundStarts(agentId: string): string {
    return `${this.prefix}outbound:${agentId}:starts`;
  }

  // --- test chats ---------------------------------------------------------------------------

  /** String: the process holding a test chat's interpreter; expires when the chat idles out. */
  testChat(sessionId: string): string {
    return `${this.prefix}test-chat:${sessionId}`;
  }
}
