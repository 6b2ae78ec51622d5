import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

/**
 * A loopback Twilio REST API (docs/protocols.md#rest-updates): the Voice resources the
 * runtime uses — Calls (create, fetch, update), Conferences (list, fetch,
 * update), conference Participants (create, fetch, list, update, remove), a
 * call's Streams (create, stop), a call's Recordings (create) and Recordings
 * (fetch, delete, the `.wav`/`.mp3` media) — with Basic auth, form bodies in
 * and snake_case JSON out. Every request is recorded.
 *
 * What a request does to calls is up to a `backend` (the Twilio simulator plays
 * it: twilio-sim-rest.ts). Without one, call creates and updates get canned
 * answers and `onCallUpdate` sees every update, as before conferences existed.
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

export type RestForm = Record<string, string | string[]>;

export interface RestReply {
  status: number;
  /** JSON body; undefined for 204. */
  body?: unknown;
  /** A binary body instead (recording media). */
  raw?: { contentType: string; bytes: Uint8Array };
}

/** The resources a backend serves; `ref` is a SID, or a friendly name / label where Twilio accepts one. */
export interface TwilioRestBackend {
  createCall(form: RestForm): RestReply;
  fetchCall(callSid: string): RestReply;
  updateCall(callSid: string, form: RestForm): RestReply;
  listConferences(query: URLSearchParams): RestReply;
  fetchConference(ref: string): RestReply;
  updateConference(ref: string, form: RestForm): RestReply;
  createParticipant(conferenceRef: string, form: RestForm): RestReply;
  listParticipants(conferenceRef: string): RestReply;
  fetchParticipant(conferenceRef: string, participantRef: string): RestReply;
  updateParticipant(conferenceRef: string, participantRef: string, form: RestForm): RestReply;
  removeParticipant(conferenceRef: string, participantRef: string): RestReply;
  createStream(callSid: string, form: RestForm): RestReply;
  updateStream(callSid: string, streamRef: string, form: RestForm): RestReply;
  createRecording(callSid: string, form: RestForm): RestReply;
  fetchRecording(recordingSid: string): RestReply;
  deleteRecording(recordingSid: string): RestReply;
  recordingMedia(recordingSid: string, extension: string): RestReply;
}

export interface FakeTwilioRest {
  url: string;
  requests: RecordedRestRequest[];
  /** Acts out requests on simulated calls; see TwilioSimulator.attachRest. */
  backend: TwilioRestBackend | undefined;
  /** Without a backend: called for every Calls/{CA}.json update before the response. */
  onCallUpdate: ((callSid: string, form: Record<string, string | string[]>) => void) | undefined;
  /** Answer the next requests with this error status instead (e.g. 500), once each. */
  failNext(status: number, times?: number): void;
  close(): Promise<void>;
}

function parseForm(raw: string): RestForm {
  const out: RestForm = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** A Twilio REST error body (`RestException` in the SDK). */
export function restError(status: number, code: number, message: string): RestReply {
  return { status, body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status } };
}

const ACCOUNT = '/2010-04-01/Accounts/(AC[0-9a-f]{32})';
const SEG = '([^/]+)';
type Route = { method: string; re: RegExp; handle: (b: TwilioRestBackend, m: string[], form: RestForm, query: URLSearchParams) => RestReply };
const ROUTES: Route[] = [
  { method: 'POST', re: new RegExp(`^${ACCOUNT}/Calls\\.json$`), handle: (b, _m, f) => b.createCall(f) },
  { method: 'GET', re: new RegExp(`^${ACCOUNT}/Calls/(CA[0-9a-f]{32})\\.json$`), handle: (b, m) => b.fetchCall(m[1]!) },
  { method: 'POST', re: new RegExp(`^${ACCOUNT}/Calls/(CA[0-9a-f]{32})\\.json$`), handle: (b, m, f) => b.updateCall(m[1]!, f) },
  { method: 'POST', re: new RegExp(`^${ACCOUNT}/Calls/(CA[0-9a-f]{32})/Streams\\.json$`), handle: (b, m, f) => b.createStream(m[1]!, f) },
  { method: 'POST', re: new RegExp(`^${ACCOUNT}/Calls/(CA[0-9a-f]{32})/Streams/${SEG}\\.json$`), handle: (b, m, f) => b.updateStream(m[1]!, m[2]!, f) },
  { method: 'POST', re: new RegExp(`^${ACCOUNT}/Calls/(CA[0-9a-f]{32})/Recordings\\.json$`), handle: (b, m, f) => b.createRecording(m[1]!, f) },
  { method: 'GET', re: new RegExp(`^${ACCOUNT}/Recordings/(RE[0-9a-f]{32})\\.json$`), handle: (b, m) => b.fetchRecording(m[1]!) },
  { method: 'DELETE', re: new RegExp(`^${ACCOUNT}/Recordings/(RE[0-9a-f]{32})\\.json$`), handle: (b, m) => b.deleteRecording(m[1]!) },
  { method: 'GET', re: new RegExp(`^${ACCOUNT}/Recordings/(RE[0-9a-f]{32})\\.(wav|mp3)$`), handle: (b, m) => b.recordingMedia(m[1]!, m[2]!) },
  { method: 'GET', re: new RegExp(`^${ACCOUNT}/Conferences\\.json$`), handle: (b, _m, _f, q) => b.listConferences(q) },
  { method: 'GET', re: new RegExp(`^${ACCOUNT}/Conferences/${SEG}\\.json$`), handle: (b, m) => b.fetchConference(m[1]!) },
  { method: 'POST', re: new RegExp(`^${ACCOUNT}/Conferences/${SEG}\\.json$`), handle: (b, m, f) => b.updateConference(m[1]!, f) },
  { method: 'POST', re: new RegExp(`^${ACCOUNT}/Conferences/${SEG}/Participants\\.json$`), handle: (b, m, f) => b.createParticipant(m[1]!, f) },
  { method: 'GET', re: new RegExp(`^${ACCOUNT}/Conferences/${SEG}/Participants\\.json$`), handle: (b, m) => b.listParticipants(m[1]!) },
  { method: 'GET', re: new RegExp(`^${ACCOUNT}/Conferences/${SEG}/Participants/${SEG}\\.json$`), handle: (b, m) => b.fetchParticipant(m[1]!, m[2]!) },
  { method: 'POST', re: new RegExp(`^${ACCOUNT}/Conferences/${SEG}/Participants/${SEG}\\.json$`), handle: (b, m, f) => b.updateParticipant(m[1]!, m[2]!, f) },
  { method: 'DELETE', re: new RegExp(`^${ACCOUNT}/Conferences/${SEG}/Participants/${SEG}\\.json$`), handle: (b, m) => b.removeParticipant(m[1]!, m[2]!) },
];

