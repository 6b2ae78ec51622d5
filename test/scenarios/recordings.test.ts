import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/outbound/recordings.js';
import { attachSimulatorToRest } from '../../src/testing/twilio-sim-rest.js';
import { CALLER, PUBLIC_URL } from './harness.js';
import { launchAgent, startRealServer, type RealServer } from './real-wiring.js';

/**
 * Invariant (docs/outbound.md#recordings): a flow with `settings.recording`
 * starts one two-channel recording through the REST API when its stream
 * starts; Twilio's status callback stores the SID, URL and duration on the
 * call (live record and SQL history); the API streams the audio to every role
 * that may read calls, and retention deletes at Twilio only recordings older
 * than the retention period.
 */

const NUMBER = '+15550100090';
const recordedFlow = {
  version: 1,
  name: 'Recorded',
  start: 'hello',
  settings: { recording: true },
  nodes: [
    { id: 'hello', type: 'say', text: 'This call is recorded for quality.', next: 'bye' },
    { id: 'bye', type: 'end', text: 'Goodbye.' },
  ],
};

let s: RealServer;
beforeEach(async () => {
  s = await startRealServer();
  attachSimulatorToRest(s.sim, s.rest);
});
afterEach(async () => {
  await s.close();
});

async function recordedCall(): Promise<string> {
  const call = await s.sim.placeCall({ from: CALLER, to: NUMBER });
  await s.finish(call);
  await s.until(async () => (await s.record(call.callSid)).recording?.status === 'completed', { what: 'the recording callback' });
  return call.callSid;
}

async function keyFor(role: 'builder' | 'support'): Promise<string> {
  const res = await s.api('POST', '/api-keys', { name: role, role });
  return res.json().key as string;
}

describe('recordings', () => {
  it('started on stream start, stored from the status callback, streamed through the API per role', async () => {
    await launchAgent(s, 'recorded', recordedFlow, NUMBER);
    const callSid = await recordedCall();

    const creates = s.rest.requests.filter((r) => r.path.endsWith(`/Calls/${callSid}/Recordings.json`));
    expect(creates).toHaveLength(1);
    expect(creates[0]!.form).toMatchObject({
      RecordingChannels: 'dual',
      RecordingStatusCallback: `${PUBLIC_URL}/twilio/recording-status?call=${callSid}`,
    });
    const sim = s.sim.call(callSid)!.recordings[0]!;
    const record = await s.record(callSid);
    expect(record.recording).toMatchObject({ sid: sim.sid, status: 'completed', channels: 2, url: sim.mediaUrl });
    expect(record.recording!.durationSeconds).toBe(sim.durationSeconds);
    expect(s.eventsOf(callSid).map((e) => e.type)).toEqual(expect.arrayContaining(['recording.started', 'recording.status']));

    // The history has it too (columns for retention, and the record).
    await s.container.callRecorder.flush();
    const row = await s.container.persistence.db.db
      .selectFrom('calls')
      .select(['recording_sid', 'recording_url', 'recording_duration_s', 'recording_status'])
      .where('call_sid', '=', callSid)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ recording_sid: sim.sid, recording_url: sim.mediaUrl, recording_duration_s: sim.durationSeconds, recording_status: 'completed' });
    expect((await s.api('GET', `/calls/${callSid}`)).json().id).toBe(callSid);

    // Streamed through the API: the bytes Twilio holds, fetched with the account's credentials.
    const media = await s.api('GET', `/calls/${callSid}/recording`);
    expect(media.statusCode, media.body).toBe(200);
    expect(media.headers['content-type']).toBe('audio/x-wav');
    expect(Buffer.compare(media.rawPayload, Buffer.from(sim.media!))).toBe(0);
    expect(media.rawPayload.subarray(0, 4).toString()).toBe('RIFF');
    const download = s.rest.requests.find((r) => r.method === 'GET' && r.path.endsWith(`/Recordings/${sim.sid}.wav`))!;
    expect(download.username).toBe(s.container.config.TWILIO_ACCOUNT_SID);
    expect(download.password).toBe(s.container.config.TWILIO_AUTH_TOKEN);

    // Every role that may read calls may hear it; nobody without a token.
    for (const role of ['builder', 'support'] as const) {
      const res = await s.app.inject({ method: 'GET', url: `/api/v1/calls/${callSid}/recording`, headers: { authorization: `Bearer ${await keyFor(role)}` } });
      expect(res.statusCode, role).toBe(200);
    }
    const anonymous = await s.app.inject({ method: 'GET', url: `/api/v1/calls/${callSid}/recording` });
    expect(anonymous.statusCode).toBe(401);
  });

  it('a flow without settings.recording records nothing; a call without a recording is a 404', async () => {
    await launchAgent(s, 'plain', { ...recordedFlow, settings: {} }, NUMBER);
    const call = await s.sim.placeCall({ from: CALLER, to: NUMBER });
    await s.finish(call);
    expect(s.rest.requests.filter((r) => r.path.includes('/Recordings'))).toEqual([]);
    const res = await s.api('GET', `/calls/${call.callSid}/recording`);
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('NOT_FOUND');
  });

  it('retention (an hourly job with RECORDING_RETENTION_DAYS) deletes only recordings older than the period, at Twilio and on the call', async () => {
    await s.close();
    s = await startRealServer({ env: { RECORDING_RETENTION_DAYS: '30' } });
    attachSimulatorToRest(s.sim, s.rest);
    await launchAgent(s, 'recorded', recordedFlow, NUMBER);
    const old = await recordedCall();
    await s.clock.advance(31 * DAY_MS);
    const recent = await recordedCall();

    // The next hourly run finds the old recording only.
    await s.until(async () => (await s.record(old)).recording?.status === 'deleted', {
      maxMs: 2 * 3_600_000,
      stepMs: 60_000,
      what: 'the retention job',
    });
    const oldSid = (await s.record(old)).recording!.sid;
    const recentSid = (await s.record(recent)).recording!.sid;
    expect(s.rest.requests.filter((r) => r.method === "DELETE").map((r) => r.path)).toEqual([
      expect.stringMatching(new RegExp(`/Recordings/${oldSid}\\.json$`)),
    ]);
    expect(s.sim.recordings.get(oldSid)!.deleted).toBe(true);
    expect(s.sim.recordings.get(recentSid)!.deleted).toBe(false);
    expect((await s.record(old)).recording).toMatchObject({ status: 'deleted' });
    expect((await s.api('GET', `/calls/${old}/recording`)).statusCode).toBe(404);
    expect((await s.api('GET', `/calls/${recent}/recording`)).statusCode).toBe(200);

    // A second run finds nothing more to delete.
    await s.container.callRecorder.flush();
    expect(await s.container.outbound.recordings.deleteExpired(30)).toEqual({ deleted: 0, failed: 0 });
  });
});
