import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Container } from '../../container.js';
import { DEFAULT_UNAVAILABLE } from '../../agents/directory.js';
import { FINAL_CALL_STATUSES } from '../../calls/calls.js';
import { AppError } from '../../core/errors.js';
import { isOpen } from '../../flow/business-hours.js';
import { createOutboundFetch } from '../../flow/outbound.js';
import { startCall, type CallDeps } from '../../pipeline/call.js';
import { attachMediaStream } from '../../telephony/media-stream.js';
import { outboundTwilioRoutes } from './twilio-outbound.js';
import { checkSignature, isAccepted, refusalReason, webhookUrl, websocketUrl } from '../../telephony/signature.js';
import {
  TWILIO_PATHS,
  connectStreamTwiml,
  hangupTwiml,
  nextStepTwiml,
  sayHangupTwiml,
  unavailableTwiml,
} from '../../telephony/twiml.js';

/**
 * Twilio's side of the server (docs/telephony.md, docs/protocols.md#request-signatures). Every request in this scope, the
 * media WebSocket upgrade included, must carry a valid X-Twilio-Signature over
 * PUBLIC_URL + path (wss:// for the upgrade). Answers never depend on provider
 * keys: the webhook works even when TTS or STT is not configured.
 */

/** Said to callers of a number no agent answers. */
export const UNASSIGNED_MESSAGE = 'Sorry, this number is not in service.';

