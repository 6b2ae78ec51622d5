import v8 from 'node:v8';
import safeRegex from 'safe-regex2';

/**
 * Branch `matches` patterns without blocking the event loop.
 *
 * A backtracking pattern such as `^(a+)+$` or `^(a|a)*$` takes exponential time
 * on a short non-matching input. Two guards:
 * - validation refuses patterns with nested quantifiers (safe-regex2's star-height
 *   check) and, where V8's linear-time engine is available, patterns it cannot run
 *   (backreferences, lookaround) — see `regexProblem`;
 * - evaluation compiles with V8's linear-time engine (flag `l`, enabled below), so
 *   even a pattern that slipped past the check (overlapping alternatives like
 *   `(a|a)*`, which safe-regex2 accepts) runs in time linear in the input, and the
 *   input is cut to MAX_MATCH_INPUT_CHARS.
 * Without the linear engine (a future V8 that drops the flag) evaluation falls back
 * to the backtracking engine for patterns safe-regex2 accepts, on the cut input.
 */

/** Only this much of a variable is matched; caller speech and saved values are far shorter. */
export const MAX_MATCH_INPUT_CHARS = 2000;
/** Compiled patterns kept per process. */
const CACHE_LIMIT = 500;
/** V8's linear-time engine flag; a variable, as linters do not know it. */
const LINEAR_FLAG = 'l';

function linearEngineAvailable(): boolean {
  try {
    // Only enables the `l` flag; regexps without it behave exactly as before.
    v8.setFlagsFromString('--enable-experimental-regexp-engine');
    new RegExp('a', LINEAR_FLAG);
    return true;
  } catch {
    return false;
  }
}

export const LINEAR_REGEX = linearEngineAvailable();

export type RegexProblem = 'invalid' | 'catastrophic';

/** Why a `matches` pattern is refused at validation, if it is. */
export function regexProblem(source: string): RegexProblem | undefined {
  try {
    new RegExp(source);
  } catch {
    return 'invalid';
  }
  if (!safeRegex(source)) return 'catastrophic';
  if (LINEAR_REGEX) {
    try {
      new RegExp(source, LINEAR_FLAG);
    } catch {
      return 'catastrophic';
    }
  }
  return undefined;
}

const compiled = new Map<string, RegExp | null>();

function compile(source: string): RegExp | null {
  const hit = compiled.get(source);
  if (hit !== undefined) return hit;
  let re: RegExp | null = null;
  try {
    re = new RegExp(source, LINEAR_REGEX ? LINEAR_FLAG : '');
  } catch {
    // Invalid, or a feature the linear engine cannot run: a flow stored before the
    // check may still hold one; the backtracking engine is used only if the pattern
    // has no nested quantifiers.
    try {
      re = safeRegex(source) ? new RegExp(source) : null;
    } catch {
      re = null;
    }
  }
  if (!LINEAR_REGEX && re && !safeRegex(source)) re = null;
  if (compiled.size >= CACHE_LIMIT) compiled.delete(compiled.keys().next().value!);
  compiled.set(source, re);
  return re;
}

/** True when `input` (cut to MAX_MATCH_INPUT_CHARS) matches; a refused or broken pattern never matches. */
export function matchesPattern(source: string, input: string): boolean {
  const re = compile(source);
  return re ? re.test(input.slice(0, MAX_MATCH_INPUT_CHARS)) : false;
}
