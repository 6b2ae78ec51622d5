import { AppError, ERRORS, type ErrorCode } from './errors.js';

/**
 * Control messages between server processes (docs/architecture.md#several-processes):
 * a request runs a named handler on one chosen process (the one holding a call,
 * a test chat, a viewer's socket) and resolves with its reply. In one process
 * the handler runs directly; with REDIS_URL, `RedisControlBus`
 * (src/store/redis/control-bus.ts) carries requests and replies over pub/sub.
 */
export type ControlHandler = (payload: unknown) => Promise<unknown>;

/** The target process is gone or did not answer in time. */
export class ProcessUnreachable extends Error {
  constructor(
    readonly processId: string,
    readonly why: 'gone' | 'timeout',
  ) {
    super(`process ${processId} ${why === 'gone' ? 'is not listening' : 'did not answer in time'}`);
    this.name = 'ProcessUnreachable';
  }
}

/** A request waits this long for its reply by default: a control action is quick once it arrives. */
export const CONTROL_REQUEST_TIMEOUT_MS = 5_000;

export interface ControlBus {
  readonly processId: string;
  /** Registers this process's handler for a topic; returns the unregister function. */
  handle(topic: string, handler: ControlHandler): () => void;
  /**
   * Runs `topic` on `processId` and resolves with the handler's reply. An AppError thrown
   * there is thrown here with the same code; a missing or silent process is ProcessUnreachable.
   */
  request(processId: string, topic: string, payload: unknown, options?: { timeoutMs?: number }): Promise<unknown>;
  close(): Promise<void>;
}

/** An error as it crosses processes. */
export interface WireError {
  code?: string;
  message: string;
  details?: unknown;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof AppError) return { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) };
  return { message: err instanceof Error ? err.message : String(err) };
}

export function fromWireError(e: WireError): Error {
  if (e.code !== undefined && e.code in ERRORS) return new AppError(e.code as ErrorCode, e.message, e.details);
  return new Error(e.message);
}

/** Handlers by topic, shared by both implementations. */
export class ControlHandlers {
  private readonly handlers = new Map<string, ControlHandler>();

  handle(topic: string, handler: ControlHandler): () => void {
    if (this.handlers.has(topic)) throw new Error(`a handler for ${topic} is already registered`);
    this.handlers.set(topic, handler);
    return () => {
      if (this.handlers.get(topic) === handler) this.handlers.delete(topic);
    };
  }

  run(topic: string, payload: unknown): Promise<unknown> {
    const handler = this.handlers.get(topic);
    if (!handler) return Promise.reject(new AppError('INTERNAL', `no handler for ${topic} on this process`));
    return handler(payload);
  }
}

/** One process: every request is local. */
export class LocalControlBus implements ControlBus {
  readonly processId = 'local';
  private readonly handlers = new ControlHandlers();

  handle(topic: string, handler: ControlHandler): () => void {
    return this.handlers.handle(topic, handler);
  }

  async request(processId: string, topic: string, payload: unknown): Promise<unknown> {
    if (processId !== this.processId) throw new ProcessUnreachable(processId, 'gone');
    return this.handlers.run(topic, payload);
  }

  async close(): Promise<void> {}
}
