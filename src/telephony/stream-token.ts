import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.js';

/**
 * The token in `<Parameter name="token">` that lets a media WebSocket in
 * (docs/architecture.md#stream-tokens): HMAC-SHA256 over its claims with SECRET_KEY, valid 60 s,
 * single-use, bound to the CallSid and AccountSid the TwiML was issued for.
 * Anyone who can reach /twilio/stream but did not get our TwiML has no token.
 */

/** Long enough for Twilio to open the socket after fetching TwiML, short enough that a leaked token is useless. */
export const STREAM_TOKEN_TTL_MS = 60_000;

export interface StreamTokenClaims {
  /** Token id, remembered once used. */
  jti: string;
  callSid: string;
  accountSid: string;
  /** Wall-clock expiry, epoch ms. */
  exp: number;
}

export type TokenCheck =
  | { ok: true; claims: StreamTokenClaims }
  | { ok: false; reason: 'missing' | 'malformed' | 'bad_signature' | 'expired' | 'reused' | 'wrong_call' };

/** Where used token ids are remembered; a shared store (Redis) replaces it when scaled out. */
export interface UsedTokenStore {
  /** Records the id; false if it was already used. */
  markUsed(jti: string, expiresAtMs: number, nowMs: number): boolean;
}

export class MemoryUsedTokenStore implements UsedTokenStore {
  private readonly used = new Map<string, number>();

  markUsed(jti: string, expiresAtMs: number, nowMs: number): boolean {
    // Forget ids whose token has expired anyway: expiry already refuses them.
    for (const [id, exp] of this.used) if (exp <= nowMs) this.used.delete(id);
    if (this.used.has(jti)) return false;
    this.used.set(jti, expiresAtMs);
    return true;
  }

  get size(): number {
    return this.used.size;
  }
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class StreamTokens {
  private readonly key: Buffer;

  constructor(
    secretKey: string | Buffer,
    private readonly clock: Clock,
    private readonly usedTokens: UsedTokenStore = new MemoryUsedTokenStore(),
  ) {
    this.key = Buffer.isBuffer(secretKey) ? secretKey : Buffer.from(secretKey, 'utf8');
    if (this.key.length < 16) throw new Error('stream token key must be at least 16 bytes');
  }

  issue(callSid: string, accountSid: string): string {
    const claims: StreamTokenClaims = {
      jti: randomBytes(12).toString('base64url'),
      callSid,
      accountSid,
      exp: this.clock.wallNow() + STREAM_TOKEN_TTL_MS,
    };
    const body = b64url(JSON.stringify(claims));
    return `${body}.${this.sign(body)}`;
  }

  /** Verifies and consumes the token: a second check of the same token fails as `reused`. */
  verify(token: string | undefined, callSid: string, accountSid: string): TokenCheck {
    if (!token) return { ok: false, reason: 'missing' };
    const dot = token.indexOf('.');
    if (dot <= 0 || dot !== token.lastIndexOf('.')) return { ok: false, reason: 'malformed' };
    const body = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(body), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, reason: 'bad_signature' };
    }
    let claims: StreamTokenClaims;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as StreamTokenClaims;
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    if (typeof claims?.jti !== 'string' || typeof claims.exp !== 'number') return { ok: false, reason: 'malformed' };
    const now = this.clock.wallNow();
    if (claims.exp <= now) return { ok: false, reason: 'expired' };
    if (claims.callSid !== callSid || claims.accountSid !== accountSid) return { ok: false, reason: 'wrong_call' };
    if (!this.usedTokens.markUsed(claims.jti, claims.exp, now)) return { ok: false, reason: 'reused' };
    return { ok: true, claims };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
