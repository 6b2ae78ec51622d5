import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { Calls } from '../../../src/calls/calls.js';
import { MemoryCallEventBus, type CallEvent } from '../../../src/calls/events.js';
import { MemoryCallRepository } from '../../../src/calls/repository.js';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { MediaChannel, StreamCloseReason, StreamHandler } from '../../../src/pipeline/media-channel.js';
import { START_TIMEOUT_MS, attachMediaStream, newMediaStreamCounters, type StreamOpenContext } from '../../../src/telephony/media-stream.js';
import { StreamTokens } from '../../../src/telephony/stream-token.js';

/**
 * The media WebSocket of one call, without a network: a fake socket feeds
 * Twilio's messages and records what the server sends and how it closes.
 */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  sent: unknown[] = [];
  closed: { code: number; reason?: string } | undefined;
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code: number, reason?: string) {
    if (this.closed) return;
    this.closed = { code, ...(reason !== undefined ? { reason } : {}) };
    this.readyState = 3;
    queueMicrotask(() => this.emit('close', code));
  }
  receive(msg: unknown) {
    this.emit('message', Buffer.from(JSON.stringify(msg)), false);
  }
}

const CA = 'CA' + '1'.repeat(32);
const AC = 'AC' + '0'.repeat(32);
const MZ = 'MZ' + '2'.repeat(32);

class RecordingHandler implements StreamHandler {
  log: string[] = [];
  onMedia(mulaw: Buffer) {
    this.log.push(`media:${mulaw.length}`);
  }
  onDtmf(d: string) {
    this.log.push(`dtmf:${d}`);
  }
  onMark(n: string) {
    this.log.push(`mark:${n}`);
  }
  onStop() {
    this.log.push('stop');
  }
  onClosed(r: StreamCloseReason) {
    this.log.push(`closed:${r}`);
  }
}

async function setup(options: { openSession?: (ctx: StreamOpenContext) => Promise<StreamHandler | undefined> } = {}) {
  const clock = new ManualClock();
  const bus = new MemoryCallEventBus();
  const events: CallEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const calls = new Calls(new MemoryCallRepository(), bus, clock, silentLogger);
  await calls.open({ callSid: CA, accountSid: AC, agentId: 'a', slug: 's', version: 1, from: '+15550001111', to: '+15550100002', direction: 'inbound' });
  const tokens = new StreamTokens('unit-secret-key-0123456789', clock);
  const socket = new FakeSocket();
  const handler = new RecordingHandler();
  const counters = newMediaStreamCounters();
  let channel: MediaChannel | undefined;
  attachMediaStream(socket as unknown as WebSocket, {
    tokens,
    calls,
    clock,
    logger: silentLogger,
    counters,
    openSession:
      options.openSession ??
      (async (ctx) => {
        channel = ctx.channel;
        return handler;
      }),
  });
  const start = (token = tokens.issue(CA, AC)) =>
    socket.receive({ event: 'start', streamSid: MZ, start: { callSid: CA, accountSid: AC, streamSid: MZ, customParameters: { token }, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } } });
  const media = (bytes = 160) =>
    socket.receive({ event: 'media', streamSid: MZ, sequenceNumber: '2', media: { track: 'inbound', chunk: '1', timestamp: '20', payload: Buffer.alloc(bytes, 0xff).toString('base64') } });
  const settle = async () => {
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  };
  return { clock, calls, events, socket, handler, counters, start, media, settle, channel: () => channel };
}

