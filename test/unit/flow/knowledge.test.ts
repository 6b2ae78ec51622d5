import { describe, expect, it } from 'vitest';
import { createKnowledgeIndex, MAX_PASSAGE_CHARS, splitPassages, tokenize } from '../../../src/flow/knowledge.js';

const docs = [
  { id: 'hours', title: 'Opening hours', text: 'We are open Monday to Friday from 9 to 5.\n\nOn Saturdays we open at 10 and close at 2.' },
  { id: 'delivery', title: 'Delivery', text: 'Delivery is free within 5 km.\n\n\nOrders over 30 dollars get free delivery anywhere in town.' },
  { id: 'menu', text: 'Our pizzas: margherita, pepperoni, veggie.\n\nGluten-free bases cost 2 dollars extra.' },
];

describe('knowledge base retrieval (BM25)', () => {
  it('splits documents into paragraph passages', () => {
    expect(splitPassages(docs[1]!)).toEqual([
      { docId: 'delivery', title: 'Delivery', index: 0, text: 'Delivery is free within 5 km.' },
      { docId: 'delivery', title: 'Delivery', index: 1, text: 'Orders over 30 dollars get free delivery anywhere in town.' },
    ]);
  });

  it('cuts very long paragraphs at sentence ends', () => {
    const long = Array.from({ length: 60 }, (_, i) => `Sentence number ${i} talks about things.`).join(' ');
    const parts = splitPassages({ id: 'l', text: long });
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(p.text.length).toBeLessThanOrEqual(MAX_PASSAGE_CHARS);
    expect(parts.map((p) => p.text).join(' ')).toBe(long);
  });

  it('ranks the most relevant passages first and returns at most topK', () => {
    const kb = createKnowledgeIndex(docs);
    const hits = kb.search('When do you open on Saturday?', 2);
    expect(hits[0]!.text).toBe('On Saturdays we open at 10 and close at 2.');
    expect(hits).toHaveLength(2);
    expect(kb.search('is delivery free?', 1)[0]!.docId).toBe('delivery');
    expect(kb.search('gluten free pizza', 1)[0]!.text).toContain('Gluten-free');
  });

  it('titles count for every passage of their document', () => {
    const kb = createKnowledgeIndex(docs);
    const hits = kb.search('hours', 5);
    expect(hits.map((h) => h.docId)).toEqual(['hours', 'hours']);
  });

  it('is deterministic and returns nothing for unrelated or empty queries', () => {
    const kb = createKnowledgeIndex(docs);
    expect(kb.search('free', 3)).toEqual(kb.search('free', 3));
    expect(kb.search('quantum chromodynamics', 3)).toEqual([]);
    expect(kb.search('the and of', 3)).toEqual([]);
    expect(createKnowledgeIndex([]).search('anything', 3)).toEqual([]);
  });

  it('tokenizes case-insensitively, drops stopwords and folds simple suffixes', () => {
    expect(tokenize('Where is the Parking? Hours!')).toEqual(['park', 'hour']);
    expect(tokenize('Café crème')).toEqual(['café', 'crème']);
  });
});
