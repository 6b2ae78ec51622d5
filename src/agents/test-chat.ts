import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { FlowEvent, RunResult } from '../flow/events.js';
import type { FetchLike } from '../flow/http-request.js';
import { createInterpreter, type Interpreter } from '../flow/interpreter.js';
import type { Flow } from '../flow/schema.js';
import type { LlmPort } from '../providers/llm/port.js';
import { HttpChatPort, InputRejected, type ChatInput, type ChatReply, type Expectation } from './test-chat-port.js';
import type { AgentService } from './service.js';

/**
 * HTTP test chats: a builder talks to the draft (or a published version) by
 * text and digits and sees the agent's replies and node transitions. Sessions
 * live in this process's memory and expire when idle; with several processes a
 * message landing elsewhere is run here (src/agents/test-chat-routing.ts).
 */
export const TEST_CHAT_IDLE_MS = 15 * 60_000;
export const TEST_CHAT_MAX_SESSIONS = 200;
/** A reply waits at most this long for the agent to finish its turn (LLM and tools included). */
export const TEST_CHAT_REPLY_WAIT_MS = 30_000;

export interface Transition {
  from: string | null;
  to: string;
  nodeType: string;
}

export interface ChatTurn {
  id: string;
  agentId: string;
  /** null: the draft. */
  version: number | null;
  status: 'waiting' | 'running' | 'ended';
  replies: ChatReply[];
  transitions: Transition[];
  /** What the agent waits for now (status waiting). */
  expects: Expectation | null;
  variables: Record<string, unknown>;
  result: RunResult | null;
}

class Session {
  readonly port: HttpChatPort;
  interpreter!: Interpreter;
  transitions: Transition[] = [];
  result: RunResult | undefined;
  lastActiveMs: number;
  busy = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly id: string,
    readonly agentId: string,
    readonly version: number | null,
    nowMs: number,
  ) {
    this.lastActiveMs = nowMs;
    this.port = new HttpChatPort(() => this.wakeIdle());
  }

  get status(): ChatTurn['status'] {
    if (this.result) return 'ended';
    return this.port.expectation() ? 'waiting' : 'running';
  }

  onEvent(e: FlowEvent): void {
    if (e.type === 'node.entered') {
      this.transitions.push({ from: e.from ?? null, to: e.nodeId, nodeType: e.nodeType });
      this.port.currentNodeId = e.nodeId;
    }
  }

  finished(result: RunResult): void {
    this.result = result;
    this.wakeIdle();
  }

  /** Resolves once the agent waits for input or has ended, or after `maxMs`. */
  waitIdle(clock: Clock, maxMs: number): Promise<void> {
    if (this.status !== 'running') return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: TimerHandle | undefined = undefined;
      const done = () => {
        timer?.cancel();
        resolve();
      };
      this.idleWaiters.push(done);
      timer = clock.setTimeout(done, maxMs);
    });
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

export interface TestChatDeps {
  agents: AgentService;
  clock: Clock;
  logger: Logger;
  llm?: LlmPort;
  /** The transport of http nodes and tools (default: internal destinations refused). */
  http?: FetchLike;
  idleMs?: number;
  maxSessions?: number;
  replyWaitMs?: number;
}

export class TestChatService {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly deps: TestChatDeps) {}

  async start(agentIdOrSlug: string, input: { version?: number | undefined }): Promise<ChatTurn> {
    this.sweep();
    if (this.sessions.size >= (this.deps.maxSessions ?? TEST_CHAT_MAX_SESSIONS)) {
      throw new AppError('RATE_LIMITED', 'too many open test chats; try again later');
    }
    const agent = await this.deps.agents.get(agentIdOrSlug);
    let flow: Flow;
    if (input.version !== undefined) {
      flow = (await this.deps.agents.getVersion(agent.id, input.version)).flow;
    } else {
      const result = await this.deps.agents.validate(agent.id);
      if (result.errors.length > 0 || !result.flow) {
        throw new AppError('INVALID_FLOW', 'the draft has errors; fix them before chatting with it', {
          errors: result.errors,
          warnings: result.warnings,
        });
      }
      flow = result.flow;
    }
    const session = new Session(`chat_${randomBytes(12).toString('base64url')}`, agent.id, input.version ?? null, this.deps.clock.now());
    session.interpreter = createInterpreter({
      flow,
      agent: { id: agent.id, slug: agent.slug, name: agent.name, version: input.version ?? 0 },
      call: { sid: session.id },
      port: session.port,
      clock: this.deps.clock,
      logger: this.deps.logger,
      ...(this.deps.llm ? { llm: this.deps.llm } : {}),
      ...(this.deps.http ? { http: this.deps.http } : {}),
      onEvent: (e) => session.onEvent(e),
    });
    this.sessions.set(session.id, session);
    session.interpreter.run().then(
      (result) => session.finished(result),
      (err: unknown) => {
        this.deps.logger.warn({ err, agentId: agent.id }, 'test chat interpreter failed');
        session.finished({ outcome: 'failed', reason: 'error' });
      },
    );
    return this.turn(session);
  }

  /** Whether this process has the chat (another process's chats are reached through src/agents/test-chat-routing.ts). */
  has(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  async send(sessionId: string, input: ChatInput): Promise<ChatTurn> {
    const session = this.sessions.get(sessionId);
    if (!session) throw new AppError('NOT_FOUND', `no test chat ${sessionId} (it may have expired)`);
    if (session.result) throw new AppError('CONFLICT', 'this test chat has ended; start a new one');
    if (session.busy || session.status !== 'waiting') throw new AppError('CONFLICT', 'the agent is still answering the previous message');
    try {
      session.port.deliver(input);
    } catch (err) {
      if (err instanceof InputRejected) throw new AppError('BAD_REQUEST', err.message, { expects: session.port.expectation() });
      throw err;
    }
    return this.turn(session);
  }

  close(): void {
    for (const s of this.sessions.values()) this.end(s);
    this.sessions.clear();
  }

  private async turn(session: Session): Promise<ChatTurn> {
    session.busy = true;
    try {
      await session.waitIdle(this.deps.clock, this.deps.replyWaitMs ?? TEST_CHAT_REPLY_WAIT_MS);
    } finally {
      session.busy = false;
    }
    session.lastActiveMs = this.deps.clock.now();
    const transitions = session.transitions;
    session.transitions = [];
    const snapshot = session.interpreter.snapshot();
    return {
      id: session.id,
      agentId: session.agentId,
      version: session.version,
      status: session.status,
      replies: session.port.drain(),
      transitions,
      expects: session.port.expectation() ?? null,
      variables: snapshot.variables,
      result: session.result ?? null,
    };
  }

  private sweep(): void {
    const cutoff = this.deps.clock.now() - (this.deps.idleMs ?? TEST_CHAT_IDLE_MS);
    for (const [id, s] of this.sessions) {
      if (s.lastActiveMs < cutoff && !s.busy) {
        this.end(s);
        this.sessions.delete(id);
      }
    }
  }

  private end(s: Session): void {
    s.interpreter.abort('expired');
    s.port.close();
  }
}
