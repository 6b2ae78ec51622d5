import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from '../../core/clock.js';
import {
  CONTROL_REQUEST_TIMEOUT_MS,
  ControlHandlers,
  ProcessUnreachable,
  fromWireError,
  toWireError,
  type ControlBus,
  type ControlHandler,
  type WireError,
} from '../../core/control-bus.js';
import type { Logger } from '../../core/logger.js';
import type { RedisConnection } from './connection.js';

/**
 * Control requests over Redis pub/sub. Each process listens on its own channel;
 * a request names the reply channel (the requester's), and the reply carries the
 * request's id. PUBLISH reports how many subscribers got the message, so a
 * request to a process that is gone fails at once instead of waiting out the
 * timeout. Requests to this process run directly.
 */
type Message =
  | { kind: 'request'; id: string; topic: string; payload: unknown; replyTo: string }
  | { kind: 'reply'; id: string; ok: true; value: unknown }
  | { kind: 'reply'; id: string; ok: false; error: WireError };

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: TimerHandle;
}

export class RedisControlBus implements ControlBus {
  readonly processId: string;
  private readonly handlers = new ControlHandlers();
  private readonly pending = new Map<string, Pending>();
  private unsubscribe: (() => Promise<void>) | undefined;

  private constructor(
    private readonly redis: RedisConnection,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.processId = redis.processId;
  }

  static async open(redis: RedisConnection, clock: Clock, logger: Logger): Promise<RedisControlBus> {
    const bus = new RedisControlBus(redis, clock, logger);
    bus.unsubscribe = await redis.subscribe(redis.keys.processChannel(redis.processId), (m) => bus.onMessage(m));
    return bus;
  }

  handle(topic: string, handler: ControlHandler): () => void {
    return this.handlers.handle(topic, handler);
  }

  async request(processId: string, topic: string, payload: unknown, options: { timeoutMs?: number } = {}): Promise<unknown> {
    if (processId === this.processId) return this.handlers.run(topic, payload);
    const id = randomBytes(8).toString('hex');
    const reply = new Promise<unknown>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pending.delete(id);
        reject(new ProcessUnreachable(processId, 'timeout'));
      }, options.timeoutMs ?? CONTROL_REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
    });
    // The reply can arrive (on the subscriber connection) before PUBLISH answers on this one: a
    // refusal settling `reply` then must not count as unhandled, or Node ends the process.
    reply.catch(() => {});
    const message: Message = { kind: 'request', id, topic, payload, replyTo: this.processId };
    const receivers = await this.redis.command.publish(this.redis.keys.processChannel(processId), JSON.stringify(message));
    if (receivers === 0) this.settle(id, (p) => p.reject(new ProcessUnreachable(processId, 'gone')));
    return reply;
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
    for (const id of [...this.pending.keys()]) this.settle(id, (p) => p.reject(new Error('control bus closed')));
  }

  private settle(id: string, fn: (p: Pending) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.timer.cancel();
    fn(p);
  }

  private onMessage(raw: string): void {
    let message: Message;
    try {
      message = JSON.parse(raw) as Message;
    } catch {
      return;
    }
    if (message.kind === 'reply') {
      this.settle(message.id, (p) => (message.ok ? p.resolve(message.value) : p.reject(fromWireError(message.error))));
      return;
    }
    if (message.kind !== 'request') return;
    void this.handlers
      .run(message.topic, message.payload)
      .then(
        (value): Message => ({ kind: 'reply', id: message.id, ok: true, value: value ?? null }),
        (err: unknown): Message => ({ kind: 'reply', id: message.id, ok: false, error: toWireError(err) }),
      )
      .then((reply) => this.redis.command.publish(this.redis.keys.processChannel(message.replyTo), JSON.stringify(reply)))
      .catch((err: unknown) => this.logger.error({ err, topic: message.topic }, 'a control reply could not be sent'));
  }
}
