import { Buffer } from 'node:buffer';
import type { WebSocket } from 'ws';
import type { Calls } from '../calls/calls.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { CLOSE_MESSAGE_RATE, CLOSE_MESSAGE_RATE_REASON, MEDIA_MESSAGE_RATE, MessageRateLimiter, type MessageRatePolicy } from '../core/message-rate.js';
import type { MediaChannel, StreamCloseReason, StreamHandler } from '../pipeline/media-channel.js';
import { MediaFrameReader } from './media-frame-reader.js';
import { IgnoredFrameCounter, OutboundSerializer, decodePayload, parseInbound, type InboundMessage } from './messages.js';
import type { StreamTokens } from './stream-token.js';

/**
 * The media WebSocket of one call (docs/architecture.md#media-stream-phases). Handlers are attached
 * synchronously, before any await, or Twilio's first frames are lost. Nothing
 * is sent until a `start` with a valid token: a missing, forged, reused or
 * expired token closes the socket with no audio.
 */

/** Policy violation: the close code for a refused token. */
const CLOSE_REFUSED = 1008;

/**
 * A socket that has not sent `start` this long after the upgrade is closed.
 * Twilio sends `connected` and `start` within a few hundred milliseconds of
 * opening the stream; a peer that stays silent holds a socket and memory for
 * nothing (over 70 s was seen), so ten seconds is generous for a slow network
 * and short enough that idle sockets cannot pile up.
 */
export const START_TIMEOUT_MS = 10_000;

/** Process-wide media-socket counters (exposed by /bench/stats). */
export interface MediaStreamCounters {
  /** Sockets closed because no `start` arrived within START_TIMEOUT_MS. */
  closedWithoutStart: number;
  /** Messages dropped over the per-stream message rate (src/core/message-rate.ts). */
  droppedForRate: number;
  /** Sockets closed (1008) for flooding past the rate limit. */
  closedForRate: number;
  /** The same three for audio forks (`WS /twilio/fork`, src/http/routes/twilio-handoff.ts). */
  forksClosedWithoutStart: number;
  forkDroppedForRate: number;
  forksClosedForRate: number;
}

export const newMediaStreamCounters = (): MediaStreamCounters => ({
  closedWithoutStart: 0,
  droppedForRate: 0,
  closedForRate: 0,
  forksClosedWithoutStart: 0,
  forkDroppedForRate: 0,
  forksClosedForRate: 0,
});

export interface StreamOpenContext {
  callSid: string;
  accountSid: string;
  streamSid: string;
  channel: MediaChannel;
  logger: Logger;
}

export interface MediaStreamDeps {
  tokens: StreamTokens;
  calls: Calls;
  clock: Clock;
  logger: Logger;
  counters?: MediaStreamCounters;
  /** Message-rate limit per stream (default MEDIA_MESSAGE_RATE). */
  messageRate?: MessageRatePolicy;
  /** Creates the live call session for an accepted stream; undefined refuses it. */
  openSession(ctx: StreamOpenContext): Promise<StreamHandler | undefined>;
}

type Phase = 'awaiting_start' | 'starting' | 'live' | 'refused' | 'closed';

