/**
 * Turns a stream of LLM text deltas into a stream of complete sentences, each
 * released as soon as it ends, so speech synthesis can start on the first one
 * (docs/architecture.md#a-call-end-to-end).
 *
 * A sentence ends at ".", "!" or "?" followed by whitespace, or at a newline.
 * Known abbreviations ("Dr.", "e.g."), single initials and decimals ("3.5") do
 * not end one. A run with no end longer than MAX_SENTENCE_CHARS is cut at its
 * last comma (else its last space) so a rambling reply still starts speaking.
 */
export const MAX_SENTENCE_CHARS = 200;

const ABBREVIATIONS = new Set([
  'dr', 'mr', 'mrs', 'ms', 'prof', 'sr', 'jr', 'st', 'mt', 'vs', 'etc', 'e.g', 'i.e', 'approx', 'dept',
  'inc', 'ltd', 'co', 'corp', 'ave', 'blvd', 'rd', 'apt', 'no', 'tel', 'ext', 'fig', 'jan', 'feb', 'mar',
  'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec', 'a.m', 'p.m', 'u.s',
]);

// Closing quotes and brackets stay with the sentence they close.
const CLOSERS = new Set(['"', "'", ')', ']', '”', '’', '»']);

function endsWithAbbreviation(text: string, dotIndex: number): boolean {
  // The word right before the dot, including inner dots ("e.g").
  let start = dotIndex;
  while (start > 0 && /[\p{L}.]/u.test(text[start - 1]!)) start--;
  const raw = text.slice(start, dotIndex);
  const word = raw.toLowerCase();
  if (word.length === 0) return false;
  if (ABBREVIATIONS.has(word)) {
    // "No." ends a sentence more often than it abbreviates "number"; keep it
    // only when a digit follows ("No. 5").
    if (word === 'no') return /^\s*\d/.test(text.slice(dotIndex + 1));
    return true;
  }
  // A single capital initial ("J. Smith") or dotted acronym ("U.K.").
  return /^\p{Lu}$/u.test(raw) || /^(\p{L}\.)+\p{L}$/u.test(raw);
}

/**
 * Index just past the end of the first complete sentence in `buf`, or -1.
 * `final` means no more text will come, so a terminator at the very end counts.
 */
export function findSentenceEnd(buf: string, final = false): number {
  for (let i = 0; i < buf.length; i++) {
    const ch = buf[i]!;
    if (ch === '\n') return i + 1;
    if (ch !== '.' && ch !== '!' && ch !== '?') continue;
    let j = i + 1;
    // Runs like "?!" or "..." end together.
    while (j < buf.length && (buf[j] === '.' || buf[j] === '!' || buf[j] === '?')) j++;
    while (j < buf.length && CLOSERS.has(buf[j]!)) j++;
    if (j >= buf.length) {
      if (!final) return -1; // must see what follows first ("3." may become "3.5")
    } else if (!/\s/.test(buf[j]!)) {
      i = j - 1;
      continue;
    }
    if (ch === '.' && j === i + 1 && endsWithAbbreviation(buf, i)) continue;
    return j;
  }
  return -1;
}

function longRunCut(buf: string): number {
  const head = buf.slice(0, MAX_SENTENCE_CHARS + 1);
  const comma = head.lastIndexOf(', ');
  if (comma >= MAX_SENTENCE_CHARS / 4) return comma + 1;
  const space = head.lastIndexOf(' ');
  if (space > 0) return space;
  return -1;
}

export async function* splitSentences(source: AsyncIterable<string>): AsyncIterable<string> {
  let buf = '';
  const drain = function* (final: boolean): Generator<string> {
    for (;;) {
      let end = findSentenceEnd(buf, final);
      if (end < 0 && buf.length > MAX_SENTENCE_CHARS) end = longRunCut(buf);
      if (end < 0) return;
      const sentence = buf.slice(0, end).trim();
      buf = buf.slice(end);
      if (sentence) yield sentence;
    }
  };
  for await (const chunk of source) {
    if (!chunk) continue;
    buf += chunk;
    yield* drain(false);
  }
  yield* drain(true);
  const rest = buf.trim();
  if (rest) yield rest;
}