export async function startFakeTwilioRest(): Promise<FakeTwilioRest> {
  const requests: RecordedRestRequest[] = [];
  let failures: number[] = [];
  const fake: FakeTwilioRest = {
    url: '',
    requests,
    backend: undefined,
    onCallUpdate: undefined,
    failNext(status, times = 1) {
      failures = failures.concat(Array.from({ length: times }, () => status));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };

  const send = (res: ServerResponse, reply: RestReply) => {
    if (reply.raw) {
      res.writeHead(reply.status, { 'content-type': reply.raw.contentType, 'content-length': reply.raw.bytes.length });
      res.end(Buffer.from(reply.raw.bytes));
      return;
    }
    if (reply.body === undefined) {
      res.writeHead(reply.status);
      res.end();
      return;
    }
    res.writeHead(reply.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(reply.body));
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const auth = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString('utf8');
      const [username = '', password = ''] = auth.split(':');
      const account = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\//.exec(url.pathname);
      const callSid = /\/Calls\/(CA[0-9a-f]{32})(?:\.json|\/)/.exec(url.pathname);
      const form = parseForm(raw);
      const method = req.method ?? 'GET';
      requests.push({
        method,
        path: url.pathname,
        accountSid: account?.[1] ?? '',
        ...(callSid ? { callSid: callSid[1] } : {}),
        username,
        password,
        form,
      });
      const failure = failures.shift();
      if (failure) return send(res, restError(failure, 20500, 'fake failure'));
      if (!fake.backend) return send(res, legacy(fake, method, url.pathname, form));
      for (const route of ROUTES) {
        if (route.method !== method) continue;
        const m = route.re.exec(url.pathname);
        if (!m) continue;
        // m[1] is the account; handlers see the resource ids, decoded (friendly names may be escaped).
        const ids = m.slice(2).map((s) => decodeURIComponent(s));
        try {
          return send(res, route.handle(fake.backend, ['', ...ids], form, url.searchParams));
        } catch (err) {
          return send(res, restError(500, 20500, err instanceof Error ? err.message : String(err)));
        }
      }
      send(res, restError(404, 20404, 'The requested resource was not found'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

/** Without a backend: the Calls resource only, canned answers, updates reported through `onCallUpdate`. */
function legacy(fake: FakeTwilioRest, method: string, path: string, form: RestForm): RestReply {
  const m = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Calls(?:\/(CA[0-9a-f]{32}))?\.json$/.exec(path);
  if (!m || method !== 'POST') return restError(404, 20404, 'The requested resource was not found');
  const accountSid = m[1]!;
  const callSid = m[2] ?? 'CA' + randomBytes(16).toString('hex');
  if (m[2]) fake.onCallUpdate?.(callSid, form);
  return {
    status: m[2] ? 200 : 201,
    body: {
      sid: callSid,
      account_sid: accountSid,
      status: form.Status ?? (m[2] ? 'in-progress' : 'queued'),
      to: form.To ?? '+15550100002',
      from: form.From ?? '+15550001111',
      direction: m[2] ? 'inbound' : 'outbound-api',
      api_version: '2010-04-01',
      uri: `/2010-04-01/Accounts/${accountSid}/Calls/${callSid}.json`,
    },
  };
}
