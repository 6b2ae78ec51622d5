import type { BranchNode, Scalar } from './schema.js';
import { matchesPattern } from './regex.js';
import { stringify } from './template.js';

/**
 * Branch conditions (docs/flows.md#branch--decide-without-the-llm). Pure and deterministic: a branch never asks
 * the LLM. `eq`/`neq`/`contains`/`matches` compare the string forms; `gt`/`lt`
 * are numeric and false when either side is not a number; `exists` is true when
 * the variable is set to something other than an empty string.
 */
export type Condition = BranchNode['branches'][number]['if'];

export function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const n = Number(value.trim());
  return Number.isFinite(n) ? n : undefined;
}

export function evaluateCondition(condition: Condition, actual: unknown): boolean {
  const expected: Scalar | undefined = condition.value;
  switch (condition.op) {
    case 'exists':
      return actual !== undefined && actual !== null && actual !== '';
    case 'eq':
      return stringify(actual) === stringify(expected);
    case 'neq':
      return stringify(actual) !== stringify(expected);
    case 'contains':
      return stringify(actual).toLowerCase().includes(stringify(expected).toLowerCase());
    case 'matches':
      // Linear-time and bounded (./regex.ts); a broken or refused pattern never matches.
      return matchesPattern(stringify(expected), stringify(actual));
    case 'gt':
    case 'lt': {
      const a = toNumber(actual);
      const b = toNumber(expected);
      if (a === undefined || b === undefined) return false;
      return condition.op === 'gt' ? a > b : a < b;
    }
  }
}

/** The target of the first matching branch, else `else`. */
export function chooseBranch(node: BranchNode, resolve: (name: string) => unknown): { to: string; index: number } {
  for (const [index, branch] of node.branches.entries()) {
    if (evaluateCondition(branch.if, resolve(branch.if.var))) return { to: branch.to, index };
  }
  return { to: node.else, index: -1 };
}
