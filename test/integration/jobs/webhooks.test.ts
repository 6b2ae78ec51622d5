import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { MemoryJobRunner } from '../../../src/jobs/memory-runner.js';
import { verifyWebhookSignature } from '../../../src/jobs/webhooks/signature.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { agentIn, bearer, keysByRole } from '../http/fixtures.js';

/**
 * Invariant: a call event of an agent with a webhook is POSTed to its URL,
 * signed with HMAC-SHA256 over `timestamp.body`; failures are retried with
 * exponential backoff; after the last attempt the delivery is in the failed
 * list of the API, and its retry is delivered with a valid signature.
 * Backoff runs on a manual clock: no test waits on real time.
 */

const SECRET = 'a-webhook-secret-of-the-builder';
interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

let t: TestApp;
let jobClock: ManualClock;
let runner: MemoryJobRunner;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
/** Status the receiver answers with, one per request; 200 once they run out. */
const replies: number[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(replies.shift() ?? 200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/calls`;
  jobClock = new ManualClock();
  runner = new MemoryJobRunner({ clock: jobClock, logger: silentLogger });
  t = await buildTestApp({
    env: { HTTP_ALLOW_HOSTS: '127.0.0.1' },
    overrides: { jobs: runner, jobPolicies: { webhook: { attempts: 3, backoff: { type: 'exponential', delayMs: 1000 } } } },
  });
});

afterAll(async () => {
  await t?.close();
  await new Promise<void>((r) => receiver.close(() => r()));
});

async function endCall(agent: { id: string; slug: string }, callSid: string): Promise<void> {
  const calls = t.container.telephony.calls;
  await calls.open({ callSid, accountSid: 'AC1', agentId: agent.id, slug: agent.slug, version: 1, from: '+15550001234', to: '+15550009876', direction: 'inbound' });
  await calls.end(callSid, 'caller hung up');
  await t.container.webhooks.settled();
  await runner.idle();
}

function valid(r: Received): boolean {
  return verifyWebhookSignature({
    secret: SECRET,
    body: r.body,
    timestamp: r.headers['x-webhook-timestamp'] as string | undefined,
    signature: r.headers['x-webhook-signature'] as string | undefined,
    nowSeconds: Math.floor(Date.now() / 1000),
  });
}

describe('outbound webhooks', () => {
  it('sets the webhook on the agent; the secret is never shown', async () => {
    const keys = await keysByRole(t);
    const agent = await agentIn(t, 'draft');
    const set = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/agents/${agent.id}`,
      headers: bearer(keys.builder),
      payload: { webhook: { url: receiverUrl, secret: SECRET } },
    });
    expect(set.statusCode).toBe(200);
    expect(set.json().webhook).toEqual({ url: receiverUrl });
    expect(set.body).not.toContain(SECRET);
    const short = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/agents/${agent.id}`,
      headers: bearer(keys.builder),
      payload: { webhook: { url: receiverUrl, secret: 'short' } },
    });
    expect(short.statusCode).toBe(400);
    const withCredentials = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/agents/${agent.id}`,
      headers: bearer(keys.builder),
      payload: { webhook: { url: 'https://user:pw@example.com/x', secret: SECRET } },
    });
    expect(withCredentials.statusCode).toBe(400);
    const removed = await t.app.inject({ method: 'PATCH', url: `/api/v1/agents/${agent.id}`, headers: bearer(keys.builder), payload: { webhook: null } });
    expect(removed.json().webhook).toBeNull();
  });

  it('retries with backoff, lands in the failed list, and a retry is delivered with a valid signature', async () => {
    const agent = await agentIn(t, 'draft');
    await t.container.persistence.agents.patch(agent.id, { webhook: { url: receiverUrl, secret: SECRET } });
    received.length = 0;
    replies.push(500, 503, 502, 500);

    await endCall(agent, 'CAwebhook1');
    expect(received).toHaveLength(1);
    await jobClock.advance(999);
    expect(received).toHaveLength(1);
    await jobClock.advance(1);
    await runner.idle();
    expect(received).toHaveLength(2);
    await jobClock.advance(2000);
    await runner.idle();
    expect(received).toHaveLength(3);

    // The delivery: a JSON envelope of the event, numbers masked, signed on every attempt.
    const first = JSON.parse(received[0]!.body);
    expect(first).toMatchObject({
      type: 'call.ended',
      agent: { id: agent.id, slug: agent.slug },
      call: { id: 'CAwebhook1', from: '+1****1234', to: '+1****9876', direction: 'inbound', state: 'ended' },
      data: { reason: 'caller hung up', outcome: 'completed' },
    });
    expect(received[0]!.headers['x-webhook-event']).toBe('call.ended');
    expect(received.map((r) => r.headers['x-webhook-id'])).toEqual(Array(3).fill(first.id));
    expect(received.every(valid)).toBe(true);
    expect(received[0]!.body).not.toContain('+15550001234');

    const list = await t.app.inject({ method: 'GET', url: '/api/v1/webhooks/failed', headers: bearer(t.adminKey) });
    expect(list.statusCode).toBe(200);
    const [failed] = list.json().items;
    expect(failed).toMatchObject({ id: first.id, agentId: agent.id, type: 'call.ended', callId: 'CAwebhook1', attempts: 3, error: 'the receiver answered HTTP 502' });
    expect(failed.payload).toEqual(first);

    // The receiver still fails once after the retry: the retry has all its attempts again.
    const retry = await t.app.inject({ method: 'POST', url: `/api/v1/webhooks/failed/${encodeURIComponent(first.id)}/retry`, headers: bearer(t.adminKey) });
    expect(retry.statusCode).toBe(202);
    await runner.idle();
    expect(received).toHaveLength(4);
    await jobClock.advance(1000);
    await runner.idle();
    expect(received).toHaveLength(5);
    const delivered = received[4]!;
    expect(valid(delivered)).toBe(true);
    expect(delivered.body).toBe(received[0]!.body);
    // The signature covers the body: any change to it is caught.
    expect(valid({ ...delivered, body: delivered.body.replace('CAwebhook1', 'CAwebhook2') })).toBe(false);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/webhooks/failed', headers: bearer(t.adminKey) })).json().items).toEqual([]);
    const again = await t.app.inject({ method: 'POST', url: `/api/v1/webhooks/failed/${encodeURIComponent(first.id)}/retry`, headers: bearer(t.adminKey) });
    expect(again.statusCode).toBe(404);
  });

  it('an agent without a webhook sends nothing; a refused address fails at once', async () => {
    const quiet = await agentIn(t, 'draft');
    received.length = 0;
    await endCall(quiet, 'CAwebhook3');
    expect(received).toEqual([]);

    const internal = await agentIn(t, 'draft');
    // 10.0.0.0/8 is internal and not in HTTP_ALLOW_HOSTS: the outbound guard refuses it, no retry can help.
    await t.container.persistence.agents.patch(internal.id, { webhook: { url: 'http://10.1.2.3/hook', secret: SECRET } });
    await endCall(internal, 'CAwebhook4');
    const items = (await t.app.inject({ method: 'GET', url: '/api/v1/webhooks/failed', headers: bearer(t.adminKey) })).json().items;
    expect(items).toEqual([expect.objectContaining({ callId: 'CAwebhook4', attempts: 1, error: expect.stringMatching(/HTTP_ALLOW_HOSTS/) })]);
  });
});
