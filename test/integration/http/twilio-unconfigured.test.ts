import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { buildTestApp, type TestApp } from '../../support/app.js';

/**
 * Invariant: a server without TWILIO_AUTH_TOKEN refuses every Twilio request (nothing can be
 * verified), and each refusal's log line names the variable to set.
 */
let t: TestApp;
const lines: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  t = await buildTestApp({ logger: createLogger('warn', sink) });
});
afterAll(async () => t.close());

describe('Twilio webhooks without TWILIO_AUTH_TOKEN', () => {
  it('get 403 BAD_SIGNATURE, and the log names TWILIO_AUTH_TOKEN', async () => {
    expect(t.container.config.TWILIO_AUTH_TOKEN).toBeUndefined();
    const res = await t.app.inject({
      method: 'POST',
      url: '/twilio/voice',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'c2lnbmF0dXJl' },
      payload: `CallSid=CA${'a'.repeat(32)}&AccountSid=AC${'b'.repeat(32)}&From=%2B15550100100&To=%2B15550100001`,
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('BAD_SIGNATURE');
    const refused = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === 'Twilio request refused');
    expect(refused).toEqual([
      expect.objectContaining({ path: '/twilio/voice', verdict: 'no_auth_token', reason: expect.stringContaining('TWILIO_AUTH_TOKEN is not set') }),
    ]);
  });
});
