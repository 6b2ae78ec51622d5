export type DiffLine = { kind: 'same' | 'add' | 'del'; text: string; a?: number; b?: number };

/**
 * Line diff of two texts (longest common subsequence). Flows are at most a few
 * thousand lines of pretty JSON; the common head and tail are trimmed first so
 * the table covers only the changed middle.
 */
export function diffLines(aText: string, bText: string): DiffLine[] {
  const a = aText.split('\n');
  const b = bText.split('\n');
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const n = am.length;
  const m = bm.length;
  const out: DiffLine[] = [];
  for (let i = 0; i < head; i++) out.push({ kind: 'same', text: a[i]!, a: i + 1, b: i + 1 });
  if (n * m > 4_000_000) {
    // Too large to align: show the middle as replaced.
    am.forEach((t, i) => out.push({ kind: 'del', text: t, a: head + i + 1 }));
    bm.forEach((t, i) => out.push({ kind: 'add', text: t, b: head + i + 1 }));
  } else {
    const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) L[i]![j] = am[i] === bm[j] ? L[i + 1]![j + 1]! + 1 : Math.max(L[i + 1]![j]!, L[i]![j + 1]!);
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && am[i] === bm[j]) {
        out.push({ kind: 'same', text: am[i]!, a: head + i + 1, b: head + j + 1 });
        i++;
        j++;
      } else if (i < n && (j === m || L[i + 1]![j]! >= L[i]![j + 1]!)) {
        // Removed lines first, then the added ones (the usual reading order of a diff).
        out.push({ kind: 'del', text: am[i]!, a: head + i + 1 });
        i++;
      } else {
        out.push({ kind: 'add', text: bm[j]!, b: head + j + 1 });
        j++;
      }
    }
  }
  for (let k = 0; k < tail; k++) out.push({ kind: 'same', text: a[a.length - tail + k]!, a: a.length - tail + k + 1, b: b.length - tail + k + 1 });
  return out;
}

/** Keeps changed lines with `context` lines around them; long unchanged runs become one gap marker (null). */
export function withContext(lines: DiffLine[], context = 3): (DiffLine | null)[] {
  const keep = new Array<boolean>(lines.length).fill(false);
  lines.forEach((l, i) => {
    if (l.kind !== 'same') for (let k = Math.max(0, i - context); k <= Math.min(lines.length - 1, i + context); k++) keep[k] = true;
  });
  const out: (DiffLine | null)[] = [];
  lines.forEach((l, i) => {
    if (keep[i]) out.push(l);
    else if (out[out.length - 1] !== null) out.push(null);
  });
  return out;
}
