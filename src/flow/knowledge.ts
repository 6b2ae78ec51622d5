/**
 * Knowledge-base retrieval: documents are split into paragraph passages and
 * ranked for a query with BM25 (Okapi; k1 1.2, b 0.75). Deterministic: equal
 * scores keep document order. No dependencies, no embeddings, so the same
 * version answers the same way in every process.
 */
export interface KnowledgeDocument {
  id: string;
  title?: string;
  text: string;
}

export interface Passage {
  docId: string;
  title?: string;
  /** Position of the passage within its document, from 0. */
  index: number;
  text: string;
}

export interface ScoredPassage extends Passage {
  score: number;
}

/** Paragraphs longer than this are split again at sentence ends. */
export const MAX_PASSAGE_CHARS = 1200;
const K1 = 1.2;
const B = 0.75;

const STOPWORDS = new Set(
  (
    'a an and are as at be but by can do does for from has have how i if in is it its me my of on or our ' +
    'so that the their them then there these they this to us was we what when where which who why will ' +
    'with you your'
  ).split(' '),
);

/** A light suffix fold ("parking" → "park", "hours" → "hour"); enough for short KBs, no full stemmer. */
export function stem(t: string): string {
  if (t.length > 5 && t.endsWith('ing')) return t.slice(0, -3);
  if (t.length > 4 && t.endsWith('ed')) return t.slice(0, -2);
  if (t.length > 3 && t.endsWith('s') && !t.endsWith('ss')) return t.slice(0, -1);
  return t;
}

export function tokenize(text: string): string[] {
  const out: string[] = [];
  for (const m of text.toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)) {
    const t = m[0];
    if (STOPWORDS.has(t)) continue;
    out.push(stem(t));
  }
  return out;
}

function chunkLong(paragraph: string): string[] {
  if (paragraph.length <= MAX_PASSAGE_CHARS) return [paragraph];
  const sentences = paragraph.match(/[^.!?]+(?:[.!?]+|$)\s*/g) ?? [paragraph];
  const chunks: string[] = [];
  let cur = '';
  for (const s of sentences) {
    if (cur && cur.length + s.length > MAX_PASSAGE_CHARS) {
      chunks.push(cur.trim());
      cur = '';
    }
    cur += s;
  }
  if (cur.trim()) chunks.push(cur.trim());
  return chunks;
}

export function splitPassages(doc: KnowledgeDocument): Passage[] {
  const passages: Passage[] = [];
  for (const paragraph of doc.text.split(/\n\s*\n/)) {
    const text = paragraph.trim();
    if (!text) continue;
    for (const chunk of chunkLong(text)) {
      passages.push({ docId: doc.id, ...(doc.title ? { title: doc.title } : {}), index: passages.length, text: chunk });
    }
  }
  return passages;
}

export interface KnowledgeIndex {
  readonly passages: readonly Passage[];
  search(query: string, topK: number): ScoredPassage[];
}

export function createKnowledgeIndex(documents: readonly KnowledgeDocument[]): KnowledgeIndex {
  const passages = documents.flatMap(splitPassages);
  // The title counts as part of every passage of its document.
  const termFreqs = passages.map((p) => {
    const tf = new Map<string, number>();
    for (const t of tokenize(`${p.title ?? ''} ${p.text}`)) tf.set(t, (tf.get(t) ?? 0) + 1);
    return tf;
  });
  const lengths = termFreqs.map((tf) => [...tf.values()].reduce((a, b) => a + b, 0));
  const avgLength = lengths.length ? lengths.reduce((a, b) => a + b, 0) / lengths.length : 0;
  const docFreq = new Map<string, number>();
  for (const tf of termFreqs) for (const t of tf.keys()) docFreq.set(t, (docFreq.get(t) ?? 0) + 1);
  const n = passages.length;

  return {
    passages,
    search(query, topK) {
      const terms = [...new Set(tokenize(query))];
      if (terms.length === 0 || n === 0 || topK <= 0) return [];
      const scored: ScoredPassage[] = [];
      passages.forEach((p, i) => {
        const tf = termFreqs[i]!;
        let score = 0;
        for (const term of terms) {
          const f = tf.get(term);
          if (!f) continue;
          const df = docFreq.get(term) ?? 0;
          const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
          score += (idf * f * (K1 + 1)) / (f + K1 * (1 - B + (B * lengths[i]!) / (avgLength || 1)));
        }
        if (score > 0) scored.push({ ...p, score });
      });
      // Stable sort: ties keep document order.
      scored.sort((a, b) => b.score - a.score);
      return scored.slice(0, topK);
    },
  };
}
