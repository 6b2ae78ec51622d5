import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { AppError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Handoffs } from '../../handoff/handoffs.js';
import { checkSignature, isAccepted, webhookUrl } from '../../telephony/signature.js';
import { HANDOFF_PATHS, staffBriefTwiml, staffDoneTwiml, staffJoinTwiml } from '../../telephony/handoff-twiml.js';

/**
 * Twilio's handoff callbacks (DESIGN §7, docs/handoff.md): the person's leg
 * (`/twilio/staff-leg` for the brief, `/twilio/staff-leg-status` for its
 * progress, `/twilio/staff-gather` for the digit) and the caller's conference
 * (`/twilio/conference-status`). Each is signed over PUBLIC_URL + path + the
 * query string as sent, which carries the caller's CallSid (`call`) and the
 * attempt, so a forged or replayed-elsewhere callback gets 403.
 */

/** A conference status callback, as the runtime reads it. */
export interface ConferenceEvent {
  callerSid: string;
  event: string;
  conferenceSid: string;
  /** The participant's leg, for participant events. */
  callSid?: string;
  label?: string;
  sequence: number;
  reasonEnded?: string;
}

export interface TwilioHandoffRouteDeps {
  config: Pick<Config, 'PUBLIC_URL' | 'TWILIO_AUTH_TOKEN' | 'TWILIO_VALIDATE_SIGNATURE'>;
  logger: Logger;
  handoffs: Handoffs;
  /** Language of the brief (the caller's flow). */
  languageOf?(callerSid: string): string | undefined;
  onConferenceEvent?(event: ConferenceEvent): void;
}

type Form = Record<string, string | string[] | undefined>;
const field = (body: Form, name: string): string | undefined => {
  const v = body[name];
  return Array.isArray(v) ? v[0] : v;
};
const CALL_SID = /^CA[0-9a-f]{32}$/;
const EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

export async function twilioHandoffRoutes(app: FastifyInstance, deps: TwilioHandoffRouteDeps) {
  const { config, logger, handoffs } = deps;

  app.addHook('preHandler', async (req: FastifyRequest) => {
    const params = (req.body as Form | undefined) ?? {};
    const verdict = checkSignature(config, req.headers['x-twilio-signature'], webhookUrl(config.PUBLIC_URL, req.url), params);
    if (!isAccepted(verdict)) {
      logger.warn({ path: req.url.split('?')[0], verdict }, 'Twilio request refused');
      throw new AppError('BAD_SIGNATURE', 'invalid or missing X-Twilio-Signature');
    }
  });

  /** The caller and attempt named by the (signed) query string. */
  const ids = (req: FastifyRequest): { callerSid: string; attempt: number } | undefined => {
    const q = req.query as Record<string, string | undefined>;
    const callerSid = q.call ?? '';
    const attempt = Number(q.attempt ?? '0');
    return CALL_SID.test(callerSid) && Number.isInteger(attempt) ? { callerSid, attempt } : undefined;
  };
  const xml = (reply: { type: (t: string) => unknown }, body: string) => {
    reply.type('text/xml');
    return body;
  };

  app.post(HANDOFF_PATHS.staffLeg, { schema: { hide: true } }, async (req, reply) => {
    const id = ids(req);
    const brief = id && handoffs.briefFor(id.callerSid, id.attempt);
    // A leg nobody waits for any more (caller gone, attempt given up): end it politely.
    if (!id || brief === undefined) return xml(reply, staffDoneTwiml());
    const language = deps.languageOf?.(id.callerSid);
    return xml(reply, staffBriefTwiml(config.PUBLIC_URL, id.callerSid, { attempt: id.attempt, brief, ...(language ? { language } : {}) }));
  });

  app.post(HANDOFF_PATHS.staffLegStatus, { schema: { hide: true } }, async (req, reply) => {
    const id = ids(req);
    const body = (req.body ?? {}) as Form;
    if (id) handoffs.legStatus(id.callerSid, id.attempt, field(body, 'CallSid'), field(body, 'CallStatus') ?? '');
    return xml(reply, EMPTY);
  });

  app.post(HANDOFF_PATHS.staffGather, { schema: { hide: true } }, async (req, reply) => {
    const id = ids(req);
    if (!id) return xml(reply, staffDoneTwiml());
    // With nothing pressed Twilio sends no Digits at all (actionOnEmptyResult): both mean ''.
    const digits = field((req.body ?? {}) as Form, 'Digits') ?? '';
    const answer = handoffs.gather(id.callerSid, id.attempt, digits);
    return xml(reply, answer === 'join' ? staffJoinTwiml(id.callerSid) : staffDoneTwiml());
  });

  app.post(HANDOFF_PATHS.conferenceStatus, { schema: { hide: true } }, async (req, reply) => {
    const id = ids(req);
    const body = (req.body ?? {}) as Form;
    if (id && deps.onConferenceEvent) {
      const callSid = field(body, 'CallSid');
      const label = field(body, 'ParticipantLabel');
      const reasonEnded = field(body, 'ReasonConferenceEnded');
      deps.onConferenceEvent({
        callerSid: id.callerSid,
        event: field(body, 'StatusCallbackEvent') ?? '',
        conferenceSid: field(body, 'ConferenceSid') ?? '',
        ...(callSid ? { callSid } : {}),
        ...(label ? { label } : {}),
        sequence: Number(field(body, 'SequenceNumber') ?? '0'),
        ...(reasonEnded ? { reasonEnded } : {}),
      });
    }
    return xml(reply, EMPTY);
  });
}
