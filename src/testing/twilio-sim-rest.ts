import type { SimConference } from './twilio-conference.js';
import { restError, type FakeTwilioRest, type RestForm, type RestReply, type TwilioRestBackend } from './twilio-rest.js';
import type { BeepSetting, ParticipantOptions } from './twilio-conference.js';
import type { SimRecording } from './twilio-recording.js';
import { sid, type SimCall, type TwilioSimulator } from './twilio-simulator.js';

/**
 * The REST fake's requests acted out by the Twilio simulator: a created call
 * rings the scripted person, an update redirects or hangs up a simulated call
 * (leaving its conference), a participant create rings someone into a
 * conference, a conference update ends it, a stream create forks the audio.
 * Answers carry the fields the `twilio` SDK maps (snake_case), errors Twilio's
 * codes where the docs give one (docs/protocols.md).
 */
export function attachSimulatorToRest(sim: TwilioSimulator, rest: FakeTwilioRest): SimRestBackend {
  const backend = new SimRestBackend(sim);
  rest.backend = backend;
  return backend;
}

/** Twilio refuses inline TwiML longer than this (error 32018). */
export const MAX_TWIML_CHARS = 4000;

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
/** Repeated names or a space-separated list: both reach Twilio. */
const many = (v: string | string[] | undefined): string[] =>
  (v === undefined ? [] : Array.isArray(v) ? v : [v]).flatMap((s) => s.split(/\s+/)).filter(Boolean);
const bool = (v: string | string[] | undefined): boolean | undefined => {
  const s = one(v)?.toLowerCase();
  return s === 'true' ? true : s === 'false' ? false : undefined;
};
const rfc2822 = (ms: number) => new Date(ms).toUTCString();

interface Pending {
  conference: SimConference;
  options: ParticipantOptions;
}