export function attachMediaStream(socket: WebSocket, deps: MediaStreamDeps): void {
  let phase: Phase = 'awaiting_start';
  let handler: StreamHandler | undefined;
  let channel: (MediaChannel & { framesOut: number }) | undefined;
  let callSid: string | undefined;
  let streamSid: string | undefined;
  let log = deps.logger;
  let stopped = false;
  let tooLarge = false;
  let flooded = false;
  let serverClosed = false;
  const rate = new MessageRateLimiter(deps.messageRate ?? MEDIA_MESSAGE_RATE);
  let framesIn = 0;
  /** The live stream's media frames, read without parsing (media-frame-reader.ts); set with `live`. */
  let reader: MediaFrameReader | undefined;
  const early: InboundMessage[] = [];
  const ignored = new IgnoredFrameCounter();
  const startTimer = deps.clock.setTimeout(() => {
    if (phase !== 'awaiting_start') return;
    phase = 'refused';
    if (deps.counters) deps.counters.closedWithoutStart++;
    log.warn({ afterMs: START_TIMEOUT_MS, ignoredTotal: ignored.total }, 'media stream sent no start; closing it');
    serverClosed = true;
    socket.close(CLOSE_REFUSED, 'no start');
  }, START_TIMEOUT_MS);

  const countIgnored = (reason: Parameters<IgnoredFrameCounter['count']>[0]) => {
    const n = ignored.count(reason, deps.clock.now());
    if (n !== undefined) log.warn({ reason, ignoredSinceLastLog: n, ignoredTotal: ignored.total }, 'media frames ignored');
  };

  const dispatch = (msg: InboundMessage) => {
    if (!handler) return;
    switch (msg.event) {
      case 'media':
        framesIn++;
        handler.onMedia(decodePayload(msg.payload), msg.timestampMs);
        return;
      case 'dtmf':
        handler.onDtmf(msg.digit);
        return;
      case 'mark':
        handler.onMark(msg.name);
        return;
      case 'stop':
        stopped = true;
        handler.onStop();
        // Twilio closes after `stop`; closing here too keeps a lingering peer from holding the call.
        socket.close(1000);
        return;
    }
  };

  const refuse = (reason: string, sid?: string) => {
    phase = 'refused';
    startTimer.cancel();
    log.warn({ reason }, 'media stream refused');
    if (sid) deps.calls.emit({ type: 'stream.rejected', callSid: sid, reason });
    serverClosed = true;
    socket.close(CLOSE_REFUSED, 'refused');
  };

  const begin = async (msg: Extract<InboundMessage, { event: 'start' }>) => {
    const check = deps.tokens.verify(msg.customParameters.token, msg.callSid, msg.accountSid);
    if (!check.ok) return refuse(`token_${check.reason}`, check.reason === 'missing' || check.reason === 'wrong_call' ? undefined : msg.callSid);
    phase = 'starting';
    startTimer.cancel();
    callSid = msg.callSid;
    streamSid = msg.streamSid;
    log = deps.logger.child({ callSid, streamSid });
    const out = new OutboundSerializer(msg.streamSid);
    const ch = {
      callSid: msg.callSid,
      streamSid: msg.streamSid,
      framesOut: 0,
      get isOpen() {
        return socket.readyState === socket.OPEN;
      },
      sendMedia(mulaw: Uint8Array) {
        if (socket.readyState !== socket.OPEN) return;
        ch.framesOut++;
        socket.send(out.media(mulaw));
      },
      sendMark(name: string) {
        if (socket.readyState === socket.OPEN) socket.send(out.mark(name));
      },
      sendClear() {
        if (socket.readyState === socket.OPEN) socket.send(out.clear());
      },
      close(reason: string) {
        if (socket.readyState !== socket.OPEN) return;
        log.debug({ reason }, 'closing media stream');
        serverClosed = true;
        socket.close(1000, reason.slice(0, 100));
      },
    };
    channel = ch;
    try {
      if (!(await deps.calls.streamStarted(msg.callSid, msg.streamSid))) return refuse('call_not_connecting', msg.callSid);
      handler = await deps.openSession({ callSid: msg.callSid, accountSid: msg.accountSid, streamSid: msg.streamSid, channel: ch, logger: log });
    } catch (err) {
      log.error({ err }, 'could not open the call session');
    }
    if (phase !== 'starting') return; // closed while starting
    if (!handler) {
      serverClosed = true;
      socket.close(1011, 'no session');
      return;
    }
    phase = 'live';
    reader = new MediaFrameReader(msg.streamSid);
    for (const m of early.splice(0)) dispatch(m);
  };

  socket.on('message', (data, isBinary) => {
    if (flooded) return;
    // Before parsing: a flood must cost as little as possible.
    const verdict = rate.take(deps.clock.now());
    if (verdict !== 'ok') {
      if (deps.counters) deps.counters.droppedForRate++;
      if (verdict === 'drop') return countIgnored('rate_limited');
      flooded = true;
      if (deps.counters) deps.counters.closedForRate++;
      log.warn({ dropped: rate.dropped, phase }, 'media stream flooded past its message rate; closing it');
      phase = phase === 'awaiting_start' ? 'refused' : phase;
      startTimer.cancel();
      serverClosed = true;
      socket.close(CLOSE_MESSAGE_RATE, CLOSE_MESSAGE_RATE_REASON);
      return;
    }
    if (reader && phase === 'live' && !isBinary && Buffer.isBuffer(data)) {
      // The hot path: a media frame of this stream, with nothing allocated (the buffer is reused).
      const mulaw = reader.read(data);
      if (mulaw) {
        framesIn++;
        handler!.onMedia(mulaw, reader.timestampMs);
        return;
      }
    }
    const msg = parseInbound(data as Buffer, isBinary);
    if (msg.event === 'ignored') return countIgnored(msg.reason);
    if (msg.event === 'connected') return;
    switch (phase) {
      case 'awaiting_start':
        if (msg.event === 'start') void begin(msg);
        else countIgnored('before_start');
        return;
      case 'starting':
      case 'live':
        if (msg.event === 'start') return countIgnored('unknown_event');
        if (msg.streamSid !== streamSid) return countIgnored('wrong_stream');
        if (phase === 'starting') early.push(msg);
        else dispatch(msg);
        return;
      default:
        return;
    }
  });

  socket.on('error', (err: Error & { code?: string }) => {
    // ws has already answered an oversized frame with close 1009.
    if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') tooLarge = true;
    else log.warn({ err }, 'media socket error');
  });

  socket.on('close', () => {
    startTimer.cancel();
    const wasLive = phase === 'live' || phase === 'starting';
    phase = 'closed';
    if (!wasLive || !callSid || !streamSid) return;
    const reason: StreamCloseReason = stopped ? 'stop' : tooLarge ? 'too_large' : flooded ? 'rate_limited' : serverClosed ? 'server_closed' : 'socket_closed';
    if (tooLarge) log.warn('media frame above the payload limit; stream closed with 1009');
    try {
      handler?.onClosed(reason);
    } catch (err) {
      log.error({ err }, 'session close failed');
    }
    const sid = callSid;
    const ssid = streamSid;
    void (async () => {
      await deps.calls.bumpMetrics(sid, { framesIn, framesOut: channel?.framesOut ?? 0, ignoredFrames: ignored.total });
      if (ignored.total > 0) deps.calls.emit({ type: 'media.ignored', callSid: sid, reason: Object.keys(ignored.byReason).join(','), count: ignored.total });
      await deps.calls.streamEnded(sid, ssid, reason);
    })().catch((err) => log.error({ err }, 'recording the stream end failed'));
  });
}
