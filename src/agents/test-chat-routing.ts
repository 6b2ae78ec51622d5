import { AppError } from '../core/errors.js';
import type { ControlBus } from '../core/control-bus.js';
import type { ChatInput } from './test-chat-port.js';
import { TEST_CHAT_IDLE_MS, type ChatTurn, type TestChatService } from './test-chat.js';

/**
 * Test chats with several processes (docs/architecture.md#several-processes):
 * a chat's interpreter lives in the memory of the process that started it, so
 * a follow-up message that lands elsewhere is run there over the control bus.
 * Who holds each chat is a key with the chat's idle time as its expiry,
 * renewed by every turn; an unknown, expired or lost chat (its process gone) is
 * the same clear 404 wherever the message lands.
 */
export const TEST_CHAT_SEND_TOPIC = 'test-chat:send';

/** Where each test chat lives; absent in one process (every chat is here). */
export interface TestChatHolders {
  /** This process holds the chat for `ttlMs` more. */
  hold(sessionId: string, processId: string, ttlMs: number): Promise<void>;
  holderOf(sessionId: string): Promise<string | undefined>;
  release(sessionId: string): Promise<void>;
}

export interface TestChats {
  start(agentIdOrSlug: string, input: { version?: number | undefined }): Promise<ChatTurn>;
  send(sessionId: string, input: ChatInput): Promise<ChatTurn>;
}

const expired = (id: string) => new AppError('NOT_FOUND', `no test chat ${id} (it may have expired)`);

export class RoutedTestChats implements TestChats {
  private readonly off: () => void;

  constructor(
    private readonly deps: {
      local: TestChatService;
      bus: ControlBus;
      holders: TestChatHolders;
      idleMs?: number;
      /** A remote turn may take the whole reply wait (LLM, tools) before it answers. */
      replyWaitMs: number;
    },
  ) {
    this.off = deps.bus.handle(TEST_CHAT_SEND_TOPIC, async (payload) => {
      const { sessionId, input } = payload as { sessionId: string; input: ChatInput };
      return this.sendHere(sessionId, input);
    });
  }

  async start(agentIdOrSlug: string, input: { version?: number | undefined }): Promise<ChatTurn> {
    const turn = await this.deps.local.start(agentIdOrSlug, input);
    await this.held(turn);
    return turn;
  }

  async send(sessionId: string, input: ChatInput): Promise<ChatTurn> {
    if (this.deps.local.has(sessionId)) return this.sendHere(sessionId, input);
    const holder = await this.deps.holders.holderOf(sessionId);
    if (holder === undefined || holder === this.deps.bus.processId) throw expired(sessionId);
    try {
      return (await this.deps.bus.request(holder, TEST_CHAT_SEND_TOPIC, { sessionId, input }, { timeoutMs: this.deps.replyWaitMs + 5_000 })) as ChatTurn;
    } catch (err) {
      // The holder's refusals (ended, busy, bad input) are the answer; a holder that is gone took the chat with it.
      if (err instanceof AppError) throw err;
      await this.deps.holders.release(sessionId).catch(() => undefined);
      throw expired(sessionId);
    }
  }

  close(): void {
    this.off();
  }

  private async sendHere(sessionId: string, input: ChatInput): Promise<ChatTurn> {
    const turn = await this.deps.local.send(sessionId, input);
    await this.held(turn);
    return turn;
  }

  /** Renewed by every turn, an ended chat's too: its process answers a late message with the same 409 for everyone. */
  private async held(turn: ChatTurn): Promise<void> {
    await this.deps.holders.hold(turn.id, this.deps.bus.processId, this.deps.idleMs ?? TEST_CHAT_IDLE_MS);
  }
}

/** One process: every chat is here, so nothing to record. */
export class LocalTestChatHolders implements TestChatHolders {
  async hold(): Promise<void> {}
  async holderOf(): Promise<string | undefined> {
    return undefined;
  }
  async release(): Promise<void> {}
}