export class SimRestBackend implements TwilioRestBackend {
  /** Participants-API legs not yet in their conference (ringing), by CallSid. */
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly sim: TwilioSimulator) {}

  private base(): string {
    return `/2010-04-01/Accounts/${this.sim.accountSid}`;
  }

  private callJson(call: SimCall): Record<string, unknown> {
    return {
      sid: call.callSid,
      account_sid: this.sim.accountSid,
      to: call.to,
      from: call.from,
      status: call.status,
      direction: call.direction,
      api_version: '2010-04-01',
      parent_call_sid: null,
      date_created: rfc2822(this.sim.clock.wallNow()),
      uri: `${this.base()}/Calls/${call.callSid}.json`,
    };
  }

  createCall(form: RestForm): RestReply {
    const to = one(form.To);
    const from = one(form.From);
    const url = one(form.Url);
    const twiml = one(form.Twiml);
    if (!to) return restError(400, 21201, "No 'To' number is specified");
    if (!from) return restError(400, 21213, "No 'From' number is specified");
    if (!url && !twiml) return restError(400, 21205, 'Url parameter is required');
    if (twiml && twiml.length > MAX_TWIML_CHARS) return restError(400, 32018, 'Twiml is too long');
    const statusCallback = one(form.StatusCallback);
    const timeout = one(form.Timeout);
    const detection = one(form.MachineDetection);
    if (detection !== undefined && detection !== 'Enable' && detection !== 'DetectMessageEnd') {
      return restError(400, 21626, 'Invalid MachineDetection value');
    }
    const asyncAmd = bool(form.AsyncAmd) ?? false;
    const amdCallback = one(form.AsyncAmdStatusCallback);
    const call = this.sim.dialOut({
      to,
      from,
      onAnswer: twiml ? { kind: 'twiml', xml: twiml } : { kind: 'url', url: url! },
      ...(statusCallback ? { statusCallback } : {}),
      statusEvents: many(form.StatusCallbackEvent),
      ...(timeout ? { timeoutSeconds: Number(timeout) } : {}),
      ...(detection ? { amd: { mode: detection, async: asyncAmd, ...(amdCallback ? { callback: amdCallback } : {}) } } : {}),
    });
    return { status: 201, body: this.callJson(call) };
  }

  fetchCall(callSid: string): RestReply {
    const call = this.sim.call(callSid);
    return call ? { status: 200, body: this.callJson(call) } : restError(404, 20404, `Call ${callSid} not found`);
  }

  updateCall(callSid: string, form: RestForm): RestReply {
    const call = this.sim.call(callSid);
    if (!call) return restError(404, 20404, `Call ${callSid} not found`);
    const status = one(form.Status);
    const twiml = one(form.Twiml);
    const url = one(form.Url);
    if (status === 'completed' || status === 'canceled') {
      const live = call.status === 'in-progress';
      // `canceled` only reaches a call that is still queued or ringing.
      if (!call.ended && (status === 'completed' || !live)) {
        const after = live ? 'completed' : 'canceled';
        void call.restHangup();
        return { status: 200, body: { ...this.callJson(call), status: after } };
      }
      return { status: 200, body: this.callJson(call) };
    }
    if (twiml !== undefined || url !== undefined) {
      if (call.ended) return restError(400, 21220, 'Call is not in-progress. Cannot redirect.');
      if (twiml !== undefined && twiml.length > MAX_TWIML_CHARS) return restError(400, 32018, 'Twiml is too long');
      if (twiml !== undefined) call.redirect(twiml);
      else call.redirectToUrl(url!);
    }
    return { status: 200, body: this.callJson(call) };
  }

  private conferenceJson(c: SimConference): Record<string, unknown> {
    const uri = `${this.base()}/Conferences/${c.sid}`;
    return {
      sid: c.sid,
      account_sid: this.sim.accountSid,
      friendly_name: c.friendlyName,
      status: c.status,
      region: 'us1',
      api_version: '2010-04-01',
      date_created: rfc2822(c.createdAtWallMs),
      date_updated: rfc2822(this.sim.clock.wallNow()),
      reason_conference_ended: c.reasonEnded ?? null,
      call_sid_ending_conference: c.callSidEndingConference ?? null,
      uri: `${uri}.json`,
      subresource_uris: { participants: `${uri}/Participants.json`, recordings: `${uri}/Recordings.json` },
    };
  }

  listConferences(query: URLSearchParams): RestReply {
    const name = query.get('FriendlyName');
    const status = query.get('Status');
    const items = this.sim.conferences.filter((c) => (!name || c.friendlyName === name) && (!status || c.status === status));
    return {
      status: 200,
      body: {
        conferences: items.map((c) => this.conferenceJson(c)),
        page: 0,
        page_size: 50,
        first_page_uri: `${this.base()}/Conferences.json?PageSize=50&Page=0`,
        next_page_uri: null,
        previous_page_uri: null,
        uri: `${this.base()}/Conferences.json`,
        start: 0,
        end: Math.max(0, items.length - 1),
      },
    };
  }

  /** A conference by SID (any status) or by friendly name (the live one). */
  private conferenceByRef(ref: string): SimConference | undefined {
    return this.sim.conference(ref);
  }

  fetchConference(ref: string): RestReply {
    const c = this.conferenceByRef(ref);
    return c ? { status: 200, body: this.conferenceJson(c) } : restError(404, 20404, `Conference ${ref} not found`);
  }

  updateConference(ref: string, form: RestForm): RestReply {
    const c = this.conferenceByRef(ref);
    if (!c) return restError(404, 20404, `Conference ${ref} not found`);
    if (one(form.Status) === 'completed') c.end('conference-ended-via-api');
    return { status: 200, body: this.conferenceJson(c) };
  }

  private participantJson(c: SimConference, callSid: string): Record<string, unknown> | undefined {
    const inside = c.participant(callSid);
    const waiting = this.pending.get(callSid);
    const p = inside ?? (waiting && waiting.conference === c ? { ...waiting.options, hold: false } : undefined);
    if (!p) return undefined;
    const call = this.sim.call(callSid);
    return {
      account_sid: this.sim.accountSid,
      call_sid: callSid,
      conference_sid: c.sid,
      label: p.label ?? null,
      status: inside ? 'connected' : call?.status === 'ringing' ? 'ringing' : 'queued',
      start_conference_on_enter: p.startConferenceOnEnter,
      end_conference_on_exit: p.endConferenceOnExit,
      hold: p.hold,
      muted: p.muted,
      coaching: false,
      call_sid_to_coach: null,
      date_created: rfc2822(this.sim.clock.wallNow()),
      date_updated: rfc2822(this.sim.clock.wallNow()),
      uri: `${this.base()}/Conferences/${c.sid}/Participants/${callSid}.json`,
    };
  }

  createParticipant(conferenceRef: string, form: RestForm): RestReply {
    const to = one(form.To);
    const from = one(form.From);
    if (!to) return restError(400, 21201, "No 'To' number is specified");
    if (!from) return restError(400, 21213, "No 'From' number is specified");
    let conference: SimConference | undefined;
    if (/^CF[0-9a-f]{32}$/.test(conferenceRef)) {
      conference = this.sim.conference(conferenceRef);
      if (!conference || conference.status === 'completed') return restError(404, 20404, `Conference ${conferenceRef} not found`);
    } else {
      // By friendly name: the live conference, or a new one that keeps this participant's conference callbacks.
      conference = this.sim.conferenceFor(conferenceRef, one(form.ConferenceStatusCallback), many(form.ConferenceStatusCallbackEvent));
    }
    const label = one(form.Label);
    const beep = one(form.Beep);
    const waitUrl = one(form.WaitUrl);
    const options: ParticipantOptions = {
      ...(label ? { label } : {}),
      startConferenceOnEnter: bool(form.StartConferenceOnEnter) ?? true,
      endConferenceOnExit: bool(form.EndConferenceOnExit) ?? false,
      beep: (['true', 'false', 'onEnter', 'onExit'].includes(beep ?? '') ? beep : 'true') as BeepSetting,
      muted: bool(form.Muted) ?? false,
      ...(waitUrl !== undefined ? { waitUrl } : {}),
    };
    const statusCallback = one(form.StatusCallback);
    const timeout = one(form.Timeout);
    const call = this.sim.dialOut({
      to,
      from,
      onAnswer: { kind: 'conference', conference, options },
      ...(statusCallback ? { statusCallback } : {}),
      statusEvents: many(form.StatusCallbackEvent),
      ...(timeout ? { timeoutSeconds: Number(timeout) } : {}),
    });
    this.pending.set(call.callSid, { conference, options });
    void call.whenEnded().then(() => this.pending.delete(call.callSid));
    return { status: 201, body: this.participantJson(conference, call.callSid) };
  }

  listParticipants(conferenceRef: string): RestReply {
    const c = this.conferenceByRef(conferenceRef);
    if (!c) return restError(404, 20404, `Conference ${conferenceRef} not found`);
    const sids = [...c.members(), ...[...this.pending].filter(([sid, p]) => p.conference === c && !c.has(sid)).map(([sid]) => sid)];
    return {
      status: 200,
      body: {
        participants: sids.map((s) => this.participantJson(c, s)).filter(Boolean),
        page: 0,
        page_size: 50,
        next_page_uri: null,
        previous_page_uri: null,
        uri: `${this.base()}/Conferences/${c.sid}/Participants.json`,
      },
    };
  }

  private participantRef(c: SimConference, ref: string): string | undefined {
    const inside = c.resolve(ref);
    if (inside) return inside;
    for (const [sid, p] of this.pending) if (p.conference === c && (sid === ref || p.options.label === ref)) return sid;
    return undefined;
  }

  fetchParticipant(conferenceRef: string, participantRef: string): RestReply {
    const c = this.conferenceByRef(conferenceRef);
    const sid = c && this.participantRef(c, participantRef);
    const body = c && sid ? this.participantJson(c, sid) : undefined;
    return body ? { status: 200, body } : restError(404, 20404, `Participant ${participantRef} not found`);
  }

  updateParticipant(conferenceRef: string, participantRef: string, form: RestForm): RestReply {
    const c = this.conferenceByRef(conferenceRef);
    const sid = c && this.participantRef(c, participantRef);
    if (!c || !sid) return restError(404, 20404, `Participant ${participantRef} not found`);
    const hold = bool(form.Hold);
    const muted = bool(form.Muted);
    const endConferenceOnExit = bool(form.EndConferenceOnExit);
    c.update(sid, {
      ...(hold !== undefined ? { hold } : {}),
      ...(muted !== undefined ? { muted } : {}),
      ...(endConferenceOnExit !== undefined ? { endConferenceOnExit } : {}),
    });
    return { status: 200, body: this.participantJson(c, sid) };
  }

  removeParticipant(conferenceRef: string, participantRef: string): RestReply {
    const c = this.conferenceByRef(conferenceRef);
    const sid = c && this.participantRef(c, participantRef);
    if (!c || !sid) return restError(404, 20404, `Participant ${participantRef} not found`);
    if (c.has(sid)) c.leave(sid, 'kicked');
    // Removing a participant that is still ringing cancels its leg.
    else void this.sim.call(sid)?.restHangup();
    return { status: 204 };
  }

  createStream(callSid: string, form: RestForm): RestReply {
    const call = this.sim.call(callSid);
    if (!call) return restError(404, 20404, `Call ${callSid} not found`);
    if (call.ended || call.status !== 'in-progress') return restError(400, 21220, 'Call is not in-progress');
    const url = one(form.Url);
    if (!url) return restError(400, 21205, 'Url parameter is required');
    const params: Record<string, string> = {};
    for (let i = 1; i <= 99; i++) {
      const n = one(form[`Parameter${i}.Name`]);
      if (n === undefined) break;
      params[n] = one(form[`Parameter${i}.Value`]) ?? '';
    }
    const name = one(form.Name);
    const track = one(form.Track);
    const statusCallback = one(form.StatusCallback);
    const fork = call.startFork(
      { url, ...(name ? { name } : {}), ...(track ? { track } : {}), ...(statusCallback ? { statusCallback } : {}) },
      params,
    );
    return { status: 201, body: this.streamJson(call, fork.streamSid, fork.options.name, 'in-progress') };
  }

  updateStream(callSid: string, streamRef: string, form: RestForm): RestReply {
    const call = this.sim.call(callSid);
    if (!call) return restError(404, 20404, `Call ${callSid} not found`);
    const fork = call.forks.find((f) => f.streamSid === streamRef || f.options.name === streamRef);
    if (!fork) return restError(404, 20404, `Stream ${streamRef} not found`);
    if (one(form.Status) === 'stopped') void call.stopFork(streamRef);
    return { status: 200, body: this.streamJson(call, fork.streamSid, fork.options.name, 'stopped') };
  }

  createRecording(callSid: string, form: RestForm): RestReply {
    const call = this.sim.call(callSid);
    if (!call) return restError(404, 20404, `Call ${callSid} not found`);
    if (call.ended || call.status !== 'in-progress') return restError(400, 21220, 'Call is not in-progress. Cannot create recording.');
    const channels = one(form.RecordingChannels) ?? 'mono';
    if (channels !== 'mono' && channels !== 'dual') return restError(400, 21610, 'Invalid RecordingChannels');
    const statusCallback = one(form.RecordingStatusCallback);
    const events = many(form.RecordingStatusCallbackEvent);
    const rec = call.startRecording({
      sid: sid('RE'),
      channels: channels === 'dual' ? 2 : 1,
      track: one(form.RecordingTrack) ?? 'both',
      ...(statusCallback ? { statusCallback } : {}),
      statusEvents: events.length > 0 ? events : ['completed'],
    });
    const body = rec.json(this.sim.clock.wallNow());
    // Under the call, the resource's URI is the call's sub-resource.
    return { status: 201, body: { ...body, uri: `${this.base()}/Calls/${callSid}/Recordings/${rec.sid}.json` } };
  }

  private liveRecording(recordingSid: string): SimRecording | undefined {
    const rec = this.sim.recordings.get(recordingSid);
    return rec && !rec.deleted ? rec : undefined;
  }

  fetchRecording(recordingSid: string): RestReply {
    const rec = this.liveRecording(recordingSid);
    return rec ? { status: 200, body: rec.json(this.sim.clock.wallNow()) } : restError(404, 20404, `Recording ${recordingSid} not found`);
  }

  deleteRecording(recordingSid: string): RestReply {
    const rec = this.liveRecording(recordingSid);
    if (!rec) return restError(404, 20404, `Recording ${recordingSid} not found`);
    rec.deleted = true;
    return { status: 204 };
  }

  recordingMedia(recordingSid: string, extension: string): RestReply {
    const rec = this.liveRecording(recordingSid);
    if (!rec?.media) return restError(404, 20404, `Recording ${recordingSid} not found`);
    // The simulator keeps WAV only; an .mp3 request gets the same audio as WAV would be wrong, so it is refused.
    if (extension !== 'wav') return restError(404, 20404, 'The simulator serves recordings as .wav only');
    return { status: 200, raw: { contentType: 'audio/x-wav', bytes: rec.media } };
  }

  private streamJson(call: SimCall, streamSid: string, name: string, status: string): Record<string, unknown> {
    return {
      sid: streamSid,
      account_sid: this.sim.accountSid,
      call_sid: call.callSid,
      name,
      status,
      date_updated: rfc2822(this.sim.clock.wallNow()),
      uri: `${this.base()}/Calls/${call.callSid}/Streams/${streamSid}.json`,
    };
  }
}
