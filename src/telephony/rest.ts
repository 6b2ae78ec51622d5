import type twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import type { Config } from '../config.js';
import { notConfigured } from '../core/errors.js';
import { onDemand } from '../core/on-demand.js';
import type { CallControl } from '../calls/call-control.js';
import type { NextStep } from '../calls/call-record.js';
import { nextStepTwiml } from './twiml.js';

/**
 * The Twilio REST client. The SDK is loaded when the first client is built, not at start:
 * its package root pulls in axios and every Twilio API, which a server that never
 * transfers, hangs up or dials out over REST does not need (docs/architecture.md#memory).
 */
const twilioSdk = onDemand<typeof twilio>('twilio');
const requestClientClass = onDemand<typeof RequestClient>('twilio/lib/base/RequestClient.js');

/** A call update that takes longer than this is failing; the caller waits on it. */
const REST_TIMEOUT_MS = 10_000;

/**
 * The SDK has no base-URL option (docs/protocols.md#rest-updates), so TWILIO_API_BASE_URL is
 * honoured by a RequestClient subclass that rewrites the origin of every request and keeps
 * the SDK's auth, form encoding and errors. Defined on first use, with the SDK.
 */
function baseUrlRequestClient(Base: typeof RequestClient, baseUrl: string): RequestClient {
  class BaseUrlRequestClient extends Base {
    override request<TData>(opts: RequestClient.RequestOptions<TData>) {
      const u = new URL(opts.uri);
      return super.request<TData>({ ...opts, uri: new URL(u.pathname + u.search, baseUrl).toString() });
    }
  }
  return new BaseUrlRequestClient({ timeout: REST_TIMEOUT_MS });
}

export type TwilioRestConfig = Pick<Config, 'TWILIO_ACCOUNT_SID' | 'TWILIO_AUTH_TOKEN' | 'TWILIO_API_BASE_URL'>;

export function createTwilioClient(config: TwilioRestConfig): twilio.Twilio {
  if (!config.TWILIO_ACCOUNT_SID) throw notConfigured('TWILIO_ACCOUNT_SID', 'the Twilio REST API');
  if (!config.TWILIO_AUTH_TOKEN) throw notConfigured('TWILIO_AUTH_TOKEN', 'the Twilio REST API');
  const sdk = twilioSdk();
  const Base = requestClientClass();
  const httpClient = config.TWILIO_API_BASE_URL
    ? baseUrlRequestClient(Base, config.TWILIO_API_BASE_URL)
    : new Base({ timeout: REST_TIMEOUT_MS });
  return sdk(config.TWILIO_ACCOUNT_SID, config.TWILIO_AUTH_TOKEN, { httpClient });
}

/** CallControl over the Twilio REST API; the client is built on first use so a missing key fails only that use. */
export class TwilioCallControl implements CallControl {
  private client: twilio.Twilio | undefined;

  constructor(
    private readonly config: TwilioRestConfig & Pick<Config, 'PUBLIC_URL'>,
    /** Issues a stream token when a step re-streams to the AI. */
    private readonly streamToken?: (callSid: string) => string,
  ) {}

  async updateCall(callSid: string, update: { twiml: string } | { status: 'completed' }): Promise<void> {
    this.client ??= createTwilioClient(this.config);
    await this.client.calls(callSid).update(update);
  }

  redirect(callSid: string, step: NextStep): Promise<void> {
    const token = this.streamToken;
    return this.updateCall(callSid, {
      twiml: nextStepTwiml(this.config.PUBLIC_URL, step, token ? () => token(callSid) : undefined),
    });
  }

  hangup(callSid: string): Promise<void> {
    return this.updateCall(callSid, { status: 'completed' });
  }
}
