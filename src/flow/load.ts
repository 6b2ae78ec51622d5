import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { AppError } from '../core/errors.js';
import { KB_MAX_BYTES } from './validator.js';

/**
 * Reading flow files: JSON with clear syntax errors, and knowledge-base
 * `{ "file": "kb/x.md" }` documents inlined so a stored flow is self-contained
 * (docs/architecture.md#flows-on-disk). The HTTP API calls `inlineKnowledgeFiles` for flows it receives.
 */

export type FlowLoadErrorCode =
  | 'FLOW_FILE_NOT_FOUND'
  | 'FLOW_JSON_INVALID'
  | 'KB_FILE_NOT_FOUND'
  | 'KB_PATH_ESCAPES'
  | 'KB_TOO_LARGE';

export class FlowLoadError extends Error {
  constructor(
    readonly code: FlowLoadErrorCode,
    message: string,
    /** The file the problem is in or about. */
    readonly file: string,
    /** JSON path of the offending field in the flow, when there is one. */
    readonly path?: string,
  ) {
    super(message);
    this.name = 'FlowLoadError';
  }

  /** For the HTTP edge: a 400 whose details keep the specific code. */
  toAppError(): AppError {
    return new AppError('VALIDATION_FAILED', this.message, { code: this.code, file: this.file, path: this.path });
  }
}

export async function loadFlowFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FlowLoadError('FLOW_FILE_NOT_FOUND', `${path}: no such file`, path);
    }
    throw err;
  }
  // Editors on Windows may save a byte-order mark, which JSON.parse rejects.
  const raw = parseJson(text.replace(/^\uFEFF/, ''), path);
  return inlineKnowledgeFiles(raw, dirname(resolve(path)));
}

/** Parses JSON; a syntax error names the file, line and column. */
export function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const offset = jsonErrorOffset(text);
    const { line, column } = lineColumn(text, offset);
    const reason = (err as Error).message;
    throw new FlowLoadError('FLOW_JSON_INVALID', `${file}:${line}:${column}: invalid JSON (${reason})`, file);
  }
}

/**
 * Returns a copy of `raw` where every knowledge-base document written as
 * `{ id, title?, file }` becomes `{ id, title?, text }` with the file's contents.
 * Paths are relative to `baseDir` and may not leave it. Anything that is not
 * shaped like a flow is returned unchanged for the validator to report.
 */
export async function inlineKnowledgeFiles(raw: unknown, baseDir: string): Promise<unknown> {
  if (!isRecord(raw) || !isRecord(raw.settings)) return raw;
  const kb = raw.settings.knowledgeBase;
  if (!isRecord(kb) || !Array.isArray(kb.documents)) return raw;
  if (!kb.documents.some((d) => isRecord(d) && typeof d.file === 'string')) return raw;

  const root = await realpath(resolve(baseDir)).catch(() => resolve(baseDir));
  const documents = await Promise.all(
    kb.documents.map(async (doc: unknown, k: number) => {
      if (!isRecord(doc) || typeof doc.file !== 'string') return doc;
      const { file, ...rest } = doc;
      const text = await readKnowledgeFile(root, file, `$.settings.knowledgeBase.documents[${k}].file`);
      return { ...rest, text };
    }),
  );
  return { ...raw, settings: { ...raw.settings, knowledgeBase: { ...kb, documents } } };
}

async function readKnowledgeFile(root: string, file: string, path: string): Promise<string> {
  const escapes = () =>
    new FlowLoadError('KB_PATH_ESCAPES', `knowledge-base file "${file}" is outside the flow's directory`, file, path);
  if (isAbsolute(file) || file.includes('\0')) throw escapes();
  const target = resolve(root, file);
  if (!isInside(root, target)) throw escapes();

  let real: string;
  try {
    real = await realpath(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FlowLoadError('KB_FILE_NOT_FOUND', `knowledge-base file "${file}" does not exist (looked in ${root})`, file, path);
    }
    throw err;
  }
  // A symlink inside the directory may still point outside it.
  if (!isInside(root, real)) throw escapes();
  const info = await stat(real);
  if (!info.isFile()) {
    throw new FlowLoadError('KB_FILE_NOT_FOUND', `knowledge-base file "${file}" is not a regular file`, file, path);
  }
  if (info.size > KB_MAX_BYTES) {
    throw new FlowLoadError(
      'KB_TOO_LARGE',
      `knowledge-base file "${file}" is ${info.size} bytes; the whole knowledge base may hold at most ${KB_MAX_BYTES}`,
      file,
      path,
    );
  }
  return readFile(real, 'utf8');
}

function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel);
}

export interface FlowFile {
  /** The file name without `.json`: the agent's slug. */
  slug: string;
  path: string;
}

/** The editor schema published next to the flows (`npm run schema`): JSON, but not a flow. */
export const FLOW_SCHEMA_FILE = 'flow.schema.json';

export const isFlowSchemaFile = (path: string): boolean => basename(path) === FLOW_SCHEMA_FILE;

/** Test suites sit beside their flows (`<slug>.test.json`, docs/flows.md#testing-a-flow); editor schemas end in `.schema.json`. */
export const FLOW_TEST_SUFFIX = '.test.json';
export const isFlowTestFile = (path: string): boolean => basename(path).endsWith(FLOW_TEST_SUFFIX);
const isSchemaFile = (path: string): boolean => basename(path).endsWith('.schema.json');

/** A JSON file of a flows directory that is a flow: not an editor schema, not a test suite. */
export const isFlowFileName = (path: string): boolean => path.endsWith('.json') && !isSchemaFile(path) && !isFlowTestFile(path);

/** The flow files of a directory, by slug; a missing directory has none. */
export async function listFlowFiles(dir: string): Promise<FlowFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .filter(isFlowFileName)
    .sort()
    .map((name) => ({ slug: basename(name, '.json'), path: join(dir, name) }));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Offset of the first JSON syntax error. Node 20's JSON.parse does not always say
 * where it failed, so this small scanner finds it (only run after a failure).
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  class Stop {
    constructor(readonly at: number) {}
  }
  const fail = (at = i): never => {
    throw new Stop(at);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const literal = (word: string) => {
    for (const ch of word) if (text[i++] !== ch) fail(i - 1);
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail();
      const c = text.charCodeAt(i);
      if (c === 34) return void i++;
      if (c < 32) fail();
      if (c === 92) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail(i + 1);
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail(i + 1);
      } else i++;
    }
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '' || m[0] === '-') fail();
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) number();
    else fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return text.length;
  } catch (e) {
    if (e instanceof Stop) return Math.min(e.at, text.length);
    throw e;
  }
}
