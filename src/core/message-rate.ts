/**
 * A per-socket message-rate limit as a pure state machine fed the time: a
 * token bucket (`ratePerSec` refilled continuously, up to `burst`) decides
 * whether a message is handled or dropped, and a socket that keeps flooding
 * (`closeAfterDropped` messages dropped in all) is to be closed. Dropping first
 * keeps a short burst (Twilio delivering audio held up by the network) from
 * ending a call; closing ends a peer that only floods.
 */

export interface MessageRatePolicy {
  ratePerSec: number;
  burst: number;
  closeAfterDropped: number;
}

/**
 * Twilio sends 50 media frames a second per track plus a few marks and digits; a fork carries
 * both tracks (100/s). 250/s with a burst of 500 (10 s of one track arriving at once after a
 * network stall) never touches a real stream; 500 dropped frames is a flood, not a hiccup.
 */
export const MEDIA_MESSAGE_RATE: MessageRatePolicy = { ratePerSec: 250, burst: 500, closeAfterDropped: 500 };

/** The workspace socket carries a heartbeat every 15 s and little else from the browser. */
export const WORKSPACE_MESSAGE_RATE: MessageRatePolicy = { ratePerSec: 20, burst: 40, closeAfterDropped: 100 };

/** WebSocket close code for a socket closed for flooding (policy violation). */
export const CLOSE_MESSAGE_RATE = 1008;
export const CLOSE_MESSAGE_RATE_REASON = 'message rate limit';

export type RateVerdict = 'ok' | 'drop' | 'close';

export class MessageRateLimiter {
  private tokens: number;
  private lastMs: number | undefined;
  dropped = 0;

  constructor(private readonly policy: MessageRatePolicy) {
    this.tokens = policy.burst;
  }

  take(nowMs: number): RateVerdict {
    if (this.lastMs !== undefined) {
      this.tokens = Math.min(this.policy.burst, this.tokens + ((nowMs - this.lastMs) * this.policy.ratePerSec) / 1000);
    }
    this.lastMs = nowMs;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 'ok';
    }
    this.dropped++;
    return this.dropped >= this.policy.closeAfterDropped ? 'close' : 'drop';
  }
}
