import { describe, expect, it } from 'vitest';
import { MAX_SENTENCE_CHARS, splitSentences } from '../../../src/flow/sentences.js';

async function* from(chunks: string[]): AsyncIterable<string> {
  for (const c of chunks) yield c;
}

async function collect(chunks: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const s of splitSentences(from(chunks))) out.push(s);
  return out;
}

describe('splitSentences', () => {
  it('splits on . ! ? and newlines, across chunk boundaries', async () => {
    expect(await collect(['Hello there', '! How are', ' you? I am fine.', ' Bye'])).toEqual(['Hello there!', 'How are you?', 'I am fine.', 'Bye']);
    expect(await collect(['Line one\nLine two'])).toEqual(['Line one', 'Line two']);
  });

  it('does not split on abbreviations, initials or decimals', async () => {
    expect(await collect(['Dr. Smith sees you at 3.5 p.m. today, e.g. after lunch. J. R. R. Tolkien wrote it. Ok.'])).toEqual([
      'Dr. Smith sees you at 3.5 p.m. today, e.g. after lunch.',
      'J. R. R. Tolkien wrote it.',
      'Ok.',
    ]);
    expect(await collect(['It costs 3', '.', '5 dollars. Thanks.'])).toEqual(['It costs 3.5 dollars.', 'Thanks.']);
    expect(await collect(['No. I did not. Room No. 5 is free.'])).toEqual(['No.', 'I did not.', 'Room No. 5 is free.']);
  });

  it('keeps closing quotes with their sentence and ends runs like "?!" together', async () => {
    expect(await collect(['He said "hi." Then left?! Yes...', ' ok'])).toEqual(['He said "hi."', 'Then left?!', 'Yes...', 'ok']);
  });

  it('releases a sentence as soon as the next character shows it ended', async () => {
    const source = (async function* () {
      yield 'First sentence.';
      yield ' Second';
      await new Promise(() => {}); // the LLM stalls here
    })();
    const it = splitSentences(source)[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe('First sentence.');
  });

  it('cuts very long runs at a comma, else a space', async () => {
    const clause = 'this clause goes on and on, ';
    const text = clause.repeat(12);
    const out = await collect([text]);
    expect(out.length).toBeGreaterThan(1);
    for (const s of out) expect(s.length).toBeLessThanOrEqual(MAX_SENTENCE_CHARS);
    expect(out[0]!.endsWith(',')).toBe(true);
    const words = await collect(['word '.repeat(60)]);
    expect(words.length).toBeGreaterThan(1);
    expect(words.join(' ')).toBe('word '.repeat(60).trim());
  });

  it('flushes the remainder and skips empty pieces', async () => {
    expect(await collect(['no terminator here'])).toEqual(['no terminator here']);
    expect(await collect(['', '  \n\n', 'A.', '', ' '])).toEqual(['A.']);
    expect(await collect([])).toEqual([]);
  });
});
