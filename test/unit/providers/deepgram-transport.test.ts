/**
 * The ws transport handed to @deepgram/sdk: a refused upgrade reaches the
 * adapter as a number (with Deepgram's dg-error detail), then the SDK hears
 * one error and no close; an accepted one moves text frames as strings.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { openWsTransport, type HandshakeRefusal } from '../../../src/providers/stt/deepgram-transport.js';

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function listen(onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): Promise<string> {
  server = createServer();
  server.on('upgrade', onUpgrade);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/listen`;
}

describe('openWsTransport', () => {
  it('reports a refused upgrade by its status and dg-error, then one error and no close', async () => {
    const url = await listen((_req, socket) => {
      socket.end('HTTP/1.1 503 Service Unavailable\r\ndg-error: busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    const refusals: HandshakeRefusal[] = [];
    const seen: string[] = [];
    const transport = openWsTransport(url, { Authorization: 'Token k' }, (r) => {
      refusals.push(r);
      seen.push('refused');
    });
    transport.onClose(() => seen.push('close'));
    await new Promise<void>((resolve) =>
      transport.onError(() => {
        seen.push('error');
        resolve();
      }),
    );
    expect(refusals).toEqual([{ status: 503, detail: 'busy' }]);
    // The adapter reads the status before the SDK reports the failure.
    expect(seen).toEqual(['refused', 'error']);
    expect(transport.isOpen()).toBe(false);
    transport.close(1011, 'x'.repeat(200)); // over the 123-byte limit: must not throw
  });

  it('moves text frames as strings and sends the auth header', async () => {
    const wss = new WebSocketServer({ noServer: true });
    let auth: string | undefined;
    const url = await listen((req, socket, head) => {
      auth = req.headers.authorization;
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data) => ws.send(`{"echo":${JSON.stringify(String(data))}}`)));
    });
    const transport = openWsTransport(url, { Authorization: 'Token k' }, () => undefined);
    await new Promise<void>((resolve) => transport.onOpen(resolve));
    expect(transport.isOpen()).toBe(true);
    const got = new Promise<unknown>((resolve) => transport.onMessage(resolve));
    transport.send(JSON.stringify({ type: 'KeepAlive' }));
    expect(await got).toBe('{"echo":"{\\"type\\":\\"KeepAlive\\"}"}');
    expect(auth).toBe('Token k');
    const closed = new Promise<number | undefined>((resolve) => transport.onClose((e) => resolve(e.code)));
    transport.close(1000);
    expect(await closed).toBe(1000);
    wss.close();
  });
});
