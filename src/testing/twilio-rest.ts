import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

/**
 * A loopback Twilio REST API (PROTOCOLS §1.5, §1.8): the calls endpoints the
 * runtime uses, Basic auth, form bodies in, snake_case JSON out. Every request
 * is recorded; `onCallUpdate` lets the simulator act out what Twilio does
 * (a new `Twiml` ends the stream and runs; `Status=completed` hangs up).
 */
export interface RecordedRestRequest {
  method: string;
  path: string;
  accountSid: string;
  callSid?: string;
  /** Basic-auth user and password as sent. */
  username: string;
  password: string;
  form: Record<string, string | string[]>;
}

export interface FakeTwilioRest {
  url: string;
  requests: RecordedRestRequest[];
  /** Called for every Calls/{CA}.json update before the response. */
  onCallUpdate: ((callSid: string, form: Record<string, string | string[]>) => void) | undefined;
  /** Answer the next requests with this error status instead (e.g. 500), once each. */
  failNext(status: number, times?: number): void;
  close(): Promise<void>;
}

function parseForm(raw: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export async function startFakeTwilioRest(): Promise<FakeTwilioRest> {
  const requests: RecordedRestRequest[] = [];
  let failures: number[] = [];
  const fake: FakeTwilioRest = {
    url: '',
    requests,
    onCallUpdate: undefined,
    failNext(status, times = 1) {
      failures = failures.concat(Array.from({ length: times }, () => status));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const auth = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString('utf8');
      const [username = '', password = ''] = auth.split(':');
      const m = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Calls(?:\/(CA[0-9a-f]{32}))?\.json$/.exec(url.pathname);
      const form = parseForm(raw);
      const record: RecordedRestRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        accountSid: m?.[1] ?? '',
        ...(m?.[2] ? { callSid: m[2] } : {}),
        username,
        password,
        form,
      };
      requests.push(record);
      const failure = failures.shift();
      if (failure) return send(res, failure, { code: 20500, message: 'fake failure', more_info: 'https://www.twilio.com/docs/errors/20500', status: failure });
      if (!m || req.method !== 'POST') {
        return send(res, 404, { code: 20404, message: 'not found', more_info: 'https://www.twilio.com/docs/errors/20404', status: 404 });
      }
      const accountSid = m[1]!;
      const callSid = m[2] ?? 'CA' + randomBytes(16).toString('hex');
      if (m[2]) fake.onCallUpdate?.(callSid, form);
      send(res, m[2] ? 200 : 201, {
        sid: callSid,
        account_sid: accountSid,
        status: form.Status ?? (m[2] ? 'in-progress' : 'queued'),
        to: form.To ?? '+15550100002',
        from: form.From ?? '+15550001111',
        direction: m[2] ? 'inbound' : 'outbound-api',
        api_version: '2010-04-01',
        uri: `/2010-04-01/Accounts/${accountSid}/Calls/${callSid}.json`,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
