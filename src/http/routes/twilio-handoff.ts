import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { CLOSE_MESSAGE_RATE, CLOSE_MESSAGE_RATE_REASON, MEDIA_MESSAGE_RATE, MessageRateLimiter } from '../../core/message-rate.js';
import type { Logger } from '../../core/logger.js';
import type { Handoffs } from '../../handoff/handoffs.js';
import { START_TIMEOUT_MS, type MediaStreamCounters } from '../../telephony/media-stream.js';
import { decodePayload, parseInbound } from '../../telephony/messages.js';
import { checkSignature, isAccepted, webhookUrl, websocketUrl } from '../../telephony/signature.js';
import type { StreamTokens } from '../../telephony/stream-token.js';
import { flatForm, type TwilioCallbackHandler, type TwilioCallbackRouter } from '../../telephony/callback-forwarding.js';
import { HANDOFF_PATHS, staffBriefTwiml, staffDoneTwiml, staffJoinTwiml } from '../../telephony/handoff-twiml.js';

/**
 * Twilio's handoff callbacks (docs/handoff.md, docs/protocols.md#conferences-participants-and-forks): the person's leg
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

/** Where a call's fork audio goes (the fork transcriber); close ends it. */
export interface ForkSink {
  audio(track: string, mulaw: Uint8Array): void;
  close(): Promise<void>;
}

export interface TwilioHandoffRouteDeps {
  config: Pick<Config, 'PUBLIC_URL' | 'TWILIO_AUTH_TOKEN' | 'TWILIO_VALIDATE_SIGNATURE'>;
  logger: Logger;
  handoffs: Handoffs;
  /** Language of the brief (the caller's flow). */
  languageOf?(callerSid: string): string | undefined;
  onConferenceEvent?(event: ConferenceEvent): void;
  /** With both: `WS /twilio/fork`, the audio fork while a person has the call. */
  tokens?: Pick<StreamTokens, 'verify'>;
  openFork?(callSid: string): ForkSink | undefined;
  /**
   * With several processes: callbacks for a transfer another process runs are
   * run there (src/telephony/callback-forwarding.ts); `knows` says whether this
   * process runs the caller's transfer or holds their handoff.
   */
  forward?: TwilioCallbackRouter;
  knows?(callerSid: string): boolean;
  /** For the fork's message-rate limit and start timeout (default: the system clock). */
  clock?: Pick<Clock, 'now' | 'setTimeout'>;
  /** Process-wide counters (the fork's share of them), read by /bench/stats. */
  counters?: Pick<MediaStreamCounters, 'forksClosedWithoutStart' | 'forkDroppedForRate' | 'forksClosedForRate'>;
}

type Form = Record<string, string | string[] | undefined>;
const CALL_SID = /^CA[0-9a-f]{32}$/;
const EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

