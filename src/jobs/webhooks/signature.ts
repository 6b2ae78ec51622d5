import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures (docs/jobs.md#verifying-a-delivery): HMAC-SHA256 with the
 * agent's secret over `<timestamp>.<raw body>`, hex, sent as `v1=<hex>`. The
 * timestamp (Unix seconds, its own header) is inside the signed text, so a
 * receiver that refuses old timestamps refuses replays too.
 */

export const SIGNATURE_HEADER = 'x-webhook-signature';
export const TIMESTAMP_HEADER = 'x-webhook-timestamp';
export const DELIVERY_ID_HEADER = 'x-webhook-id';
export const EVENT_HEADER = 'x-webhook-event';

/** A receiver should refuse deliveries signed longer ago than this (replays); each attempt is signed afresh. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export function webhookSignature(secret: string, timestampSeconds: number, body: string): string {
  return 'v1=' + createHmac('sha256', secret).update(`${timestampSeconds}.${body}`, 'utf8').digest('hex');
}

/** What a receiver does: recompute, compare in constant time, and check the timestamp is recent. */
export function verifyWebhookSignature(input: {
  secret: string;
  body: string;
  timestamp: string | undefined;
  signature: string | undefined;
  nowSeconds: number;
  toleranceSeconds?: number;
}): boolean {
  if (input.timestamp === undefined || input.signature === undefined || !/^\d+$/.test(input.timestamp)) return false;
  const ts = Number(input.timestamp);
  if (Math.abs(input.nowSeconds - ts) > (input.toleranceSeconds ?? SIGNATURE_TOLERANCE_SECONDS)) return false;
  const expected = Buffer.from(webhookSignature(input.secret, ts, input.body));
  const given = Buffer.from(input.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
