import type { FastifyInstance } from 'fastify';
import type { Container } from '../../container.js';
import { OUTBOUND_PATHS } from '../../outbound/dialer.js';
import { RECORDING_STATUS_PATH } from '../../outbound/recordings.js';
import { connectStreamTwiml, hangupTwiml } from '../../telephony/twiml.js';

/**
 * Twilio's callbacks for outbound calls and recordings (docs/outbound.md),
 * added to the /twilio scope of src/http/routes/twilio.ts so the same
 * signature check guards them (PUBLIC_URL + path + query string as sent):
 * - `POST /twilio/outbound-answer?request=ob_…`: the callee answered; the
 *   answer is the media stream TwiML, as /twilio/voice gives inbound calls.
 * - `POST /twilio/amd-status`: the asynchronous answering-machine verdict.
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
  const { calls, tokens } = container.telephony;
  const { dialer, recordings } = container.outbound;
  const xml = (reply: { type: (t: string) => unknown }, body: string) => {
    reply.type('text/xml');
    return body;
  };

  app.post(OUTBOUND_PATHS.answer, { schema: { hide: true } }, async (req, reply) => {
    const body = (req.body ?? {}) as Form;
    const callSid = field(body, 'CallSid');
    const requestId = (req.query as Record<string, string | undefined>).request ?? '';
    if (!CALL_SID.test(callSid)) return xml(reply, hangupTwiml());
    // The answer can beat the REST reply that names the call: the signed request id finds it then.
    if (!(await calls.get(callSid))) await dialer.attach(requestId, callSid);
    const record = await calls.get(callSid);
    if (!record || record.state !== 'connecting' || record.direction !== 'outbound') return xml(reply, hangupTwiml());
    dialer.answered(callSid);
    calls.armStreamStart(callSid);
    return xml(reply, connectStreamTwiml(config.PUBLIC_URL, tokens.issue(callSid, record.accountSid)));
  });

  app.post(OUTBOUND_PATHS.amd, { schema: { hide: true } }, async (req, reply) => {
    const body = (req.body ?? {}) as Form;
    const callSid = field(body, 'CallSid');
    const answeredBy = field(body, 'AnsweredBy');
    if (CALL_SID.test(callSid) && /^[a-z_]{1,40}$/.test(answeredBy)) {
      const stored = await calls.setAnsweredBy(callSid, answeredBy);
      logger.info({ callSid, answeredBy, detectionMs: Number(field(body, 'MachineDetectionDuration')) || undefined, stored }, 'answering machine detection');
    }
    return xml(reply, EMPTY);
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
