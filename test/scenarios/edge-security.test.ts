import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { sid } from '../../src/testing/twilio-simulator.js';
import { ACCOUNT_SID, CALLER, PIZZA_NUMBER, startHarness, typesOf, type Harness } from './harness.js';

/**
 * The edge refuses what Twilio did not send: webhooks and the media upgrade
 * need a valid X-Twilio-Signature (403 otherwise); a media stream needs a
 * fresh, unused token bound to its call, or it is closed with no audio.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

interface Closed {
  code: number;
  received: string[];
}

/** Sends connected + start with the given token and collects what comes back until close. */
function startStream(ws: WebSocket, callSid: string, token: string | undefined, accountSid = ACCOUNT_SID): Promise<Closed> {
  const received: string[] = [];
  ws.on('message', (d) => received.push(String(d)));
  const closed = new Promise<Closed>((resolve) => ws.on('close', (code) => resolve({ code, received })));
  const streamSid = sid('MZ');
  ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  ws.send(
    JSON.stringify({
      event: 'start',
      sequenceNumber: '1',
      streamSid,
      start: {
        streamSid,
        accountSid,
        callSid,
        tracks: ['inbound'],
        customParameters: token === undefined ? {} : { token },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    }),
  );
  return closed;
}

/** A voice webhook answered with Connect/Stream; returns the call sid and its token. */
async function answeredCall(): Promise<{ callSid: string; token: string }> {
  const callSid = sid('CA');
  const res = await h.sim.post('/twilio/voice', { CallSid: callSid, AccountSid: ACCOUNT_SID, From: CALLER, To: PIZZA_NUMBER, CallStatus: 'ringing', Direction: 'inbound' });
  expect(res.status).toBe(200);
  const token = /<Parameter name="token" value="([^"]+)"\/>/.exec(res.body)?.[1];
  expect(token).toBeDefined();
  return { callSid, token: token! };
}

describe('signatures', () => {
  const params = { CallSid: 'CA' + 'f'.repeat(32), AccountSid: ACCOUNT_SID, From: CALLER, To: PIZZA_NUMBER };

  it('a bad or missing X-Twilio-Signature gets 403 BAD_SIGNATURE on every webhook', async () => {
    for (const path of ['/twilio/voice', '/twilio/stream-ended', '/twilio/dial-result', '/twilio/status']) {
      const forged = await h.sim.post(path, params, 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=');
      expect(forged.status).toBe(403);
      expect(JSON.parse(forged.body).error.code).toBe('BAD_SIGNATURE');
      expect((await h.sim.post(path, params, null)).status).toBe(403);
    }
    // Signed for another host (a rewritten Host header must not help).
    const otherHost = (await import('twilio')).default.getExpectedTwilioSignature('test-twilio-auth-token', 'http://127.0.0.1/twilio/voice', params);
    expect((await h.sim.post('/twilio/voice', params, otherHost)).status).toBe(403);
    expect(await h.container.telephony.calls.get(params.CallSid)).toBeUndefined();
  });

  it('the media upgrade needs the signature over the wss:// URL', async () => {
    await expect(h.sim.openSocket(null)).rejects.toThrow(/403/);
    await expect(h.sim.openSocket('bm9wZQ==')).rejects.toThrow(/403/);
    const ws = await h.sim.openSocket();
    ws.close();
  });
});

describe('stream tokens', () => {
  it('missing, forged, wrong-call, reused and expired tokens close the stream with no audio', async () => {
    const a = await answeredCall();
    const missing = await startStream(await h.sim.openSocket(), a.callSid, undefined);
    expect(missing).toEqual({ code: 1008, received: [] });

    const [body] = a.token.split('.');
    const forged = await startStream(await h.sim.openSocket(), a.callSid, `${body}.${'A'.repeat(43)}`);
    expect(forged).toEqual({ code: 1008, received: [] });

    const b = await answeredCall();
    const wrongCall = await startStream(await h.sim.openSocket(), a.callSid, b.token);
    expect(wrongCall).toEqual({ code: 1008, received: [] });
    const wrongAccount = await startStream(await h.sim.openSocket(), a.callSid, a.token, 'AC' + '9'.repeat(32));
    expect(wrongAccount).toEqual({ code: 1008, received: [] });

    // The genuine token works once (audio flows), then is spent.
    const ws = await h.sim.openSocket();
    const got: string[] = [];
    ws.on('message', (d) => got.push(String(d)));
    void startStream(ws, a.callSid, a.token);
    await h.until(() => got.some((m) => m.includes('"event":"media"')), { what: 'greeting audio' });
    const reused = await startStream(await h.sim.openSocket(), a.callSid, a.token);
    expect(reused).toEqual({ code: 1008, received: [] });
    ws.close();

    // Unused for more than 60 s: expired (and the call, never streamed, ended at 10 s).
    const c = await answeredCall();
    await h.until(async () => (await h.container.telephony.calls.get(c.callSid))?.state === 'ended', { what: 'no_stream end' });
    expect((await h.record(c.callSid)).outcome?.kind).toBe('no_stream');
    await h.clock.advance(61_000);
    const expired = await startStream(await h.sim.openSocket(), c.callSid, c.token);
    expect(expired).toEqual({ code: 1008, received: [] });
    const rejected = h.eventsOf(a.callSid).flatMap((e) => (e.type === 'stream.rejected' ? [e.reason] : []));
    expect(rejected).toEqual(expect.arrayContaining(['token_bad_signature', 'token_reused']));
    expect(typesOf(h.eventsOf(c.callSid))).toEqual(['call.started', 'call.state', 'call.ended', 'stream.rejected']);
    expect(h.eventsOf(c.callSid).at(-1)).toMatchObject({ reason: 'token_expired' });
  });
});

describe('replayed webhooks', () => {
  it('a replayed signed webhook is idempotent: the voice webhook twice makes one call, a final status twice ends it once', async () => {
    const callSid = sid('CA');
    const params = { CallSid: callSid, AccountSid: ACCOUNT_SID, From: CALLER, To: PIZZA_NUMBER, CallStatus: 'ringing', Direction: 'inbound' };
    const signature = h.sim.sign('/twilio/voice', params);
    const first = await h.sim.post('/twilio/voice', params, signature);
    // The very same request again (a retry by Twilio, or a replay by someone who captured it).
    const again = await h.sim.post('/twilio/voice', params, signature);
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(again.body).toContain('<Connect');
    expect(h.eventsOf(callSid).filter((e) => e.type === 'call.started')).toHaveLength(1);
    const record = await h.record(callSid);
    expect(record.state).toBe('connecting');

    const status = { CallSid: callSid, AccountSid: ACCOUNT_SID, CallStatus: 'completed', CallDuration: '3' };
    const statusSignature = h.sim.sign('/twilio/status', status);
    for (let i = 0; i < 3; i++) expect((await h.sim.post('/twilio/status', status, statusSignature)).status).toBe(200);
    expect(h.eventsOf(callSid).filter((e) => e.type === 'call.ended')).toHaveLength(1);
    expect((await h.record(callSid)).outcome).toEqual({ kind: 'completed', detail: 'status:completed' });
  });
});
