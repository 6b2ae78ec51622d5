import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FlowLoadError,
  inlineKnowledgeFiles,
  jsonErrorOffset,
  listFlowFiles,
  loadFlowFile,
  parseJson,
} from '../../../src/flow/load.js';
import { KB_MAX_BYTES, validateFlow } from '../../../src/flow/validator.js';

/** Invariant: a stored flow is self-contained, and nothing outside the flow's directory is ever read. */

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flow-load-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const flowWithDocs = (documents: unknown[]) => ({
  version: 1,
  name: 'kb',
  settings: { fallbackNode: 'bye', knowledgeBase: { documents, topK: 2 } },
  start: 'hello',
  nodes: [
    { id: 'hello', type: 'say', text: 'Hi.', next: 'desk' },
    { id: 'desk', type: 'transfer', target: { queue: 'q' }, onUnavailable: 'bye' },
    { id: 'bye', type: 'end' },
  ],
});

async function expectLoadError(p: Promise<unknown>, code: string): Promise<FlowLoadError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FlowLoadError);
  expect((err as FlowLoadError).code).toBe(code);
  return err as FlowLoadError;
}

describe('inlineKnowledgeFiles', () => {
  it('replaces {file} documents with their text, keeps id and title, and leaves the input untouched', async () => {
    await mkdir(join(dir, 'kb'));
    await writeFile(join(dir, 'kb', 'hours.md'), '# Hours\nOpen 9–5, Mon–Fri.\n');
    const raw = flowWithDocs([
      { id: 'hours', title: 'Hours', file: 'kb/hours.md' },
      { id: 'inline', text: 'Already here.' },
    ]);
    const before = structuredClone(raw);
    const out = (await inlineKnowledgeFiles(raw, dir)) as ReturnType<typeof flowWithDocs>;
    expect(out.settings.knowledgeBase.documents).toEqual([
      { id: 'hours', title: 'Hours', text: '# Hours\nOpen 9–5, Mon–Fri.\n' },
      { id: 'inline', text: 'Already here.' },
    ]);
    expect(out.settings.knowledgeBase.topK).toBe(2);
    expect(raw).toEqual(before);
    expect(validateFlow(out)).toMatchObject({ errors: [], warnings: [] });
  });

  it('returns anything not shaped like a flow unchanged (the validator reports it)', async () => {
    for (const raw of [null, 'x', [], { settings: 1 }, { settings: { knowledgeBase: { documents: 'no' } } }]) {
      expect(await inlineKnowledgeFiles(raw, dir)).toBe(raw);
    }
  });

  it('refuses paths that leave the base directory', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'flow-outside-'));
    try {
      await writeFile(join(outside, 'secret.md'), 'secret');
      for (const file of ['../secret.md', `../${outside.split('/').pop()}/secret.md`, join(outside, 'secret.md'), 'kb/../../x.md', '.']) {
        const err = await expectLoadError(inlineKnowledgeFiles(flowWithDocs([{ id: 'a', file }]), dir), 'KB_PATH_ESCAPES');
        expect(err.message).toContain(file);
        expect(err.path).toBe('$.settings.knowledgeBase.documents[0].file');
      }
      // A symlink inside the directory that points outside is refused too.
      await symlink(join(outside, 'secret.md'), join(dir, 'link.md'));
      await expectLoadError(inlineKnowledgeFiles(flowWithDocs([{ id: 'a', file: 'link.md' }]), dir), 'KB_PATH_ESCAPES');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('a missing file is KB_FILE_NOT_FOUND naming the file and the field', async () => {
    const err = await expectLoadError(
      inlineKnowledgeFiles(flowWithDocs([{ id: 'a', text: 'x' }, { id: 'b', file: 'kb/nope.md' }]), dir),
      'KB_FILE_NOT_FOUND',
    );
    expect(err.message).toContain('kb/nope.md');
    expect(err.file).toBe('kb/nope.md');
    expect(err.path).toBe('$.settings.knowledgeBase.documents[1].file');
    expect(err.toAppError().toJSON()).toMatchObject({ error: { details: { code: 'KB_FILE_NOT_FOUND' } } });
  });

  it('a directory is not a knowledge-base file', async () => {
    await mkdir(join(dir, 'kb'));
    await expectLoadError(inlineKnowledgeFiles(flowWithDocs([{ id: 'a', file: 'kb' }]), dir), 'KB_FILE_NOT_FOUND');
  });

  it('a file over the knowledge-base limit is refused before it is read whole', async () => {
    await writeFile(join(dir, 'big.md'), Buffer.alloc(KB_MAX_BYTES + 1, 'a'));
    await expectLoadError(inlineKnowledgeFiles(flowWithDocs([{ id: 'a', file: 'big.md' }]), dir), 'KB_TOO_LARGE');
  });
});

