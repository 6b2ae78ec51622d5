import type { FastifyInstance } from 'fastify';
import type { Container } from '../../container.js';
import { AppError } from '../../core/errors.js';
import { CLOSE_MESSAGE_RATE, CLOSE_MESSAGE_RATE_REASON, MessageRateLimiter, WORKSPACE_MESSAGE_RATE } from '../../core/message-rate.js';
import type { WorkspaceMessage } from '../../handoff/workspace.js';
import { principalOf } from '../auth.js';

/**
 * `WS /api/v1/workspace` (docs/people.md#presence-and-the-workspace-socket): a signed-in person is online
 * while this socket is open and beating. The token comes as `?token=` or in
 * Sec-WebSocket-Protocol (src/http/auth.ts). Beats: WebSocket pings (or pongs)
 * and `{"type":"heartbeat"}` messages, for browsers, which cannot send pings.
 */
const MAX_MESSAGE_BYTES = 4 * 1024;

export async function workspaceRoutes(app: FastifyInstance, { container }: { container: Container }): Promise<void> {
  const { workspace } = container.people;

  app.get(
    '/workspace',
    {
      websocket: true,
      schema: { tags: ['sign-in'], summary: 'The workspace WebSocket (people only): presence by heartbeats, account changes, calls and transfer offers pushed' },
      preHandler: async (req) => {
        if (principalOf(req).kind !== 'session') throw new AppError('FORBIDDEN', 'the workspace socket is for signed-in people, not API keys');
      },
    },
    (socket, req) => {
      const p = principalOf(req);
      // Listeners first, before any await, so no early frame is lost.
      let handle: Awaited<ReturnType<typeof workspace.open>> | undefined;
      let early = 0;
      const beat = () => (handle ? handle.beat() : early++);
      socket.on('ping', beat);
      socket.on('pong', beat);
      const rate = new MessageRateLimiter(WORKSPACE_MESSAGE_RATE);
      let flooded = false;
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        if (flooded) return;
        const verdict = rate.take(container.clock.now());
        if (verdict === 'drop') return;
        if (verdict === 'close') {
          flooded = true;
          req.log.warn({ dropped: rate.dropped }, 'workspace socket flooded past its message rate; closing it');
          socket.close(CLOSE_MESSAGE_RATE, CLOSE_MESSAGE_RATE_REASON);
          return;
        }
        if (isBinary || data.length > MAX_MESSAGE_BYTES) return;
        let msg: unknown;
        try {
          msg = JSON.parse(data.toString('utf8'));
        } catch {
          return send({ type: 'error', message: 'messages are JSON' });
        }
        if ((msg as { type?: unknown })?.type === 'heartbeat') beat();
      });
      socket.on('close', () => void handle?.closed());
      const send = (m: WorkspaceMessage) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(m));
      };
      void workspace
        .open(p.id, p.sessionId, { send, close: (code, reason) => socket.close(code, reason) })
        .then((h) => {
          handle = h;
          if (socket.readyState !== socket.OPEN) return void h.closed();
          if (early > 0) h.beat();
          // The calls in progress right away; changes follow as they happen.
          void container.handoff.workspaceFeed.sendCallsTo(p.id);
        })
        .catch((err: unknown) => {
          req.log.error({ err }, 'workspace socket could not open');
          socket.close(1011, 'internal error');
        });
    },
  );
}
