// The SDK's webhook helpers alone: the package root loads the whole REST client (axios and every API), which idle memory does not need.
import { getExpectedTwilioSignature, validateRequest } from 'twilio/lib/webhooks/webhooks.js';
import type { Config } from '../config.js';

/**
 * X-Twilio-Signature checks (docs/protocols.md#request-signatures). The URL is always rebuilt from the
 * configured PUBLIC_URL, never from Host / X-Forwarded-*: tunnels and proxies
 * rewrite those, and trusting them would let a caller choose what gets signed.
 */
export type SignatureConfig = Pick<Config, 'PUBLIC_URL' | 'TWILIO_AUTH_TOKEN' | 'TWILIO_VALIDATE_SIGNATURE'>;

/** The https URL Twilio requested: PUBLIC_URL + path + query, exactly as received. */
export function webhookUrl(publicUrl: string, pathAndQuery: string): string {
  return publicUrl + pathAndQuery;
}

/** The Media Streams upgrade is signed over the wss:// form of the URL, without parameters. */
export function websocketUrl(publicUrl: string, pathAndQuery: string): string {
  return publicUrl.replace(/^http/, 'ws') + pathAndQuery.split('?')[0];
}

export type SignatureVerdict = 'valid' | 'disabled' | 'missing' | 'invalid' | 'no_auth_token';

export function checkSignature(
  config: SignatureConfig,
  signature: string | string[] | undefined,
  url: string,
  params: Record<string, unknown>,
): SignatureVerdict {
  if (!config.TWILIO_VALIDATE_SIGNATURE) return 'disabled';
  // Without the auth token nothing can be verified, so nothing is accepted.
  if (!config.TWILIO_AUTH_TOKEN) return 'no_auth_token';
  const sig = Array.isArray(signature) ? signature[0] : signature;
  if (!sig) return 'missing';
  return validateRequest(config.TWILIO_AUTH_TOKEN, sig, url, params) ? 'valid' : 'invalid';
}

export const isAccepted = (v: SignatureVerdict): boolean => v === 'valid' || v === 'disabled';

/** Why a request was refused, in the words an operator can act on (logged with each refusal). */
export function refusalReason(verdict: SignatureVerdict): string | undefined {
  switch (verdict) {
    case 'no_auth_token':
      return 'TWILIO_AUTH_TOKEN is not set, so no signature can be checked';
    case 'missing':
      return 'no X-Twilio-Signature header';
    case 'invalid':
      return 'X-Twilio-Signature does not match (a wrong TWILIO_AUTH_TOKEN, or PUBLIC_URL is not the URL Twilio calls)';
    default:
      return undefined;
  }
}

/**
 * Said once at start, so that a server that will refuse every Twilio request does not look
 * healthy: without TWILIO_AUTH_TOKEN each webhook and media stream gets 403.
 */
export function signatureWarnings(config: SignatureConfig): string[] {
  if (!config.TWILIO_VALIDATE_SIGNATURE) {
    return ['TWILIO_VALIDATE_SIGNATURE=false: Twilio webhooks are accepted unsigned; only for local development'];
  }
  if (!config.TWILIO_AUTH_TOKEN) {
    return ['TWILIO_AUTH_TOKEN is not set: every Twilio webhook and media stream is refused with 403 until it is'];
  }
  return [];
}

/** For tests and the simulator: the signature Twilio would send. */
export function expectedSignature(authToken: string, url: string, params: Record<string, unknown>): string {
  return getExpectedTwilioSignature(authToken, url, params);
}