export async function twilioHandoffRoutes(app: FastifyInstance, deps: TwilioHandoffRouteDeps) {
  const { config, logger, handoffs } = deps;

  app.addHook('preHandler', async (req: FastifyRequest) => {
    // The fork's upgrade is signed over its wss:// URL without parameters, like the media stream's.
    const isWs = (req as FastifyRequest & { ws?: boolean }).ws === true;
    const url = isWs ? websocketUrl(config.PUBLIC_URL, req.url) : webhookUrl(config.PUBLIC_URL, req.url);
    const params = isWs ? {} : ((req.body as Form | undefined) ?? {});
    const verdict = checkSignature(config, req.headers['x-twilio-signature'], url, params);
    if (!isAccepted(verdict)) {
      logger.warn({ path: req.url.split('?')[0], verdict }, 'Twilio request refused');
      throw new AppError('BAD_SIGNATURE', 'invalid or missing X-Twilio-Signature');
    }
  });

  /** The caller and attempt named by the (signed) query string. */
  const ids = (q: Record<string, string>): { callerSid: string; attempt: number } | undefined => {
    const callerSid = q.call ?? '';
    const attempt = Number(q.attempt ?? '0');
    return CALL_SID.test(callerSid) && Number.isInteger(attempt) ? { callerSid, attempt } : undefined;
  };

  const handlers: Record<string, TwilioCallbackHandler> = {
    [HANDOFF_PATHS.staffLeg]: async ({ query }) => {
      const id = ids(query);
      const brief = id && handoffs.briefFor(id.callerSid, id.attempt);
      // A leg nobody waits for any more (caller gone, attempt given up): end it politely.
      if (!id || brief === undefined) return staffDoneTwiml();
      const language = deps.languageOf?.(id.callerSid);
      return staffBriefTwiml(config.PUBLIC_URL, id.callerSid, { attempt: id.attempt, brief, ...(language ? { language } : {}) });
    },
    [HANDOFF_PATHS.staffLegStatus]: async ({ query, body }) => {
      const id = ids(query);
      if (id) handoffs.legStatus(id.callerSid, id.attempt, body.CallSid, body.CallStatus ?? '');
      return EMPTY;
    },
    [HANDOFF_PATHS.staffGather]: async ({ query, body }) => {
      const id = ids(query);
      if (!id) return staffDoneTwiml();
      // With nothing pressed Twilio sends no Digits at all (actionOnEmptyResult): both mean ''.
      const answer = handoffs.gather(id.callerSid, id.attempt, body.Digits ?? '');
      return answer === 'join' ? staffJoinTwiml(id.callerSid) : staffDoneTwiml();
    },
    [HANDOFF_PATHS.conferenceStatus]: async ({ query, body }) => {
      const id = ids(query);
      if (id && deps.onConferenceEvent) {
        deps.onConferenceEvent({
          callerSid: id.callerSid,
          event: body.StatusCallbackEvent ?? '',
          conferenceSid: body.ConferenceSid ?? '',
          ...(body.CallSid ? { callSid: body.CallSid } : {}),
          ...(body.ParticipantLabel ? { label: body.ParticipantLabel } : {}),
          sequence: Number(body.SequenceNumber ?? '0'),
          ...(body.ReasonConferenceEnded ? { reasonEnded: body.ReasonConferenceEnded } : {}),
        });
      }
      return EMPTY;
    },
  };

  for (const [path, handler] of Object.entries(handlers)) {
    deps.forward?.on(path, handler);
    app.post(path, { schema: { hide: true } }, async (req, reply) => {
      const callback = { path, query: flatForm(req.query), body: flatForm(req.body) };
      const callerSid = ids(callback.query)?.callerSid;
      // The transfer lives in one process's memory: a callback that landed elsewhere runs there (signature checked here).
      const here = !deps.forward || callerSid === undefined || (deps.knows?.(callerSid) ?? true);
      const twiml = deps.forward && callerSid !== undefined ? await deps.forward.dispatch(callerSid, here, callback) : await handler(callback);
      reply.type('text/xml');
      return twiml;
    });
  }

  const { tokens, openFork } = deps;
  const clock = deps.clock ?? systemClock;
  if (!tokens || !openFork) return;
  app.get(HANDOFF_PATHS.fork, { websocket: true, schema: { hide: true } }, (socket) => {
    // Attached before any await: Twilio's `connected` and `start` come at once.
    let sink: ForkSink | undefined;
    let refused = false;
    const counters = deps.counters;
    const rate = new MessageRateLimiter(MEDIA_MESSAGE_RATE);
    // Like the media stream: a socket that never starts holds memory for nothing (Twilio starts within a second).
    const startTimer = clock.setTimeout(() => {
      if (sink || refused) return;
      refused = true;
      if (counters) counters.forksClosedWithoutStart++;
      logger.warn({ afterMs: START_TIMEOUT_MS }, 'audio fork sent no start; closing it');
      socket.close(1008, 'no start');
    }, START_TIMEOUT_MS);
    socket.on('message', (data, isBinary) => {
      if (refused) return;
      // Before parsing: a flood must cost as little as possible. Only the fork (the person's live
      // transcript) is lost by closing it; the caller's call goes on in its conference.
      const verdict = rate.take(clock.now());
      if (verdict !== 'ok' && counters) counters.forkDroppedForRate++;
      if (verdict === 'drop') return;
      if (verdict === 'close') {
        refused = true;
        startTimer.cancel();
        if (counters) counters.forksClosedForRate++;
        logger.warn({ dropped: rate.dropped }, 'audio fork flooded past its message rate; closing it');
        void sink?.close();
        socket.close(CLOSE_MESSAGE_RATE, CLOSE_MESSAGE_RATE_REASON);
        return;
      }
      const msg = parseInbound(data as Buffer, isBinary);
      if (msg.event === 'start') {
        if (sink) return;
        startTimer.cancel();
        const check = tokens.verify(msg.customParameters.token, msg.callSid, msg.accountSid);
        sink = check.ok ? openFork(msg.callSid) : undefined;
        if (!sink) {
          refused = true;
          logger.warn({ callSid: msg.callSid, reason: check.ok ? 'no_call' : check.reason }, 'audio fork refused');
          socket.close(1008);
        }
        return;
      }
      if (msg.event === 'media') sink?.audio(msg.track, decodePayload(msg.payload));
      else if (msg.event === 'stop') void sink?.close();
    });
    const closed = () => {
      startTimer.cancel();
      void sink?.close();
    };
    socket.on('close', closed);
    socket.on('error', closed);
  });
}