describe('media stream', () => {
  it('a socket that never sends start is closed after START_TIMEOUT_MS and counted', async () => {
    const { clock, socket, counters, handler, settle } = await setup();
    socket.receive({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    await clock.advance(START_TIMEOUT_MS - 1);
    expect(socket.closed).toBeUndefined();
    await clock.advance(1);
    await settle();
    expect(socket.closed).toEqual({ code: 1008, reason: 'no start' });
    expect(counters.closedWithoutStart).toBe(1);
    expect(handler.log).toEqual([]);
  });

  it('a stream that starts in time is never closed by the start timer', async () => {
    const { clock, socket, counters, start, settle } = await setup();
    start();
    await settle();
    await clock.advance(START_TIMEOUT_MS * 3);
    expect(socket.closed).toBeUndefined();
    expect(counters.closedWithoutStart).toBe(0);
  });

  it('a valid start opens the session; frames that arrive while it opens are delivered in order', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const handler = new RecordingHandler();
    const { socket, start, media, settle, calls } = await setup({
      openSession: async () => {
        await gate;
        return handler;
      },
    });
    start();
    media(160);
    socket.receive({ event: 'dtmf', streamSid: MZ, dtmf: { track: 'inbound_track', digit: '5' } });
    await settle();
    expect(handler.log).toEqual([]);
    release();
    await settle();
    expect(handler.log).toEqual(['media:160', 'dtmf:5']);
    expect((await calls.get(CA))?.streams[0]?.streamSid).toBe(MZ);
  });

  it("a live stream's media frames reach the call with their bytes and timestamps, in every layout", async () => {
    const got: { bytes: number[]; timestampMs: number }[] = [];
    const handler = new RecordingHandler();
    // The buffer is reused for the next frame (media-frame-reader.ts): a handler copies what it keeps.
    handler.onMedia = (mulaw: Buffer, timestampMs?: number) => void got.push({ bytes: [...mulaw], timestampMs: timestampMs ?? -1 });
    const { socket, start, settle, counters } = await setup({ openSession: async () => handler });
    start();
    await settle();
    const frame = (i: number) => Buffer.from([i, i + 1, i + 2, 0xff]).toString('base64');
    // Twilio's own layout (the reader), streamSid first (the reader), and field order no fast path takes (JSON).
    socket.emit('message', Buffer.from(`{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"2","timestamp":"40","payload":"${frame(1)}"},"streamSid":"${MZ}"}`), false);
    socket.emit('message', Buffer.from(`{"event":"media","sequenceNumber":"4","streamSid":"${MZ}","media":{"track":"inbound","chunk":"3","timestamp":"60","payload":"${frame(2)}"}}`), false);
    socket.receive({ streamSid: MZ, event: 'media', media: { payload: frame(3), timestamp: '80', track: 'inbound', chunk: '4' } });
    expect(got).toEqual([
      { bytes: [1, 2, 3, 0xff], timestampMs: 40 },
      { bytes: [2, 3, 4, 0xff], timestampMs: 60 },
      { bytes: [3, 4, 5, 0xff], timestampMs: 80 },
    ]);
    expect(counters.droppedForRate).toBe(0);
  });

  it('frames for another stream are ignored and counted on the call', async () => {
    const { socket, start, handler, settle, calls } = await setup();
    start();
    await settle();
    socket.receive({ event: 'mark', streamSid: 'MZother', mark: { name: 'x' } });
    socket.receive({ event: 'mark', streamSid: MZ, mark: { name: '1:0' } });
    // The peer goes away without `stop`.
    socket.close(1006);
    await settle();
    expect(handler.log).toEqual(['mark:1:0', 'closed:socket_closed']);
    expect((await calls.get(CA))?.metrics.ignoredFrames).toBe(1);
  });

  it('a forged token closes the socket with 1008 and no session', async () => {
    let opened = false;
    const { socket, start, settle, events } = await setup({
      openSession: async () => {
        opened = true;
        return new RecordingHandler();
      },
    });
    start('forged.token');
    await settle();
    expect(socket.closed?.code).toBe(1008);
    expect(opened).toBe(false);
    expect(socket.sent).toEqual([]);
    expect(events.some((e) => e.type === 'stream.started')).toBe(false);
  });

  it('stop reaches the handler, then the socket closes and the stream end is recorded', async () => {
    const { socket, start, handler, settle, calls } = await setup();
    start();
    await settle();
    socket.receive({ event: 'stop', streamSid: MZ, stop: { accountSid: AC, callSid: CA } });
    await settle();
    expect(handler.log).toEqual(['stop', 'closed:stop']);
    expect(socket.closed?.code).toBe(1000);
    const record = await calls.get(CA);
    expect(record?.streams[0]).toMatchObject({ streamSid: MZ, endReason: 'stop' });
    expect(record?.state).toBe('ended');
  });

  it('the channel sends media, marks and clear in Twilio shape, and nothing once closed', async () => {
    const { socket, start, settle, channel } = await setup();
    start();
    await settle();
    const ch = channel()!;
    ch.sendMedia(new Uint8Array(160));
    ch.sendMark('1:0');
    ch.sendClear();
    ch.close('done');
    ch.sendMedia(new Uint8Array(160));
    expect(socket.sent.map((m) => (m as { event: string }).event)).toEqual(['media', 'mark', 'clear']);
    expect(socket.sent[1]).toMatchObject({ streamSid: MZ, mark: { name: '1:0' } });
    expect(socket.closed).toEqual({ code: 1000, reason: 'done' });
  });
});
