import { AppError } from '../core/errors.js';
import type { AgentState, LifecycleAction } from './types.js';

/**
 * The agent lifecycle (docs/architecture.md#agent-lifecycle) as one table: state → action → next state.
 * Anything not in the table is illegal (409 ILLEGAL_TRANSITION).
 * - `activate` serves a version of a draft or inactive agent;
 * - `switch` is activate-with-a-version on an agent that is already active;
 * - `rollback` points the served version at an older number in either state,
 *   never on an agent that has never been activated (it serves nothing yet).
 */
export const TRANSITIONS: Readonly<Record<AgentState, Partial<Record<LifecycleAction, AgentState>>>> = {
  draft: { activate: 'active' },
  active: { switch: 'active', deactivate: 'inactive', rollback: 'active' },
  inactive: { activate: 'active', rollback: 'inactive' },
};

export const AGENT_STATES: readonly AgentState[] = ['draft', 'active', 'inactive'];
export const LIFECYCLE_ACTIONS: readonly LifecycleAction[] = ['activate', 'deactivate', 'switch', 'rollback'];

/** The next state, or undefined when the action is not allowed in `from`. */
export function nextState(from: AgentState, action: LifecycleAction): AgentState | undefined {
  return TRANSITIONS[from][action];
}

export function transition(from: AgentState, action: LifecycleAction): AgentState {
  const to = nextState(from, action);
  if (to === undefined) {
    const allowed = Object.keys(TRANSITIONS[from]);
    throw new AppError('ILLEGAL_TRANSITION', `cannot ${action} an agent that is ${from}`, {
      state: from,
      action,
      allowed,
    });
  }
  return to;
}

/** `activate` on an active agent is a switch of the served version. */
export function activationAction(state: AgentState): LifecycleAction {
  return state === 'active' ? 'switch' : 'activate';
}
