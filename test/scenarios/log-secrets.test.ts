import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { conferenceName, forkName } from '../../src/telephony/handoff-twiml.js';
import { AUTH_TOKEN, CALLER, startHarness, type Harness } from './harness.js';
import { TALK_NUMBER, agentTurnsDone, startTalkHarness, type TalkHarness } from './spoken-flows.js';

/**
 * Secrets and phone numbers never reach the logs. A whole spoken call (with a
 * provider failure, so error paths log too) and an API session (admin key, a
 * new API key, a person's sign-in with a password and a wrong one, their
 * session token, sign-out) run with the server's real pino logger at `trace`,
 * captured; no captured line contains any key, token, password or full number.
 * So does a warm transfer to a person (the brief, the person's leg, the
 * conference, the audio fork, the person leaving).
 */
let h: TalkHarness | undefined;
let hh: Harness | undefined;
let dir: string | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
  await hh?.close();
  hh = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const ADMIN_KEY = 'LogCaptureAdminKey-0123456789abcdefXYZ';
const PASSWORD = 'correct-horse-battery-staple';

describe('secrets in logs', () => {
  it('a whole call and an API session log no key, token, password or full phone number', async () => {
    const lines: string[] = [];
    const logger = createLogger('trace', { write: (chunk: string) => void lines.push(chunk) });
    h = await startTalkHarness(undefined, { logger, env: { ADMIN_API_KEY: ADMIN_KEY } });
    const api = (method: 'GET' | 'POST', url: string, token: string, payload?: object) =>
      h!.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) });

    // The call: the first LLM request fails (logged), the retry answers.
    h.openai!.enqueue({ status: 500 }, { text: 'We are at 12 Maple Street.' });
    const call = await h.sim.placeCall({ from: CALLER, to: TALK_NUMBER });
    await agentTurnsDone(h, call.callSid, 1, 'greeting');
    h.say('Where are you located?');
    await agentTurnsDone(h, call.callSid, 2, 'the answer');
    await call.hangUp();
    await h.finish(call);

    // The API session.
    const created = await api('POST', '/api-keys', ADMIN_KEY, { name: 'ci', role: 'builder' });
    expect(created.statusCode).toBe(201);
    const apiKey = created.json().key as string;
    expect((await api('GET', '/agents', apiKey)).statusCode).toBe(200);
    expect((await api('GET', '/calls', ADMIN_KEY)).statusCode).toBe(200);
    await h.container.people.staff.create({ displayName: 'Sam', username: 'sam', password: PASSWORD, role: 'support' });
    const wrong = await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'sam', password: 'wrong-password-guess' } });
    expect(wrong.statusCode).toBe(401);
    const login = await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'sam', password: PASSWORD } });
    expect(login.statusCode).toBe(200);
    const session = login.json().token as string;
    expect((await api('GET', '/me', session)).statusCode).toBe(200);
    expect((await api('GET', '/calls', 'not-a-real-token-but-secret-looking')).statusCode).toBe(401);
    expect((await api('POST', '/auth/logout', session)).statusCode).toBeLessThan(300);
    await h.container.callRecorder.flush();

    const secrets = {
      ADMIN_KEY,
      apiKey,
      session,
      PASSWORD,
      wrongPassword: 'wrong-password-guess',
      badToken: 'not-a-real-token-but-secret-looking',
      openaiKey: 'test-openai-key',
      deepgramKey: h.dg!.apiKey,
      elevenlabsKey: h.tts.apiKey,
      twilioAuthToken: AUTH_TOKEN,
      secretKey: 'scenario-secret-key-0123456789',
      caller: CALLER.slice(1),
      agentNumber: TALK_NUMBER.slice(1),
    };
    const all = lines.join('');
    // The capture saw the call and the session (the test would pass vacuously otherwise).
    const records = all.split('\n').filter(Boolean);
    expect(records.length).toBeGreaterThan(5);
    expect(all).toContain(call.callSid);
    const leaks = Object.entries(secrets).filter(([, value]) => all.includes(value)).map(([name]) => name);
    expect(leaks).toEqual([]);
  });

  it('a warm transfer to a person logs no password, token or full phone number, the person’s included', async () => {
    const lines: string[] = [];
    const logger = createLogger('trace', { write: (chunk: string) => void lines.push(chunk) });
    dir = await mkdtemp(join(tmpdir(), 'log-secrets-flows-'));
    const number = '+15550100031';
    await writeFile(
      join(dir, 'support.json'),
      JSON.stringify({
        version: 1,
        name: 'Support line',
        settings: { handoffNode: 'bye' },
        start: 'hello',
        nodes: [
          { id: 'hello', type: 'say', text: 'Hello from support.', next: 'xfer' },
          { id: 'xfer', type: 'transfer', target: { queue: 'support' }, mode: 'warm', announce: 'Connecting you.', summary: 'A caller needs help.', onUnavailable: 'bye' },
          { id: 'bye', type: 'end', text: 'Goodbye.' },
        ],
      }),
    );
    hh = await startHarness({ logger, env: { FLOWS_DIR: dir, PHONE_NUMBERS: `${number}=support`, ADMIN_API_KEY: ADMIN_KEY }, warm: ['support'] });
    const personPhone = '+15550107777';
    const staff = await hh.container.people.staff.create({ displayName: 'Ana', username: 'ana', role: 'support', password: PASSWORD, phone: personPhone });
    await hh.container.people.queues.create({ name: 'support', members: [staff.id] });
    hh.sim.setPerson(personPhone, 'accept');
    await hh.container.people.workspace.open(staff.id, undefined, { send: () => undefined, close: () => undefined });

    const call = await hh.sim.placeCall({ from: CALLER, to: number });
    await hh.until(async () => (await hh!.record(call.callSid)).state === 'human', { what: 'the person to take the call' });
    await hh.until(() => call.fork(forkName(call.callSid))?.state === 'open', { what: 'the audio fork' });
    expect(hh.sim.conference(conferenceName(call.callSid))?.status).toBe('in-progress');
    await hh.sim.legsTo(personPhone)[0]!.hangUp();
    await hh.finish(call);
    await hh.container.callRecorder.flush();

    const all = lines.join('');
    expect(all).toContain(call.callSid);
    expect(all).toContain('transfer');
    const secrets = {
      ADMIN_KEY,
      PASSWORD,
      twilioAuthToken: AUTH_TOKEN,
      secretKey: 'scenario-secret-key-0123456789',
      elevenlabsKey: hh.tts.apiKey,
      caller: CALLER.slice(1),
      agentNumber: number.slice(1),
      person: personPhone.slice(1),
    };
    const leaks = Object.entries(secrets).filter(([, value]) => all.includes(value)).map(([name]) => name);
    expect(leaks).toEqual([]);
  });
});
