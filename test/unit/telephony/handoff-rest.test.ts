import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { TelephonyRequestError } from '../../../src/handoff/telephony-port.js';
import { TwilioHandoffTelephony } from '../../../src/telephony/handoff-rest.js';
import { attachSimulatorToRest } from '../../../src/testing/twilio-sim-rest.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../../src/testing/twilio-rest.js';
import { TwilioSimulator } from '../../../src/testing/twilio-simulator.js';

/**
 * The handoff's REST port speaks Twilio's wire format through the real SDK
 * (PascalCase form fields, repeated names for lists) and treats "already gone"
 * as done where the port promises it.
 */
const ACCOUNT_SID = 'AC' + 'b'.repeat(32);
const CALLER = 'CA' + '1'.repeat(32);
let rest: FakeTwilioRest;
let sim: TwilioSimulator;
let port: TwilioHandoffTelephony;

beforeEach(async () => {
  rest = await startFakeTwilioRest();
  // Nothing rings unless the clock moves, and no server listens: this is about the requests.
  sim = new TwilioSimulator({ serverUrl: 'http://127.0.0.1:9', publicUrl: 'https://voice.test', authToken: 't', accountSid: ACCOUNT_SID, clock: new ManualClock() });
  attachSimulatorToRest(sim, rest);
  port = new TwilioHandoffTelephony({ TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: 'secret', TWILIO_API_BASE_URL: rest.url });
});
afterEach(() => rest.close());

const last = () => rest.requests.at(-1)!;

describe('TwilioHandoffTelephony', () => {
  it('dials a person with the Calls API: url for the brief, every progress event, the ring timeout', async () => {
    const legSid = await port.dialStaffLeg({
      to: 'client:ana',
      from: '+15550100002',
      url: 'https://voice.test/twilio/staff-leg?call=CA1&attempt=1',
      statusCallback: 'https://voice.test/twilio/staff-leg-status?call=CA1&attempt=1',
      ringSeconds: 20,
    });
    expect(sim.call(legSid)?.to).toBe('client:ana');
    expect(last()).toMatchObject({
      method: 'POST',
      path: `/2010-04-01/Accounts/${ACCOUNT_SID}/Calls.json`,
      username: ACCOUNT_SID,
      password: 'secret',
      form: {
        To: 'client:ana',
        From: '+15550100002',
        Url: 'https://voice.test/twilio/staff-leg?call=CA1&attempt=1',
        Method: 'POST',
        StatusCallback: 'https://voice.test/twilio/staff-leg-status?call=CA1&attempt=1',
        StatusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
        Timeout: '20',
      },
    });
  });

  it('adds a participant with the conference callbacks on every create, then removes it by label', async () => {
    const legSid = await port.addParticipant({
      conference: `call-${CALLER}`,
      to: '+15550107001',
      from: '+15550100002',
      label: 'staff-st1',
      statusCallback: 'https://voice.test/twilio/staff-leg-status?call=x',
      conferenceStatusCallback: 'https://voice.test/twilio/conference-status?call=x',
      ringSeconds: 15,
    });
    expect(last()).toMatchObject({
      path: `/2010-04-01/Accounts/${ACCOUNT_SID}/Conferences/call-${CALLER}/Participants.json`,
      form: {
        To: '+15550107001',
        Label: 'staff-st1',
        StartConferenceOnEnter: 'true',
        EndConferenceOnExit: 'false',
        Beep: 'false',
        Timeout: '15',
        ConferenceStatusCallback: 'https://voice.test/twilio/conference-status?call=x',
        ConferenceStatusCallbackEvent: ['start', 'end', 'join', 'leave'],
        StatusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
      },
    });
    const conf = sim.conference(`call-${CALLER}`)!;
    expect(conf.statusCallback).toBe('https://voice.test/twilio/conference-status?call=x');

    await port.removeParticipant(`call-${CALLER}`, 'staff-st1');
    const methods = rest.requests.slice(-2).map((r) => `${r.method} ${r.path.split('/').slice(4).join('/')}`);
    expect(methods).toEqual(['GET Conferences.json', `DELETE Conferences/${conf.sid}/Participants/staff-st1.json`]);
    // The leg was still ringing: removing it cancels it.
    await sim.call(legSid)!.whenEnded();
    expect(sim.call(legSid)!.status).toBe('canceled');
  });

  it('removing from a conference that is over, ending a call that is gone, stopping a stopped fork: all fine', async () => {
    await expect(port.removeParticipant(`call-${CALLER}`, 'staff-x')).resolves.toBeUndefined();
    await expect(port.endCall('CA' + '9'.repeat(32))).resolves.toBeUndefined();
    await expect(port.stopFork('CA' + '9'.repeat(32), 'fork-x')).resolves.toBeUndefined();
  });

  it('other refusals are TelephonyRequestError with Twilio’s code', async () => {
    const err = await port.redirectCall('CA' + '9'.repeat(32), '<Response/>').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TelephonyRequestError);
    expect(err).toMatchObject({ status: 404, code: 20404 });
    rest.failNext(500);
    await expect(port.dialStaffLeg({ to: '+1', from: '+2', url: 'u', statusCallback: 's', ringSeconds: 5 })).rejects.toMatchObject({ status: 500 });
  });

  it('forks both tracks through the Streams resource with the token as parameter, and stops it by name', async () => {
    const legSid = await port.dialStaffLeg({ to: '+15550107001', from: '+15550100002', url: 'https://voice.test/x', statusCallback: 'https://voice.test/s', ringSeconds: 20 });
    // Only a call in progress can be forked.
    await expect(port.startFork(legSid, { name: 'fork-a', url: 'wss://voice.test/twilio/fork', token: 'tk' })).rejects.toMatchObject({ code: 21220 });
    expect(last().form).toMatchObject({ Url: 'wss://voice.test/twilio/fork', Name: 'fork-a', Track: 'both_tracks', 'Parameter1.Name': 'token', 'Parameter1.Value': 'tk' });
    await port.stopFork(legSid, 'fork-a');
    expect(last()).toMatchObject({ path: `/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${legSid}/Streams/fork-a.json`, form: { Status: 'stopped' } });
  });

  it('without TWILIO_ACCOUNT_SID every use fails naming the variable', async () => {
    const bare = new TwilioHandoffTelephony({ TWILIO_AUTH_TOKEN: 'x' } as never);
    await expect(bare.endCall(CALLER)).rejects.toMatchObject({ code: 'NOT_CONFIGURED', details: { variable: 'TWILIO_ACCOUNT_SID' } });
  });
});
