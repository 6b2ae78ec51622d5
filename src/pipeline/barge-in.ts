/**
 * Word rules for barge-in and backchannels (docs/architecture.md#barge-in). Pure
 * functions over transcript text; the state machine in turn-taking.ts decides
 * *when* they apply.
 */

/**
 * Words a listener says to show they are following, not to take the floor.
 * The list in docs/architecture.md#turn-taking; matching is done on canonical forms (see `words`).
 */
export const BACKCHANNEL_WORDS: readonly string[] = ['uh-huh', 'mm-hmm', 'yeah', 'okay', 'right'];

/** Default for `settings.bargeIn.minWords` (docs/architecture.md#barge-in). */
export const DEFAULT_BARGE_IN_MIN_WORDS = 2;

// Recognisers spell the same backchannel several ways ("Uh huh", "mhm", "OK");
// fold them into one token each so "uh huh" is one word, not two.
const CANONICAL: [RegExp, string][] = [
  [/\buh[\s-]*huh\b/g, 'uh-huh'],
  [/\b(?:m+[\s-]*hm+|mm+[\s-]*hmm*)\b/g, 'mm-hmm'],
  [/\bok\b/g, 'okay'],
];

/**
 * Lower-cased words with punctuation removed (apostrophes and inner hyphens
 * kept), backchannel spellings folded to their canonical form.
 */
export function words(text: string): string[] {
  let t = text.toLowerCase().replace(/[^\p{L}\p{N}'\s-]+/gu, ' ');
  for (const [re, canonical] of CANONICAL) t = t.replace(re, canonical);
  return t
    .split(/\s+/)
    .map((w) => w.replace(/^[-']+|[-']+$/g, ''))
    .filter((w) => w.length > 0);
}

/** True when the text has words and every one of them is a backchannel word. */
export function isBackchannelOnly(text: string, backchannel: readonly string[] = BACKCHANNEL_WORDS): boolean {
  const ws = words(text);
  return ws.length > 0 && ws.every((w) => backchannel.includes(w));
}

/**
 * Whether caller speech heard over interruptible agent audio should cut it off:
 * at least `minWords` words, not all of them backchannel words.
 */
export function isBargeIn(
  text: string,
  minWords: number = DEFAULT_BARGE_IN_MIN_WORDS,
  backchannel: readonly string[] = BACKCHANNEL_WORDS,
): boolean {
  const ws = words(text);
  return ws.length >= minWords && !ws.every((w) => backchannel.includes(w));
}
