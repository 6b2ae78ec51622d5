import type { Flow } from '../flow/schema.js';

/**
 * How the Twilio edge finds what answers a number. The agents store implements
 * it; the version returned is pinned for the whole call (docs/architecture.md#agent-lifecycle).
 */
export interface UnavailableBehaviour {
  message: string;
  then: 'hangup' | { number: string } | { queue: string };
}

export const DEFAULT_UNAVAILABLE: UnavailableBehaviour = {
  message: 'Sorry, this line is not available right now. Please call again later.',
  then: 'hangup',
};

export type NumberLookup =
  | { kind: 'unassigned' }
  | { kind: 'unavailable'; agentId: string; slug: string; unavailable: UnavailableBehaviour }
  | {
      kind: 'active';
      agentId: string;
      slug: string;
      version: number;
      flow: Flow;
      unavailable: UnavailableBehaviour;
    };

export interface AgentDirectory {
  lookupNumber(e164: string): Promise<NumberLookup>;
  /** A published version, for calls that resume (transfer back to AI). */
  getVersion(agentId: string, version: number): Promise<{ slug: string; flow: Flow } | undefined>;
}
