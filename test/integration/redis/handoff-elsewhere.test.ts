import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import twilio from 'twilio';
import type { AttemptOutcome } from '../../../src/handoff/transfer-run.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../../src/testing/twilio-rest.js';
import type { TestApp } from '../../support/app.js';
import { TEST_REDIS_URL } from './redis-test.js';
import { eventually, startProcesses, type Processes } from './two-processes.js';

/**
 * A warm transfer runs on process B while the caller's final status callback
 * lands on process A (real Redis): B hears the call end through Redis and lets
 * the ringing person's leg go at once (`caller_hung_up`), as in one process.
 */
const ACCOUNT_SID = 'AC' + 'c'.repeat(32);
const AUTH_TOKEN = 'handoff-elsewhere-token';
const CALLER = 'CA' + '9'.repeat(32);

let p: Processes | undefined;
let rest: FakeTwilioRest | undefined;
afterEach(async () => {
  const prefix = p?.prefix;
  await p?.close();
  p = undefined;
  await rest?.close();
  rest = undefined;
  if (prefix) {
    const r = new Redis(TEST_REDIS_URL);
    try {
      expect(await r.keys(`${prefix}*`)).toEqual([]);
    } finally {
      r.disconnect();
    }
  }
});

const signed = (t: TestApp, path: string, params: Record<string, string>) =>
  t.app.inject({
    method: 'POST',
    url: path,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, t.container.config.PUBLIC_URL + path, params),
    },
    payload: new URLSearchParams(params).toString(),
  });

describe('a warm transfer on one process, the caller hanging up through another', () => {
  it('the ringing person’s leg is cancelled at once by the transfer’s process', async () => {
    rest = await startFakeTwilioRest();
    p = await startProcesses(2, { env: { TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_BASE_URL: rest.url } });
    const [a, b] = p.apps as [TestApp, TestApp];
    await b.container.telephony.calls.open({
      callSid: CALLER,
      accountSid: ACCOUNT_SID,
      agentId: 'ag_x',
      slug: 'x',
      version: 1,
      from: '+15550001111',
      to: '+15550100002',
      direction: 'inbound',
    });
    const outcomes: AttemptOutcome[] = [];
    const released: string[] = [];
    const { done } = b.container.handoff.handoffs.start({
      callerSid: CALLER,
      callerId: '+15550100002',
      people: {
        pick: async (exclude) => (exclude.includes('st-ana') ? undefined : { staffId: 'st-ana', dial: '+15550107001' }),
        release: async (staffId) => void released.push(staffId),
      },
      mode: 'warm',
      ringSeconds: 20,
      maxWaitMs: 60_000,
      brief: 'A caller wants a person.',
      onOutcome: (o) => outcomes.push(o),
    });
    const creates = () => rest!.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/Calls.json'));
    await eventually(() => creates().length === 1, 'the person’s leg to be placed');
    const run = b.container.handoff.handoffs.get(CALLER)!;

    // The caller hangs up; Twilio's status callback lands on A.
    const status = await signed(a, '/twilio/status', { CallSid: CALLER, AccountSid: ACCOUNT_SID, CallStatus: 'completed' });
    expect(status.statusCode, status.body).toBe(200);
    let result: unknown;
    void done.then((r) => (result = r));
    await eventually(() => result !== undefined, 'the transfer to end');
    expect(result).toEqual({ result: 'caller_hung_up' });
    expect(outcomes.map((o) => [o.outcome, o.staffId])).toEqual([['caller_hung_up', 'st-ana']]);
    await run.idle();
    expect(released).toEqual(['st-ana']);
    // The leg was let go through the REST API by B.
    await eventually(() => rest!.requests.some((r) => r.callSid !== undefined && r.callSid !== CALLER && /canceled|completed/.test(String(r.form.Status))), 'the leg cancelled');
  });
});