type Form = Record<string, string | string[] | undefined>;
const field = (body: Form, name: string): string => {
  const v = body[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
};

export async function twilioRoutes(app: FastifyInstance, { container }: { container: Container }) {
  const { config, logger } = container;
  const t = container.telephony;
  const { calls, tokens } = t;
  const publicUrl = config.PUBLIC_URL;
  const callDeps: CallDeps = {
    calls,
    callControl: t.callControl,
    clock: container.clock,
    logger,
    pacer: t.pacer,
    tts: t.tts,
    phrases: t.phrases,
    ...(t.stt ? { stt: t.stt } : {}),
    ...(t.llm ? { llm: t.llm } : {}),
    http: createOutboundFetch({ allowHosts: config.HTTP_ALLOW_HOSTS }),
    directory: t.directory,
    voiceFor: t.voiceFor,
    transferVia: t.transferVia,
    live: t.sessions,
    playoutTotals: t.playoutTotals,
    ...(t.people ? { people: t.people } : {}),
    startRecording: (callSid) => container.outbound.recordings.start(callSid),
  };

  // preHandler, not onRequest: form bodies are parsed by then, and they are signed too.
  app.addHook('preHandler', async (req: FastifyRequest) => {
    const isWs = (req as FastifyRequest & { ws?: boolean }).ws === true;
    const url = isWs ? websocketUrl(publicUrl, req.url) : webhookUrl(publicUrl, req.url);
    const params = isWs ? {} : ((req.body as Form | undefined) ?? {});
    const verdict = checkSignature(config, req.headers['x-twilio-signature'], url, params);
    if (!isAccepted(verdict)) {
      logger.warn({ path: req.url.split('?')[0], verdict, reason: refusalReason(verdict) }, 'Twilio request refused');
      throw new AppError('BAD_SIGNATURE', 'invalid or missing X-Twilio-Signature');
    }
  });

  const xml = (reply: { type: (t: string) => unknown }, body: string) => {
    reply.type('text/xml');
    return body;
  };

  app.post(TWILIO_PATHS.voice, { schema: { hide: true } }, async (req, reply) => {
    try {
      return await answerCall(req, reply);
    } catch (err) {
      // Redis (REDIS_URL) unreachable: the call record cannot be created where its stream may land.
      // The caller hears the agent's unavailable answer, never Twilio's application error.
      if (!container.liveState.shared?.health.failing) throw err;
      const to = field((req.body ?? {}) as Form, 'To');
      logger.warn({ callSid: field((req.body ?? {}) as Form, 'CallSid'), err: { message: (err as Error).message } }, 'live state unreachable: new call answered as unavailable');
      const found = await t.directory.lookupNumber(to).catch(() => undefined);
      return xml(reply, unavailableTwiml(found && found.kind !== 'unassigned' ? found.unavailable : DEFAULT_UNAVAILABLE));
    }
  });

  const answerCall = async (req: FastifyRequest, reply: { type: (t: string) => unknown }) => {
    const body = (req.body ?? {}) as Form;
    const callSid = field(body, 'CallSid');
    const accountSid = field(body, 'AccountSid');
    const to = field(body, 'To');
    if (!callSid || !accountSid) return xml(reply, hangupTwiml());
    const log = logger.child({ callSid });

    const existing = await calls.get(callSid);
    if (existing) {
      // A retried webhook: the same record, a fresh token if the stream has not started.
      if (existing.state !== 'connecting') return xml(reply, hangupTwiml());
      calls.armStreamStart(callSid);
      return xml(reply, connectStreamTwiml(publicUrl, tokens.issue(callSid, accountSid)));
    }

    const found = await t.directory.lookupNumber(to);
    if (found.kind === 'unassigned') {
      log.info('call to an unassigned number');
      return xml(reply, sayHangupTwiml(UNASSIGNED_MESSAGE));
    }
    // Draining for shutdown, or this process full: a new call gets the agent's unavailable answer, never an error.
    const shuttingDown = container.readiness.shuttingDown;
    const atCapacity = config.MAX_CALLS !== undefined && t.sessions.size + calls.awaitingStream >= config.MAX_CALLS;
    // The event loop lagging: another call would make every call in progress worse.
    const overloaded = container.loopGuard?.overloaded === true;
    const common = {
      callSid,
      accountSid,
      agentId: found.agentId,
      slug: found.slug,
      from: field(body, 'From'),
      to,
      direction: field(body, 'Direction').startsWith('outbound') ? ('outbound' as const) : ('inbound' as const),
    };
    const closedForHours =
      found.kind === 'active' &&
      found.flow.settings.businessHours !== undefined &&
      !found.flow.settings.businessHours.closedNode &&
      !isOpen(found.flow.settings.businessHours, container.clock.wallNow());
    if (found.kind === 'unavailable' || closedForHours || shuttingDown || atCapacity || overloaded) {
      await calls.open({ ...common, version: found.kind === 'active' ? found.version : 0 });
      await calls.setNextStep(callSid, { kind: 'unavailable', behaviour: found.unavailable });
      const why = shuttingDown
        ? 'shutting_down'
        : atCapacity
          ? 'at_capacity'
          : overloaded
            ? 'overloaded'
            : closedForHours
              ? 'outside_business_hours'
              : 'agent_unavailable';
      if (atCapacity) log.warn({ maxCalls: config.MAX_CALLS }, 'at MAX_CALLS: new call answered as unavailable');
      else if (overloaded) log.warn({ lagMs: Math.round(container.loopGuard?.lastLagMs ?? 0) }, 'event loop lagging: new call answered as unavailable');
      await calls.end(callSid, why, 'unavailable');
      return xml(reply, unavailableTwiml(found.unavailable));
    }

    await calls.open({ ...common, version: found.version });
    calls.armStreamStart(callSid);
    return xml(reply, connectStreamTwiml(publicUrl, tokens.issue(callSid, accountSid)));
  };

  app.get(TWILIO_PATHS.stream, { websocket: true, schema: { hide: true } }, (socket) => {
    attachMediaStream(socket, {
      tokens,
      calls,
      clock: container.clock,
      logger,
      counters: t.streamCounters,
      openSession: async (stream) => (await startCall(callDeps, stream))?.stream,
    });
  });

  app.post(TWILIO_PATHS.streamEnded, { schema: { hide: true } }, async (req, reply) => {
    const body = (req.body ?? {}) as Form;
    const callSid = field(body, 'CallSid');
    const record = callSid ? await calls.get(callSid) : undefined;
    if (!record) return xml(reply, hangupTwiml());
    const step = record.state === 'ended' ? undefined : record.nextStep;
    if (!step) {
      await calls.end(callSid, 'stream_ended', 'completed');
      return xml(reply, hangupTwiml());
    }
    if (step.kind === 'stream') calls.armStreamStart(callSid);
    // The AI's part is over for these steps; the status callback may still come later.
    if (step.kind === 'say' || step.kind === 'hangup' || step.kind === 'unavailable') {
      await calls.end(callSid, `next_step:${step.kind}`, record.outcome?.kind ?? 'completed');
    }
    return xml(reply, nextStepTwiml(publicUrl, step, () => tokens.issue(callSid, record.accountSid)));
  });

  app.post(TWILIO_PATHS.dialResult, { schema: { hide: true } }, async (req, reply) => {
    const body = (req.body ?? {}) as Form;
    const callSid = field(body, 'CallSid');
    const status = field(body, 'DialCallStatus');
    const record = callSid ? await calls.get(callSid) : undefined;
    if (!record || record.state === 'ended') return xml(reply, hangupTwiml());
    const answered = status === 'completed' || status === 'answered';
    calls.emit({ type: 'transfer.result', callSid, status, answered });
    if (answered) {
      // Twilio asks for the Dial action once the bridged call is over.
      await calls.signal(callSid, 'transfer_connected');
      await calls.setOutcome(callSid, 'transferred', status);
      await calls.end(callSid, 'transfer_completed', 'transferred');
      return xml(reply, hangupTwiml());
    }
    // Nobody took it: back to the AI at the transfer's onUnavailable, from the saved snapshot.
    if (record.state !== 'transferring' || !(await calls.signal(callSid, 'resume_ai'))) return xml(reply, hangupTwiml());
    await calls.setResume(callSid, {
      ...(record.pendingTransfer?.onUnavailable ? { at: record.pendingTransfer.onUnavailable } : { failed: 'transfer_unavailable' }),
      reason: `dial_${status || 'failed'}`,
    });
    await calls.setNextStep(callSid, { kind: 'stream' });
    calls.armStreamStart(callSid);
    return xml(reply, connectStreamTwiml(publicUrl, tokens.issue(callSid, record.accountSid)));
  });

  // Outbound calls and recordings: same scope, same signature check.
  outboundTwilioRoutes(app, container);

  app.post(TWILIO_PATHS.status, { schema: { hide: true } }, async (req, reply) => {
    const body = (req.body ?? {}) as Form;
    const callSid = field(body, 'CallSid');
    const status = field(body, 'CallStatus');
    if (callSid && FINAL_CALL_STATUSES.has(status)) {
      // Looked up before the end releases the call: the holder may be another process.
      // Unknown while Redis is unreachable: the call still ends here; no other process can be told anyway.
      const holder = await calls.holders.holderOf(callSid).catch(() => undefined);
      await calls.end(callSid, `status:${status}`, status === 'completed' ? 'completed' : status);
      // The caller is gone: the AI stops without waiting for the socket to notice, on whichever process has it.
      if (holder !== undefined) {
        void t.commands.sendTo(holder, callSid, 'hangup').catch((err: unknown) => logger.warn({ err, callSid }, 'hang-up not delivered'));
      }
    }
    return xml(reply, '<?xml version="1.0" encoding="UTF-8"?><Response/>');
  });
}
