/**
 * The fake Deepgram itself speaks the wire protocol of docs/protocols.md#deepgram (checked
 * with a raw `ws` client): handshake rejections with dg-error, Finalize,
 * CloseStream, idle close, transcripts driven by audio bytes only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startFakeDeepgram, type FakeDeepgram } from '../../../src/testing/deepgram-server.js';

let fake: FakeDeepgram | undefined;
const clients: WebSocket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) if (c.readyState !== WebSocket.CLOSED) c.terminate();
  await fake?.close();
  fake = undefined;
});

const QUERY = 'model=nova-3&encoding=mulaw&sample_rate=8000&channels=1&interim_results=true&utterance_end_ms=1000&vad_events=true&endpointing=300';

function connect(query = QUERY, key = 'test-deepgram-key') {
  const ws = new WebSocket(`${fake!.url.replace('http', 'ws')}/v1/listen?${query}`, {
    headers: { Authorization: `Token ${key}` },
  });
  clients.push(ws);
  const messages: Record<string, unknown>[] = [];
  ws.on('error', () => {});
  ws.on('message', (d) => {
    messages.push(JSON.parse(d.toString()));
    fake!.notify();
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  opened.catch(() => {}); // rejected handshakes are awaited through `rejected`
  const rejected = new Promise<{ status: number; dgError: string | undefined }>((resolve) => {
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, dgError: res.headers['dg-error'] as string }));
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return { ws, messages, opened, rejected, closed };
}

describe('fake Deepgram', () => {
  it('rejects bad auth at the upgrade with 401 and a dg-error header', async () => {
    fake = await startFakeDeepgram();
    const c = connect(QUERY, 'nope');
    c.ws.on('error', () => {});
    expect(await c.rejected).toEqual({ status: 401, dgError: 'Invalid credentials.' });
    expect(fake.connections).toHaveLength(0);
  });

  it('rejects a query without model or with encoding but no sample_rate (400)', async () => {
    fake = await startFakeDeepgram();
    const a = connect('encoding=mulaw&sample_rate=8000');
    a.ws.on('error', () => {});
    expect((await a.rejected).status).toBe(400);
    const b = connect('model=nova-3&encoding=mulaw');
    b.ws.on('error', () => {});
    expect(await b.rejected).toMatchObject({ status: 400, dgError: expect.stringMatching(/sample_rate/) });
  });

  it('drives transcripts by audio bytes, not time; say() speaks with the next audio', async () => {
    fake = await startFakeDeepgram({ idleResultEveryMs: 60_000 });
    const c = connect();
    await c.opened;
    fake.say('Book it.', { wordMs: 200 });
    // Nothing happens without audio.
    expect(c.messages).toEqual([]);
    c.ws.send(Buffer.alloc(8000, 0xff)); // 1 s at once
    await fake.until(() => c.messages.some((m) => m.is_final === true), 2000);
    const types = c.messages.map((m) => m.type);
    expect(types.slice(0, 4)).toEqual(['SpeechStarted', 'Results', 'Results', 'Results']);
    const final = c.messages.find((m) => m.is_final)!;
    expect(final).toMatchObject({ start: 0, duration: 0.66, is_final: true, speech_final: true, from_finalize: false });
    expect((final.channel as { alternatives: { words: unknown[] }[] }).alternatives[0]!.words).toEqual([
      { word: 'book', start: 0, end: 0.16, confidence: 0.98, punctuated_word: 'Book' },
      { word: 'it', start: 0.2, end: 0.36, confidence: 0.98, punctuated_word: 'it.' },
    ]);
    c.ws.send(Buffer.alloc(8000, 0xff));
    await fake.until(() => c.messages.some((m) => m.type === 'UtteranceEnd'), 2000);
    expect(c.messages.find((m) => m.type === 'UtteranceEnd')).toEqual({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: 0.36 });
    expect(fake.connections[0]!.bytesReceived).toBe(16000);
  });

  it('Finalize produces a final with from_finalize; CloseStream sends Metadata and closes 1000', async () => {
    fake = await startFakeDeepgram({ idleResultEveryMs: 60_000 });
    const c = connect();
    await c.opened;
    fake.say('Wait a moment please', { endpointAfterMs: null, utteranceEnd: false });
    c.ws.send(Buffer.alloc(4000, 0xff)); // 0.5 s: "Wait" heard (0–0.24)
    c.ws.send(JSON.stringify({ type: 'Finalize' }));
    await fake.until(() => c.messages.some((m) => m.from_finalize === true), 2000);
    const fin = c.messages.find((m) => m.from_finalize === true)!;
    expect(fin).toMatchObject({ is_final: true, speech_final: false, start: 0, duration: 0.5 });
    expect((fin.channel as { alternatives: { transcript: string }[] }).alternatives[0]!.transcript).toBe('Wait');
    c.ws.send(JSON.stringify({ type: 'CloseStream' }));
    expect(await c.closed).toBe(1000);
    expect(c.messages.at(-1)).toMatchObject({ type: 'Metadata', duration: 0.5, channels: 1 });
  });

  it('drop() closes 1011; goSilent() keeps the socket but answers nothing; idle streams close 1011', async () => {
    fake = await startFakeDeepgram({ idleResultEveryMs: 100, idleCloseMs: 100 });
    const a = connect();
    await a.opened;
    fake.drop(undefined, fake.connections[0]);
    expect(await a.closed).toBe(1011);

    const b = connect();
    await b.opened;
    const conn = fake.connections[1]!;
    fake.goSilent(conn);
    b.ws.send(Buffer.alloc(8000));
    await fake.until(() => conn.bytesReceived === 8000, 2000);
    expect(b.messages).toEqual([]);
    expect(conn.open).toBe(true);

    const c = connect();
    await c.opened;
    expect(await c.closed).toBe(1011); // no audio, no KeepAlive
    expect(fake.connections.map((x) => x.index)).toEqual([0, 1, 2]);
  });
});

describe('fake Deepgram HTTP control (for npm run fakes)', () => {
  it('POST /fake/say makes the caller speak on the newest connection; bad input is a 400', async () => {
    fake = await startFakeDeepgram({ idleResultEveryMs: 60_000 });
    const c = connect();
    await c.opened;
    const bad = await fetch(`${fake.url}/fake/say`, { method: 'POST', body: '{}' });
    expect(bad.status).toBe(400);
    const missing = await fetch(`${fake.url}/fake/say`, { method: 'POST', body: JSON.stringify({ text: 'hi', connection: 7 }) });
    expect(missing.status).toBe(404);
    const ok = await fetch(`${fake.url}/fake/say`, { method: 'POST', body: JSON.stringify({ text: 'Hello there.' }) });
    expect(ok.status).toBe(200);
    c.ws.send(Buffer.alloc(16000, 0xff));
    await fake.until(() => c.messages.some((m) => m.speech_final === true), 2000);
    const list = (await (await fetch(`${fake.url}/fake/connections`)).json()) as { bytesReceived: number }[];
    expect(list).toEqual([expect.objectContaining({ index: 0, open: true, bytesReceived: 16000 })]);
    const drop = await fetch(`${fake.url}/fake/drop`, { method: 'POST', body: JSON.stringify({ connection: 0 }) });
    expect(drop.status).toBe(200);
    expect(await c.closed).toBe(1011);
  });
});