describe('loadFlowFile', () => {
  it('reads JSON and inlines files relative to the flow file, not the working directory', async () => {
    await mkdir(join(dir, 'flows', 'kb'), { recursive: true });
    await writeFile(join(dir, 'flows', 'kb', 'faq.md'), 'Parking is free.');
    const path = join(dir, 'flows', 'x.json');
    await writeFile(path, '\uFEFF' + JSON.stringify(flowWithDocs([{ id: 'faq', file: 'kb/faq.md' }])));
    const raw = (await loadFlowFile(path)) as ReturnType<typeof flowWithDocs>;
    expect(raw.settings.knowledgeBase.documents).toEqual([{ id: 'faq', text: 'Parking is free.' }]);
  });

  it('bad JSON names the file, line and column', async () => {
    const path = join(dir, 'broken.json');
    await writeFile(path, '{\n  "version": 1,\n  "name": "x",\n}\n');
    const err = await expectLoadError(loadFlowFile(path), 'FLOW_JSON_INVALID');
    expect(err.message).toContain(`${path}:4:1:`);
    expect(err.file).toBe(path);
  });

  it('a missing flow file is FLOW_FILE_NOT_FOUND', async () => {
    await expectLoadError(loadFlowFile(join(dir, 'none.json')), 'FLOW_FILE_NOT_FOUND');
  });
});

describe('parseJson / jsonErrorOffset', () => {
  it.each([
    ['{"a": tru}', 9],
    ['{"a": 1,}', 8],
    ['[1, 2', 5],
    ['', 0],
    ['{"a": "b\nc"}', 8],
    ['{"a": 01}', 7],
    ['{"a": 1} x', 9],
    ['{"a" 1}', 5],
    ['"\\x"', 2],
  ])('%j fails at offset %i', (text, offset) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(jsonErrorOffset(text)).toBe(offset);
  });

  it('reports line:column from the offset', () => {
    expect(() => parseJson('{\n  "a": [1,\n  2,,]\n}', 'f.json')).toThrow(/^f\.json:3:5: invalid JSON/);
  });

  it('parses valid JSON', () => {
    expect(parseJson('{"a":[1,-2.5e3,true,null,"\\u00e9"]}', 'f.json')).toEqual({ a: [1, -2500, true, null, 'é'] });
  });
});

describe('listFlowFiles', () => {
  it('lists *.json by slug, sorted, except editor schemas and test suites', async () => {
    for (const name of ['pizza.json', 'clinic.json', 'flow.schema.json', 'flow-test.schema.json', 'pizza.test.json', 'notes.md', 'after-hours.json']) {
      await writeFile(join(dir, name), '{}');
    }
    await mkdir(join(dir, 'kb'));
    expect(await listFlowFiles(dir)).toEqual([
      { slug: 'after-hours', path: join(dir, 'after-hours.json') },
      { slug: 'clinic', path: join(dir, 'clinic.json') },
      { slug: 'pizza', path: join(dir, 'pizza.json') },
    ]);
  });

  it('a missing directory has no flows', async () => {
    expect(await listFlowFiles(join(dir, 'missing'))).toEqual([]);
  });
});
