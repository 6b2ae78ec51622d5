import { describe, expect, it } from 'vitest';
import {
  MAX_BRIEF_CHARS,
  backToAiTwiml,
  callbackUrl,
  callerConferenceTwiml,
  clipBrief,
  forkStartTwiml,
  forkStopTwiml,
  staffBriefTwiml,
  staffDoneTwiml,
  staffJoinTwiml,
} from '../../../src/telephony/handoff-twiml.js';
import { parseTwiml } from '../../../src/testing/twiml-reader.js';

const PUB = 'https://voice.example';
const CA = 'CA' + 'c'.repeat(32);
const XML = '<?xml version="1.0" encoding="UTF-8"?>';

describe('handoff TwiML', () => {
  it('puts the caller on hold in call-<CallSid>: starts only with a person, ends with the caller, no beep, signed-URL callbacks', () => {
    expect(callerConferenceTwiml(PUB, CA)).toBe(
      `${XML}<Response><Dial><Conference startConferenceOnEnter="false" endConferenceOnExit="true" beep="false" ` +
        `statusCallback="https://voice.example/twilio/conference-status?call=${CA}" statusCallbackEvent="start end join leave">call-${CA}</Conference></Dial></Response>`,
    );
    expect(callerConferenceTwiml(PUB, CA, { waitUrl: '' })).toContain('waitUrl=""');
  });

  it('forks both tracks of the caller before the conference when asked (assume), with the token as a Parameter', () => {
    const xml = callerConferenceTwiml(PUB, CA, { fork: { token: 't.s' }, say: 'One moment & thanks.' });
    expect(parseTwiml(xml).map((v) => v.name)).toEqual(['Say', 'Start', 'Dial']);
    expect(xml).toContain(
      `<Start><Stream name="fork-${CA}" url="wss://voice.example/twilio/fork" track="both_tracks"><Parameter name="token" value="t.s"/></Stream></Start>`,
    );
    expect(xml).toContain('<Say>One moment &amp; thanks.</Say>');
    expect(forkStartTwiml('http://localhost:3000', CA, { token: 'x' })).toContain('url="ws://localhost:3000/twilio/fork"');
    expect(forkStopTwiml(CA)).toBe(`${XML}<Response><Stop><Stream name="fork-${CA}"/></Stop></Response>`);
  });

  it('briefs the person inside a one-digit gather that posts even with nothing pressed, naming the attempt', () => {
    const xml = staffBriefTwiml(PUB, CA, { attempt: 3, brief: 'Caller Ann <VIP> wants a refund.' });
    expect(xml).toBe(
      `${XML}<Response><Gather input="dtmf" numDigits="1" timeout="5" actionOnEmptyResult="true" ` +
        `action="https://voice.example/twilio/staff-gather?call=${CA}&amp;attempt=3">` +
        '<Say>Caller Ann &lt;VIP&gt; wants a refund.</Say><Say>Press 1 to take the call, 2 to pass.</Say></Gather><Hangup/></Response>',
    );
    expect(staffBriefTwiml(PUB, CA, { attempt: 1, brief: '', language: 'de-DE' })).toContain(
      '<Say language="de-DE">Press 1 to take the call, 2 to pass.</Say>',
    );
  });

  it('keeps a long brief under the Say limit, cut at a word', () => {
    const long = 'word '.repeat(1000);
    const clipped = clipBrief(long);
    expect(clipped.length).toBeLessThanOrEqual(MAX_BRIEF_CHARS + 1);
    expect(clipped.endsWith('word…')).toBe(true);
    expect(clipBrief('  short\n brief ')).toBe('short brief');
  });

  it('joins the person (starts the conference, leaving does not end it), or lets them go', () => {
    expect(staffJoinTwiml(CA)).toBe(
      `${XML}<Response><Dial><Conference startConferenceOnEnter="true" endConferenceOnExit="false" beep="false">call-${CA}</Conference></Dial></Response>`,
    );
    expect(staffDoneTwiml()).toBe(`${XML}<Response><Hangup/></Response>`);
    expect(staffDoneTwiml('Thanks.')).toContain('<Say>Thanks.</Say><Hangup/>');
  });

  it('returns the caller to an AI: the fork stopped first, then a fresh bidirectional stream', () => {
    expect(backToAiTwiml(PUB, CA, 'tok', { stopFork: true })).toBe(
      `${XML}<Response><Stop><Stream name="fork-${CA}"/></Stop><Connect action="https://voice.example/twilio/stream-ended">` +
        '<Stream url="wss://voice.example/twilio/stream"><Parameter name="token" value="tok"/></Stream></Connect></Response>',
    );
    expect(backToAiTwiml(PUB, CA, 'tok')).not.toContain('<Stop>');
  });

  it('callback URLs carry ids in the query string, encoded', () => {
    expect(callbackUrl(PUB, '/twilio/staff-leg', { call: CA, attempt: 2 })).toBe(`${PUB}/twilio/staff-leg?call=${CA}&attempt=2`);
    expect(callbackUrl(PUB, '/x', { a: 'b c&d' })).toBe(`${PUB}/x?a=b+c%26d`);
  });
});
