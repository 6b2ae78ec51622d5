import type { FastifyInstance } from 'fastify';
import type { Container } from '../../container.js';
import { OUTBOUND_PATHS } from '../../outbound/dialer.js';
import { RECORDING_STATUS_PATH } from '../../outbound/recordings.js';
import { connectStreamTwiml, hangupTwiml } from '../../telephony/twiml.js';
import { flatForm, type TwilioCallbackHandler } from '../../telephony/callback-forwarding.js';

/**
 * Twilio's callbacks for outbound calls and recordings (docs/outbound.md),
 * added to the /twilio scope of src/http/routes/twilio.ts so the same
 * signature check guards them (PUBLIC_URL + path + query string as sent):
 * - `POST /twilio/outbound-answer?request=ob_…`: the callee answered; the
 *   answer is the media stream TwiML, as /twilio/voice gives inbound calls.
 * - `POST /twilio/amd-status`: the asynchronous answering-machine verdict.
 * The first two run on the process whose memory they need (the dialer that
 * placed the call, the live call waiting for the verdict), wherever they land
 * (src/telephony/callback-forwarding.ts).
 * - `POST /twilio/recording-status?call=CA…`: a recording's SID, URL, duration.
 */

type Form = Record<string, string | string[] | undefined>;
const field = (body: Form, name: string): string => {
  const v = body[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
};
const CALL_SID = /^CA[0-9a-f]{32}$/;
const RECORDING_SID = /^RE[0-9a-f]{32}$/;
const EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

export function outboundTwilioRoutes(app: FastifyInstance, container: Container): void {
  const { config, logger } = container;
  const { calls, tokens, callbacks, sessions } = container.telephony;
  const { dialer, recordings } = container.outbound;
  const xml = (reply: { type: (t: string) => unknown }, body: string) => {
    reply.type('text/xml');
    return body;
  };

  const answer: TwilioCallbackHandler = async ({ query, body }) => {
    const callSid = body.CallSid ?? '';
    const requestId = query.request ?? '';
    if (!CALL_SID.test(callSid)) return hangupTwiml();
    // The answer can beat the REST reply that names the call: the signed request id finds it then.
    if (!(await calls.get(callSid))) await dialer.attach(requestId, callSid);
    const record = await calls.get(callSid);
    if (!record || record.state !== 'connecting' || record.direction !== 'outbound') return hangupTwiml();
    dialer.answered(callSid);
    calls.armStreamStart(callSid);
    return connectStreamTwiml(config.PUBLIC_URL, tokens.issue(callSid, record.accountSid));
  };
  const amd: TwilioCallbackHandler = async ({ body }) => {
    const callSid = body.CallSid ?? '';
    const answeredBy = body.AnsweredBy ?? '';
    if (CALL_SID.test(callSid) && /^[a-z_]{1,40}$/.test(answeredBy)) {
      const stored = await calls.setAnsweredBy(callSid, answeredBy);
      logger.info({ callSid, answeredBy, detectionMs: Number(body.MachineDetectionDuration) || undefined, stored }, 'answering machine detection');
    }
    return EMPTY;
  };
  callbacks.on(OUTBOUND_PATHS.answer, answer);
  callbacks.on(OUTBOUND_PATHS.amd, amd);

  // The request waits in the memory of the process that placed the call (`via` in the signed answer URL names it).
  app.post(OUTBOUND_PATHS.answer, { schema: { hide: true } }, async (req, reply) => {
    const callback = { path: OUTBOUND_PATHS.answer, query: flatForm(req.query), body: flatForm(req.body) };
    const here = dialer.get(callback.query.request ?? '') !== undefined;
    const via = callback.query.via;
    return xml(reply, await callbacks.dispatch(callback.body.CallSid ?? '', here, callback, via));
  });

  // The live call waiting for the verdict (a voicemail flow) is in the process holding it.
  app.post(OUTBOUND_PATHS.amd, { schema: { hide: true } }, async (req, reply) => {
    const callback = { path: OUTBOUND_PATHS.amd, query: flatForm(req.query), body: flatForm(req.body) };
    const callSid = callback.body.CallSid ?? '';
    const here = !CALL_SID.test(callSid) || sessions.has(callSid);
    return xml(reply, await callbacks.dispatch(callSid, here, callback));
  });

  app.post(RECORDING_STATUS_PATH, { schema: { hide: true } }, async (req, reply) => {
    const body = (req.body ?? {}) as Form;
    // The signed query names the call; the body's CallSid must agree.
    const callSid = (req.query as Record<string, string | undefined>).call ?? '';
    const recordingSid = field(body, 'RecordingSid');
    if (!CALL_SID.test(callSid) || !RECORDING_SID.test(recordingSid) || (field(body, 'CallSid') || callSid) !== callSid) {
      return xml(reply, EMPTY);
    }
    const duration = Number(field(body, 'RecordingDuration'));
    const channels = Number(field(body, 'RecordingChannels'));
    const url = field(body, 'RecordingUrl');
    await recordings.status({
      callSid,
      recordingSid,
      status: field(body, 'RecordingStatus') || 'completed',
      ...(url ? { url } : {}),
      ...(field(body, 'RecordingDuration') !== '' && Number.isFinite(duration) ? { durationSeconds: duration } : {}),
      ...(Number.isInteger(channels) && channels > 0 ? { channels } : {}),
    });
    return xml(reply, EMPTY);
  });
}
