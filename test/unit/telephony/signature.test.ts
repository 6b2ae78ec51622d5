import { describe, expect, it } from 'vitest';
import { checkSignature, expectedSignature, isAccepted, refusalReason, signatureWarnings, webhookUrl, websocketUrl } from '../../../src/telephony/signature.js';

const config = { PUBLIC_URL: 'https://voice.example', TWILIO_AUTH_TOKEN: 'tok_12345', TWILIO_VALIDATE_SIGNATURE: true };
const params = { CallSid: 'CA1', From: '+15550001111', To: '+15550100002' };

describe('Twilio signatures are checked against PUBLIC_URL, never the Host header', () => {
  it('matches the reference value Twilio documents', () => {
    const sig = expectedSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', {
      CallSid: 'CA1234567890ABCDE',
      Caller: '+12349013030',
      Digits: '1234',
      From: '+12349013030',
      To: '+18005551212',
    });
    expect(sig).toBe('0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
  });

  it('accepts a signature over PUBLIC_URL + path + query', () => {
    const url = webhookUrl(config.PUBLIC_URL, '/twilio/voice?x=1');
    expect(url).toBe('https://voice.example/twilio/voice?x=1');
    expect(checkSignature(config, expectedSignature('tok_12345', url, params), url, params)).toBe('valid');
  });

  it('rejects a signature over another host, changed params, or none at all', () => {
    const url = webhookUrl(config.PUBLIC_URL, '/twilio/voice');
    const otherHost = expectedSignature('tok_12345', 'https://evil.example/twilio/voice', params);
    expect(checkSignature(config, otherHost, url, params)).toBe('invalid');
    const sig = expectedSignature('tok_12345', url, params);
    expect(checkSignature(config, sig, url, { ...params, To: '+15550100009' })).toBe('invalid');
    expect(checkSignature(config, undefined, url, params)).toBe('missing');
    expect(isAccepted(checkSignature(config, undefined, url, params))).toBe(false);
  });

  it('refuses everything when validation is on but no auth token is configured', () => {
    const url = webhookUrl(config.PUBLIC_URL, '/twilio/voice');
    const sig = expectedSignature('tok_12345', url, params);
    expect(checkSignature({ ...config, TWILIO_AUTH_TOKEN: undefined }, sig, url, params)).toBe('no_auth_token');
  });

  it('is off only when TWILIO_VALIDATE_SIGNATURE=false', () => {
    expect(checkSignature({ ...config, TWILIO_VALIDATE_SIGNATURE: false }, undefined, 'x', {})).toBe('disabled');
  });

  it('signs the WebSocket upgrade over the wss:// URL without a query', () => {
    expect(websocketUrl('https://voice.example', '/twilio/stream?a=b')).toBe('wss://voice.example/twilio/stream');
    expect(websocketUrl('http://localhost:3000', '/twilio/stream')).toBe('ws://localhost:3000/twilio/stream');
    const url = websocketUrl(config.PUBLIC_URL, '/twilio/stream');
    expect(checkSignature(config, expectedSignature('tok_12345', url, {}), url, {})).toBe('valid');
  });

  it('warns at start, naming the variable, when every Twilio request will be refused', () => {
    expect(signatureWarnings(config)).toEqual([]);
    expect(signatureWarnings({ ...config, TWILIO_AUTH_TOKEN: undefined })).toEqual([expect.stringMatching(/^TWILIO_AUTH_TOKEN is not set: .*403/)]);
    expect(signatureWarnings({ ...config, TWILIO_AUTH_TOKEN: undefined, TWILIO_VALIDATE_SIGNATURE: false })).toEqual([
      expect.stringMatching(/^TWILIO_VALIDATE_SIGNATURE=false: .*unsigned/),
    ]);
  });

  it('says why a request was refused, naming what to fix', () => {
    expect(refusalReason('no_auth_token')).toMatch(/TWILIO_AUTH_TOKEN is not set/);
    expect(refusalReason('missing')).toMatch(/no X-Twilio-Signature/);
    expect(refusalReason('invalid')).toMatch(/TWILIO_AUTH_TOKEN.*PUBLIC_URL/);
    expect(refusalReason('valid')).toBeUndefined();
  });
});
