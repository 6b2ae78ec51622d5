import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemoryJobRunner } from '../../../src/jobs/memory-runner.js';
import { buildTestApp, type TestApp } from '../../support/app.js';
import { bearer } from '../http/fixtures.js';

/**
 * Invariant: with SMTP_URL set, an invitation and each resend send one mail, to
 * the person's address, carrying the activation link the API returned
 * (`PUBLIC_URL/console/activate?token=…`); the mailed link activates the account.
 * The SMTP server is a real one (smtp-server) on loopback.
 */

interface Mail {
  from: string;
  to: string[];
  raw: string;
}

let t: TestApp;
let smtp: SMTPServer;
const mails: Mail[] = [];

/** The message body as text: quoted-printable soft breaks and escapes undone. */
const decoded = (raw: string) => raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
        });
        callback();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  const port = (smtp.server.address() as AddressInfo).port;
  t = await buildTestApp({
    env: { SMTP_URL: `smtp://127.0.0.1:${port}`, PUBLIC_URL: 'https://voice.example.com', MAIL_FROM: 'Console <console@example.com>' },
  });
});

afterAll(async () => {
  await t?.close();
  await new Promise<void>((r) => smtp.close(() => r()));
});

const settled = () => (t.container.jobs as MemoryJobRunner).idle();

describe('staff invitation mail', () => {
  it('mails the activation link on invite and on each resend; the mailed link activates', async () => {
    const person = await t.container.people.staff.create({ displayName: 'Ada Lovelace', username: 'ada', email: 'ada@example.com', role: 'support' });
    const first = await t.app.inject({ method: 'POST', url: `/api/v1/staff/${person.id}/invite`, headers: bearer(t.adminKey), payload: {} });
    expect(first.statusCode).toBe(200);
    await settled();
    expect(mails).toHaveLength(1);
    const link1 = first.json().activationUrl as string;
    expect(link1).toMatch(/^https:\/\/voice\.example\.com\/console\/activate\?token=/);
    expect(mails[0]).toMatchObject({ from: 'console@example.com', to: ['ada@example.com'] });
    const body1 = decoded(mails[0]!.raw);
    expect(body1).toContain(link1);
    expect(body1).toMatch(/Subject: Your invitation/);
    expect(body1).toContain('Hello Ada Lovelace');

    // A resend: a new mail with the new link; the old one no longer works.
    const second = await t.app.inject({ method: 'POST', url: `/api/v1/staff/${person.id}/invite`, headers: bearer(t.adminKey), payload: {} });
    await settled();
    expect(mails).toHaveLength(2);
    const link2 = second.json().activationUrl as string;
    expect(link2).not.toBe(link1);
    expect(decoded(mails[1]!.raw)).toContain(link2);
    const tokenOf = (link: string) => new URL(link).searchParams.get('token')!;
    const stale = await t.app.inject({ method: 'POST', url: '/api/v1/auth/activate', payload: { token: tokenOf(link1), password: 'a-good-password' } });
    expect(stale.statusCode).toBe(400);
    const ok = await t.app.inject({ method: 'POST', url: '/api/v1/auth/activate', payload: { token: tokenOf(link2), password: 'a-good-password' } });
    expect(ok.statusCode).toBe(200);
  });

  it('a person without an email address gets no mail; the link is still returned', async () => {
    const person = await t.container.people.staff.create({ displayName: 'No Mail', username: 'nomail', role: 'support' });
    const before = mails.length;
    const res = await t.app.inject({ method: 'POST', url: `/api/v1/staff/${person.id}/invite`, headers: bearer(t.adminKey), payload: {} });
    await settled();
    expect(res.json().activationUrl).toMatch(/\/console\/activate\?token=/);
    expect(mails).toHaveLength(before);
  });
});
