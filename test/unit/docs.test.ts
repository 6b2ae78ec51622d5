/**
 * Invariant: the repository explains itself. Comments and docs point at the
 * repository's own docs/*.md (`docs/architecture.md#turn-taking`) or say the
 * reason inline; they never cite documents that live outside it. Every
 * `docs/<file>.md#anchor` a file refers to is a heading of that file, so a
 * renamed heading cannot leave comments pointing nowhere.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const SCANNED_DIRS = ['src', 'test', 'bench', 'scripts', 'docs', 'flows', 'console/src'];
const SCANNED_FILES = ['README.md', '.env.example'];
const TEXT_FILE = /\.(ts|tsx|js|mjs|json|md)$/;

// Built from pieces so this file does not match its own patterns.
const SECTION = '\u00a7';
const OUTSIDE_CITATIONS: RegExp[] = [
  // A section of the outside design or protocols document, or a section number alone on a wrapped line.
  new RegExp(`\\b(DESIGN|PROTOCOLS) ?${SECTION}|${SECTION} ?\\d`),
  new RegExp('\\b(DESIGN|PROTOCOLS|STYLE)' + '\\.md\\b'),
  // The outside documents by name, in capitals as they used to be cited.
  new RegExp('\\b(DESI' + 'GN|PROTO' + 'COLS)\\b'),
  // A path into the folder beside the repository that holds them.
  new RegExp('\\.\\./shared\\b|\\bshared/(DESIGN|PROTOCOLS|STYLE)'),
];
/** This file spells the patterns out to test them. */
const SELF = 'test/unit/docs.test.ts';

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function headingAnchors(markdown: string): Set<string> {
  const withoutCode = markdown.replace(/^```[\s\S]*?^```/gm, '');
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const m of withoutCode.matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$/gm)) {
    const base = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

export interface DocRef {
  /** Path of the referenced doc from the repository root, e.g. `docs/architecture.md`. */
  doc: string;
  anchor: string;
}

/**
 * `docs/<file>.md#anchor` anywhere in the text, plus, in a markdown file under
 * docs/, relative links such as `(protocols.md#twiml)` or `(#fallbacks)`.
 */
export function docRefs(text: string, fromFile: string): DocRef[] {
  const refs: DocRef[] = [];
  for (const m of text.matchAll(/\bdocs\/([\w.-]+\.md)#([\w-]+)/g)) refs.push({ doc: `docs/${m[1]}`, anchor: m[2]! });
  if (fromFile.startsWith('docs/') && fromFile.endsWith('.md')) {
    for (const m of text.matchAll(/\]\(([\w.-]*\.md)?#([\w-]+)\)/g)) {
      refs.push({ doc: m[1] ? `docs/${m[1]}` : fromFile, anchor: m[2]! });
    }
  }
  return refs;
}

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (TEXT_FILE.test(name)) out.push(path);
  }
}

function repositoryFiles(): { path: string; text: string }[] {
  const paths: string[] = [];
  for (const dir of SCANNED_DIRS) if (existsSync(join(ROOT, dir))) walk(join(ROOT, dir), paths);
  for (const file of SCANNED_FILES) paths.push(join(ROOT, file));
  return paths.map((p) => ({ path: relative(ROOT, p).split('\\').join('/'), text: readFileSync(p, 'utf8') }));
}

const files = repositoryFiles();
const anchorCache = new Map<string, Set<string> | undefined>();
function anchorsOf(doc: string): Set<string> | undefined {
  if (!anchorCache.has(doc)) {
    const file = files.find((f) => f.path === doc);
    anchorCache.set(doc, file ? headingAnchors(file.text) : undefined);
  }
  return anchorCache.get(doc);
}

describe('docs: the repository explains itself', () => {
  it('scans the code, the tests and the docs', () => {
    const paths = files.map((f) => f.path);
    expect(paths).toContain('src/pipeline/turn-taking.ts');
    expect(paths).toContain('docs/architecture.md');
    expect(paths).toContain('README.md');
  });

  it('no file cites a document that lives outside the repository', () => {
    const hits: string[] = [];
    for (const { path, text } of files) {
      if (path === SELF) continue;
      text.split('\n').forEach((line, i) => {
        if (OUTSIDE_CITATIONS.some((re) => re.test(line))) hits.push(`${path}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(hits).toEqual([]);
  });

  it('every docs/<file>.md#anchor points at a heading of that file', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const { path, text } of files) {
      for (const ref of docRefs(text, path)) {
        checked++;
        const anchors = anchorsOf(ref.doc);
        if (!anchors) broken.push(`${path}: ${ref.doc} does not exist`);
        else if (!anchors.has(ref.anchor)) broken.push(`${path}: ${ref.doc}#${ref.anchor} is not a heading`);
      }
    }
    expect(broken).toEqual([]);
    // The comments do point into the docs; an empty scan would prove nothing.
    expect(checked).toBeGreaterThan(50);
  });

  it('the README leads to the architecture page, and it to every other page', () => {
    const readme = files.find((f) => f.path === 'README.md')!.text;
    expect(readme).toContain('(docs/architecture.md)');
    const architecture = files.find((f) => f.path === 'docs/architecture.md')!.text;
    for (const page of ['protocols.md', 'flows.md', 'api.md', 'telephony.md']) expect(architecture).toContain(`(${page}`);
  });
});

describe('docs: the checks themselves', () => {
  it('anchors follow GitHub: punctuation dropped, spaces to hyphens, repeats numbered', () => {
    const anchors = headingAnchors('# Vendor protocols: what we rely on\n## G.711 audio\n```\n# not a heading\n```\n## Twilio\n### Twilio\n');
    expect([...anchors]).toEqual(['vendor-protocols-what-we-rely-on', 'g711-audio', 'twilio', 'twilio-1']);
  });

  it('finds doc references in comments and relative links in docs', () => {
    expect(docRefs('// see docs/architecture.md#turn-taking.', 'src/x.ts')).toEqual([{ doc: 'docs/architecture.md', anchor: 'turn-taking' }]);
    expect(docRefs('[a](protocols.md#twiml) [b](#fallbacks)', 'docs/architecture.md')).toEqual([
      { doc: 'docs/protocols.md', anchor: 'twiml' },
      { doc: 'docs/architecture.md', anchor: 'fallbacks' },
    ]);
  });

  it('recognises an outside citation and lets a repository pointer through', () => {
    const cites = (line: string) => OUTSIDE_CITATIONS.some((re) => re.test(line));
    expect(cites(`/** Timeouts (DESIGN ${SECTION}8). */`)).toBe(true);
    expect(cites(`// wire format of PROTOCOLS ${SECTION}1.4`)).toBe(true);
    expect(cites('see ' + 'DESIGN' + '.md for the contract')).toBe(true);
    expect(cites(' * ' + SECTION + '3.1, ' + SECTION + '3.4), for the real client')).toBe(true);
    expect(cites('`valueType` (' + 'DESIGN' + ' calls it `type`)')).toBe(true);
    expect(cites('/** Timeouts (docs/architecture.md#timeouts). */')).toBe(false);
  });
});
