import { parsePhoneNumberFromString } from 'libphonenumber-js';

/**
 * The one masking rule for phone numbers: `+<country calling code>****<last four>`.
 * The country code comes from libphonenumber's metadata (1 to 3 digits, no
 * hand-written table); a number it cannot place keeps only its last four digits.
 * Logs (src/core/logger.ts) and API views (src/handoff/masking.ts) both use it.
 */
const E164_IN_TEXT = /\+[1-9]\d{6,14}/g;

export function maskE164(number: string): string {
  const cc = parsePhoneNumberFromString(number)?.countryCallingCode ?? '';
  return `+${cc}****${number.slice(-4)}`;
}

/** Every E.164-looking number inside free text, masked. */
export function maskNumbersInText(text: string): string {
  return text.replace(E164_IN_TEXT, maskE164);
}

/** True when the text holds something that looks like an E.164 number. */
export function hasPhoneNumber(text: string): boolean {
  E164_IN_TEXT.lastIndex = 0;
  const found = E164_IN_TEXT.test(text);
  E164_IN_TEXT.lastIndex = 0;
  return found;
}
