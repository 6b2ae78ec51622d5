import { Blob } from 'node:buffer';
import WebSocket from 'ws';
import type { DeepgramTransport, DeepgramTransportCloseEvent, DeepgramTransportMessage } from '@deepgram/sdk';

/**
 * The socket under `@deepgram/sdk`, handed to it through its `transportFactory`
 * option (the SDK's documented seam for replacing its WebSocket). The SDK still
 * builds the URL, the auth header and every frame, and parses every message;
 * this only moves bytes, like the SDK's own `ws` socket would.
 *
 * It exists for one fact the SDK cannot pass on: the HTTP status of a refused
 * handshake. The SDK's socket re-creates every error as `new Error(message)`,
 * so a status would survive only as message text. `ws` gives it as a number
 * in `unexpected-response`; `onRefused` hands that number to the adapter
 * before the SDK hears of the failure.
 */

export interface HandshakeRefusal {
  status: number;
  /** Deepgram's `dg-error` header, when present (safe to log: it never echoes the key). */
  detail: string | undefined;
}

/** Opens a `ws` socket for the SDK; `onRefused` runs when the server answers the upgrade with an HTTP status. */
export function openWsTransport(
  url: string,
  headers: Record<string, string>,
  onRefused: (refusal: HandshakeRefusal) => void,
): DeepgramTransport {
  return new WsTransport(new WebSocket(url, { headers, perMessageDeflate: false }), onRefused);
}

class WsTransport implements DeepgramTransport {
  private readonly openListeners: (() => void)[] = [];
  private readonly messageListeners: ((message: DeepgramTransportMessage) => void)[] = [];
  private readonly errorListeners: ((error: Error) => void)[] = [];
  private readonly closeListeners: ((event: DeepgramTransportCloseEvent) => void)[] = [];
  /** After a refusal the socket's own late error and close say nothing new. */
  private settled = false;

  constructor(
    private readonly ws: WebSocket,
    onRefused: (refusal: HandshakeRefusal) => void,
  ) {
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      const dgError = res.headers['dg-error'];
      res.resume();
      this.settled = true;
      onRefused({ status, detail: Array.isArray(dgError) ? dgError[0] : dgError });
      // Aborts the request and frees its socket (ws leaves that to us once we listen here).
      this.terminate();
      for (const l of this.errorListeners) l(new Error(`Deepgram refused the WebSocket upgrade with HTTP ${status}`));
    });
    ws.on('open', () => {
      for (const l of this.openListeners) l();
    });
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      // Text frames as strings: the SDK parses those as JSON messages.
      const message = isBinary ? toBytes(data) : toBytes(data).toString('utf8');
      for (const l of this.messageListeners) l(message);
    });
    // Always listened to, so a late error of a socket the SDK let go is never unhandled.
    ws.on('error', (err: Error) => {
      if (this.settled) return;
      for (const l of this.errorListeners) l(err);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (this.settled) return;
      this.settled = true;
      for (const l of this.closeListeners) l({ code, reason: reason.toString('utf8') });
    });
  }

  send(data: DeepgramTransportMessage): void {
    if (data instanceof Blob) throw new TypeError('Blob payloads are not sent on this transport');
    this.ws.send(data);
  }

  onOpen(listener: () => void): void {
    this.openListeners.push(listener);
  }

  onMessage(listener: (message: DeepgramTransportMessage) => void): void {
    this.messageListeners.push(listener);
  }

  onError(listener: (error: Error) => void): void {
    this.errorListeners.push(listener);
  }

  onClose(listener: (event: DeepgramTransportCloseEvent) => void): void {
    this.closeListeners.push(listener);
  }

  isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  close(code?: number, reason?: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return this.terminate();
    try {
      // A close reason is limited to 123 bytes; the SDK may pass a whole error message.
      const fits = code !== undefined && reason !== undefined && Buffer.byteLength(reason) <= 123;
      this.ws.close(code, fits ? reason : undefined);
    } catch {
      this.terminate();
    }
  }

  private terminate(): void {
    try {
      this.ws.terminate();
    } catch {
      // already closed
    }
  }
}

function toBytes(data: WebSocket.RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}
