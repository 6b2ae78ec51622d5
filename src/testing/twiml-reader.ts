/**
 * Reads the TwiML the runtime returns, the way the Twilio simulator needs it:
 * the top-level verbs in order, each with its attributes and inner XML, and the
 * few nested nouns the simulator acts on (Conference, Stream, Parameter, Say).
 * Only what our own TwiML builders render is supported; this is not a general
 * XML parser.
 */
export interface Verb {
  name: string;
  attrs: Record<string, string>;
  inner: string;
}

const VERB = /<(Connect|Say|Play|Dial|Hangup|Enqueue|Redirect|Pause|Gather|Start|Stop)\b([^>]*?)(?:\/>|>([\s\S]*?)<\/\1>)/g;
const ATTR = /([A-Za-z]+)="([^"]*)"/g;

export const unescapeXml = (s: string): string =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

export function parseAttrs(raw: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const a of raw.matchAll(ATTR)) attrs[a[1]!] = unescapeXml(a[2]!);
  return attrs;
}

export function parseTwiml(xml: string): Verb[] {
  const verbs: Verb[] = [];
  for (const m of xml.matchAll(VERB)) verbs.push({ name: m[1]!, attrs: parseAttrs(m[2] ?? ''), inner: m[3] ?? '' });
  return verbs;
}

/** A noun nested in a verb (`<Conference …>name</Conference>`, `<Stream …/>`), with its text or inner XML. */
export function findNoun(inner: string, name: string): Verb | undefined {
  const re = new RegExp(`<${name}\\b([^>]*?)(?:\\/>|>([\\s\\S]*?)<\\/${name}>)`);
  const m = re.exec(inner);
  return m ? { name, attrs: parseAttrs(m[1] ?? ''), inner: m[2] ?? '' } : undefined;
}

/** `<Parameter name value/>` children, as Twilio passes them in `start.customParameters`. */
export function parameters(inner: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const p of inner.matchAll(/<Parameter\b([^>]*?)\/>/g)) {
    const a = parseAttrs(p[1] ?? '');
    if (a.name !== undefined) params[a.name] = a.value ?? '';
  }
  return params;
}

/** The text of a noun or verb body, tags removed, entities decoded. */
export const textOf = (inner: string): string => unescapeXml(inner.replace(/<[^>]+>/g, '').trim());

/** TwiML booleans: "true"/"false"; anything else takes the default. */
export function boolAttr(value: string | undefined, fallback: boolean): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return fallback;
}
