import { describe, expect, it } from 'vitest';
import {
  connectStreamTwiml,
  dialTwiml,
  hangupTwiml,
  nextStepTwiml,
  sayHangupTwiml,
  unavailableTwiml,
} from '../../../src/telephony/twiml.js';

const PUB = 'https://voice.example';

describe('TwiML', () => {
  it('connects a bidirectional stream with the token as a Parameter and the Connect action', () => {
    expect(connectStreamTwiml(PUB, 'tok.sig')).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Connect action="https://voice.example/twilio/stream-ended">' +
        '<Stream url="wss://voice.example/twilio/stream"><Parameter name="token" value="tok.sig"/></Stream></Connect></Response>',
    );
    expect(connectStreamTwiml('http://localhost:3000', 't')).toContain('url="ws://localhost:3000/twilio/stream"');
  });

  it('says and hangs up, escaping text', () => {
    const xml = sayHangupTwiml('Fish & <chips>');
    expect(xml).toContain('<Say>Fish &amp; &lt;chips&gt;</Say><Hangup/>');
  });

  it('dials cold transfers with the dial-result action', () => {
    expect(dialTwiml(PUB, '+15550009999')).toContain(
      '<Dial action="https://voice.example/twilio/dial-result" timeout="20">+15550009999</Dial>',
    );
  });

  it('renders each unavailable behaviour, never silence', () => {
    expect(unavailableTwiml({ message: 'Closed.', then: 'hangup' })).toContain('<Say>Closed.</Say><Hangup/>');
    expect(unavailableTwiml({ message: 'Closed.', then: { number: '+15550001234' } })).toContain(
      '<Say>Closed.</Say><Dial>+15550001234</Dial>',
    );
    expect(unavailableTwiml({ message: 'Closed.', then: { queue: 'support' } })).toContain(
      '<Say>Closed.</Say><Enqueue>support</Enqueue>',
    );
  });

  it('answers the next step, defaulting to Hangup', () => {
    expect(nextStepTwiml(PUB, undefined)).toBe(hangupTwiml());
    expect(nextStepTwiml(PUB, { kind: 'say', text: 'Sorry.' })).toContain('<Say>Sorry.</Say><Hangup/>');
    expect(nextStepTwiml(PUB, { kind: 'dial', number: '+15550009999' })).toContain('<Dial action=');
    expect(nextStepTwiml(PUB, { kind: 'stream' }, () => 'T')).toContain('<Parameter name="token" value="T"/>');
    expect(nextStepTwiml(PUB, { kind: 'stream' })).toBe(hangupTwiml());
  });
});
