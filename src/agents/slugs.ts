import { randomBytes } from 'node:crypto';

/**
 * Agent slugs: readable, unique, and never mistaken for an agent id.
 *
 * - Latin letters lose their accents; Cyrillic and Greek are transliterated;
 *   other scripts and emoji leave nothing readable, so the slug is `agent`.
 * - A generated slug that is taken gets `-2` … `-9`, then a random suffix, so
 *   "日本語" and "🍕🍕" both get a slug instead of a 409.
 * - Agent ids are `ag_<hex>`; no slug may start with `ag_`, so `GET /agents/:id`
 *   (id or slug) can never mean two agents.
 */

/** Slugs name agents in URLs, file names (`flows/<slug>.json`) and PHONE_NUMBERS. */
export const SLUG_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** The prefix of agent ids (src/store/agents-repo.ts), reserved. */
export const AGENT_ID_PREFIX = 'ag_';
/** The slug of a name with nothing readable in it. */
export const FALLBACK_SLUG = 'agent';

const CYRILLIC: Record<string, string> = {
  а: 'a', б: 'b', в: 'v', г: 'g', д: 'd', е: 'e', ё: 'e', ж: 'zh', з: 'z', и: 'i', й: 'y', к: 'k', л: 'l', м: 'm',
  н: 'n', о: 'o', п: 'p', р: 'r', с: 's', т: 't', у: 'u', ф: 'f', х: 'kh', ц: 'ts', ч: 'ch', ш: 'sh', щ: 'shch',
  ъ: '', ы: 'y', ь: '', э: 'e', ю: 'yu', я: 'ya', і: 'i', ї: 'yi', є: 'ye', ґ: 'g', ў: 'u',
};
const GREEK: Record<string, string> = {
  α: 'a', β: 'v', γ: 'g', δ: 'd', ε: 'e', ζ: 'z', η: 'i', θ: 'th', ι: 'i', κ: 'k', λ: 'l', μ: 'm', ν: 'n', ξ: 'x',
  ο: 'o', π: 'p', ρ: 'r', σ: 's', ς: 's', τ: 't', υ: 'y', φ: 'f', χ: 'ch', ψ: 'ps', ω: 'o',
};
const OTHER: Record<string, string> = { ß: 'ss', æ: 'ae', ø: 'o', œ: 'oe', ð: 'd', þ: 'th', ł: 'l', đ: 'd', ı: 'i' };

function transliterate(text: string): string {
  let out = '';
  for (const ch of text) out += CYRILLIC[ch] ?? GREEK[ch] ?? OTHER[ch] ?? ch;
  return out;
}

/** The readable slug of a name, or FALLBACK_SLUG. */
export function slugify(name: string): string {
  // Transliterate before stripping accents (NFKD would turn й into и + a breve)
  // and after (Greek ά is α once its accent is gone).
  const slug = transliterate(
    transliterate(name.toLowerCase().normalize('NFC'))
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, ''),
  )
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/, '');
  return slug === '' ? FALLBACK_SLUG : slug;
}

/** Why a slug a client chose is refused, if it is. */
export function slugProblem(slug: string): string | undefined {
  if (!SLUG_PATTERN.test(slug)) return 'slug: use 1–64 lowercase letters, digits, "-" or "_", starting with a letter or digit';
  if (slug.startsWith(AGENT_ID_PREFIX)) return `slug: may not start with "${AGENT_ID_PREFIX}", which agent ids use`;
  return undefined;
}

/** Slugs to try in turn for a generated slug: the base, base-2 … base-9, then random suffixes. */
export function* slugCandidates(base: string): Generator<string> {
  yield base;
  const stem = base.slice(0, 56);
  for (let n = 2; n <= 9; n++) yield `${stem}-${n}`;
  for (;;) yield `${stem}-${randomBytes(3).toString('hex')}`;
}

/** Tries before giving up (the random suffixes make a collision after ~10 vanishingly rare). */
export const SLUG_ATTEMPTS = 12;
