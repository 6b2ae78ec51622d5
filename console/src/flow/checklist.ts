import type { Finding, Validation } from '../api';
import { nodesOf, type FlowJson } from './graph';

export type CheckStatus = 'pass' | 'warn' | 'error';

export interface Check {
  id: string;
  title: string;
  status: CheckStatus;
  summary: string;
  findings: (Finding & { level: 'error' | 'warning' })[];
}

interface Rule {
  id: string;
  title: string;
  codes: string[];
  pass: (flow: FlowJson, ctx: Ctx) => string;
  /** A warning the server does not raise but a launch should consider. */
  extraWarn?: (flow: FlowJson, ctx: Ctx) => string | undefined;
}

interface Ctx {
  numbers: string[];
}

const settings = (f: FlowJson) => (f.settings ?? {}) as Record<string, unknown>;
const types = (f: FlowJson) => nodesOf(f).map((n) => String(n.type));

/**
 * The pre-launch checklist: the server's validation findings (POST
 * /agents/:id/validate) sorted into the checks a builder goes through before
 * going live, plus the agent's phone numbers. Every finding of the server lands
 * in exactly one check ("No validation errors" takes the codes no other check names).
 */
const RULES: Rule[] = [
  { id: 'start', title: 'Start node', codes: ['MISSING_START', 'UNKNOWN_START'], pass: (f) => `Calls start at "${String(f.start)}".` },
  { id: 'ends', title: 'Every path ends at an end or a transfer', codes: ['DEAD_END', 'MISSING_NODE'], pass: () => 'Every node can reach an end or a transfer.' },
  { id: 'orphans', title: 'No orphan nodes', codes: ['ORPHAN_NODE'], pass: () => 'Every node can be reached from the start.' },
  {
    id: 'knowledge',
    title: 'Knowledge base',
    codes: ['KB_FILE_NOT_INLINED', 'KB_DUPLICATE_ID', 'KB_TOO_LARGE'],
    pass: (f) => {
      const docs = (settings(f).knowledgeBase as { documents?: unknown[] } | undefined)?.documents;
      return Array.isArray(docs) && docs.length > 0 ? `${docs.length} document${docs.length === 1 ? '' : 's'}.` : 'None (optional).';
    },
  },
  {
    id: 'pronunciations',
    title: 'Pronunciations',
    codes: [],
    pass: (f) => {
      const p = settings(f).pronunciations;
      return Array.isArray(p) && p.length > 0 ? `${p.length} rule${p.length === 1 ? '' : 's'}.` : 'None (optional).';
    },
  },
  {
    id: 'number',
    title: 'Phone number assigned',
    codes: [],
    pass: (_f, c) => c.numbers.join(', '),
    extraWarn: (_f, c) => (c.numbers.length === 0 ? 'No phone number is assigned: nobody can call this agent yet.' : undefined),
  },
  {
    id: 'hours',
    title: 'Business hours',
    codes: ['INVALID_TIMEZONE', 'BAD_HOURS', 'NO_CLOSED_NODE'],
    pass: (f) => {
      const bh = settings(f).businessHours as { timezone?: string } | undefined;
      return bh ? `Set (${bh.timezone ?? 'no time zone'}).` : 'Not set: open around the clock.';
    },
  },
  {
    id: 'fallback',
    title: 'Fallback messages',
    codes: ['NO_FALLBACK_NODE', 'MISSING_FAILURE_EDGE'],
    pass: (f) => (settings(f).fallbackMessage ? 'Fallback node and message set.' : 'Fallback node set.'),
  },
  {
    id: 'transfer',
    title: 'Human transfer',
    codes: ['NO_TRANSFER'],
    pass: (f) => {
      const n = types(f).filter((t) => t === 'transfer').length;
      return `${n} transfer node${n === 1 ? '' : 's'}.`;
    },
  },
];

export function buildChecklist(flow: FlowJson | null, v: Validation, numbers: string[]): Check[] {
  const f = flow ?? {};
  const all = [...v.errors.map((x) => ({ ...x, level: 'error' as const })), ...v.warnings.map((x) => ({ ...x, level: 'warning' as const }))];
  const named = new Set(RULES.flatMap((r) => r.codes));
  const checks: Check[] = RULES.map((r) => {
    const findings = all.filter((x) => r.codes.includes(x.code));
    const extra = findings.length === 0 ? r.extraWarn?.(f, { numbers }) : undefined;
    const status: CheckStatus = findings.some((x) => x.level === 'error') ? 'error' : findings.length > 0 || extra ? 'warn' : 'pass';
    const summary = findings.length > 0 ? `${findings.length} finding${findings.length === 1 ? '' : 's'}` : (extra ?? r.pass(f, { numbers }));
    return { id: r.id, title: r.title, status, summary, findings };
  });
  const rest = all.filter((x) => !named.has(x.code));
  const restStatus: CheckStatus = rest.some((x) => x.level === 'error') ? 'error' : rest.length > 0 ? 'warn' : 'pass';
  checks.splice(3, 0, {
    id: 'valid',
    title: 'No validation errors',
    status: restStatus,
    summary: rest.length > 0 ? `${rest.length} finding${rest.length === 1 ? '' : 's'}` : 'The flow matches the schema and its rules.',
    findings: rest,
  });
  return checks;
}
