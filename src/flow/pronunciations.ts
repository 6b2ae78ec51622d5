/**
 * Pronunciation rules (docs/flows.md#settings): applied to text right before synthesis,
 * never to the history. Whole words only, case-insensitive, and longer rules win
 * over shorter ones that overlap ("Dr. Who" before "Dr.").
 */
export interface PronunciationRule {
  text: string;
  say: string;
}

const cache = new WeakMap<readonly PronunciationRule[], { re: RegExp; map: Map<string, string> } | null>();

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compile(rules: readonly PronunciationRule[]): { re: RegExp; map: Map<string, string> } | null {
  const map = new Map<string, string>();
  for (const r of rules) {
    const key = r.text.toLowerCase();
    if (r.text.length > 0 && !map.has(key)) map.set(key, r.say);
  }
  if (map.size === 0) return null;
  const alternatives = [...map.keys()].sort((a, b) => b.length - a.length).map(escape);
  // Word boundaries by hand: \b does not understand letters outside ASCII or
  // rules that end in punctuation ("Dr.").
  const re = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${alternatives.join('|')})(?![\\p{L}\\p{N}_])`, 'giu');
  return { re, map };
}

export function applyPronunciations(text: string, rules: readonly PronunciationRule[] | undefined): string {
  if (!rules || rules.length === 0 || text.length === 0) return text;
  let compiled = cache.get(rules);
  if (compiled === undefined) {
    compiled = compile(rules);
    cache.set(rules, compiled);
  }
  if (!compiled) return text;
  const { re, map } = compiled;
  return text.replace(re, (m) => map.get(m.toLowerCase()) ?? m);
}
