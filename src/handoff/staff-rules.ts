import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { AppError } from '../core/errors.js';
import { MIN_PASSWORD_LENGTH } from './passwords.js';
import type { StaffState } from './staff.js';

/**
 * The staff directory's rules, free of storage and HTTP: the state transition
 * table and the checks of each field (docs/people.md).
 */
export type StaffAction = 'enable' | 'disable' | 'remove' | 'invite' | 'activate';

/** The one transition table; anything missing is 409 ILLEGAL_TRANSITION. */
export const STAFF_TRANSITIONS: Readonly<Record<StaffState, Partial<Record<StaffAction, StaffState>>>> = {
  // An invited person has no password yet: only activation (or a new link) enables them.
  invited: { invite: 'invited', activate: 'enabled', remove: 'removed' },
  enabled: { enable: 'enabled', disable: 'disabled', remove: 'removed' },
  disabled: { enable: 'enabled', disable: 'disabled', remove: 'removed' },
  // Removed: no access and no seat until invited again, with new roles.
  removed: { invite: 'invited' },
};

export function staffTransition(state: StaffState, action: StaffAction): StaffState {
  const next = STAFF_TRANSITIONS[state][action];
  if (next === undefined) throw new AppError('ILLEGAL_TRANSITION', `cannot ${action} a person who is ${state}`, { state, action });
  return next;
}

/** Letters, digits, dot, dash, underscore; compared case-insensitively. */
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$/;
/** A pragmatic address check: one @, no spaces, a dot in the domain (full RFC 5322 is not worth it). */
const EMAIL = /^[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)+$/;
const CLIENT_IDENTITY = /^[A-Za-z0-9_.-]{1,121}$/;

function invalid(path: string, message: string): AppError {
  return new AppError('VALIDATION_FAILED', `${path}: ${message}`, { issues: [{ path, message }] });
}

export function checkUsername(username: string): string {
  if (!USERNAME.test(username)) throw invalid('body.username', '2–64 letters, digits, ".", "-" or "_", starting with a letter or digit');
  return username;
}

/** The key usernames are unique by. */
export const usernameKey = (username: string) => username.toLowerCase();

export function checkPassword(password: string): string {
  if (password.length < MIN_PASSWORD_LENGTH) throw invalid('body.password', `at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > 1024) throw invalid('body.password', 'at most 1024 characters');
  return password;
}

export function checkEmail(email: string | null | undefined): string | null | undefined {
  if (email === undefined || email === null) return email;
  const trimmed = email.trim();
  if (trimmed.length > 254 || !EMAIL.test(trimmed)) throw invalid('body.email', 'not a valid email address');
  return trimmed;
}

/** E.164 that the numbering plan says is possible (libphonenumber-js). */
export function checkPhone(phone: string | null | undefined): string | null | undefined {
  if (phone === undefined || phone === null) return phone;
  const parsed = /^\+[1-9]\d{1,14}$/.test(phone) ? parsePhoneNumberFromString(phone) : undefined;
  if (!parsed?.isPossible() || parsed.number !== phone) throw invalid('body.phone', 'a phone number in E.164, e.g. +14155550123');
  return phone;
}

export function checkClientIdentity(identity: string | null | undefined): string | null | undefined {
  if (identity === undefined || identity === null) return identity;
  if (!CLIENT_IDENTITY.test(identity)) throw invalid('body.clientIdentity', 'a Twilio Client name: letters, digits, ".", "-", "_"');
  return identity;
}

/** A person is dialled at one place: a phone number or a Twilio Client name, not both. */
export function checkOneDialTarget(phone: string | null | undefined, clientIdentity: string | null | undefined): void {
  if (phone && clientIdentity) throw invalid('body.clientIdentity', 'give phone or clientIdentity, not both');
}

export function checkMaxSessions(max: number | null | undefined): number | null | undefined {
  if (max === undefined || max === null) return max;
  if (!Number.isInteger(max) || max < 1 || max > 1000) throw invalid('body.maxConcurrentSessions', 'a whole number from 1 to 1000, or null for unlimited');
  return max;
}
