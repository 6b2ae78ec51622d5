import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/**
 * Self time by function of a V8 .cpuprofile (from `npm run bench -- --profile`):
 * `npx tsx bench/profile-summary.ts bench/results/server-*.cpuprofile [top] [--from s] [--to s] [--inclusive]`.
 * `--from`/`--to` keep only samples in that span (seconds since the profile
 * started), so start-up module loading and the drain can be left out;
 * `--inclusive` adds each function's total time (itself and everything it
 * called), counted once per sample however deep the recursion.
 * Flame graphs: open the file in Chrome DevTools or speedscope.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: 'string' }, to: { type: 'string' }, inclusive: { type: 'boolean' } },
});
const [file, topArg] = positionals;
if (!file) {
  process.stderr.write('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top] [--from s] [--to s] [--inclusive]\n');
  process.exit(2);
}
const fromUs = values.from ? Number(values.from) * 1e6 : -Infinity;
const toUs = values.to ? Number(values.to) * 1e6 : Infinity;
const top = Number(topArg ?? 40);

const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const keyOf = (n: ProfileNode): string => {
  const where = n.callFrame.url.split('/').slice(-2).join('/');
  return `${n.callFrame.functionName || '(anonymous)'} ${where}:${n.callFrame.lineNumber + 1}`;
};

const self = new Map<string, number>();
const total = new Map<string, number>();
let totalUs = 0;
let atUs = 0;
p.samples.forEach((id, i) => {
  const us = p.timeDeltas[i] ?? 0;
  atUs += us;
  if (atUs < fromUs || atUs > toUs) return;
  const n = byId.get(id)!;
  const key = keyOf(n);
  self.set(key, (self.get(key) ?? 0) + us);
  totalUs += us;
  if (!values.inclusive) return;
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const k = keyOf(byId.get(at)!);
    if (seen.has(k)) continue;
    seen.add(k);
    total.set(k, (total.get(k) ?? 0) + us);
  }
});
const busyUs = totalUs - (self.get('(idle) :0') ?? 0);
const print = (title: string, m: Map<string, number>): void => {
  process.stdout.write(`${title}\n`);
  for (const [key, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${(us / 1000).toFixed(0).padStart(8)} ms ${((us / busyUs) * 100).toFixed(1).padStart(5)}%  ${key}\n`);
  }
};
process.stdout.write(`profile ${(atUs / 1e6).toFixed(1)} s; span ${(totalUs / 1000).toFixed(0)} ms, busy ${(busyUs / 1000).toFixed(0)} ms\n`);
print('self time', self);
if (values.inclusive) print('total time (itself and its callees)', total);
