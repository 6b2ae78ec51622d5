/** Who may do what is decided by role; the route → roles matrix is in src/http/auth.ts. */
export const ROLES = ['admin', 'builder', 'support'] as const;
export type Role = (typeof ROLES)[number];

/** An authenticated caller of the API. */
export interface Principal {
  kind: 'api-key' | 'session';
  /** The key's id, or the person's staff id for a session. */
  id: string;
  /** The key's name, or the person's username. */
  name: string;
  role: Role;
  /** Sessions only: which sign-in this is (logout ends it). */
  sessionId?: string;
  /** Sessions only: the person's setting (docs/people.md#masking). */
  showRealPhoneNumbers?: boolean;
}

/** How audit entries name who acted. */
export function actorOf(p: Principal): string {
  return `${p.kind === 'api-key' ? 'key' : 'staff'}:${p.name}`;
}

/** Resolves a bearer token to a principal, or undefined when it is not one of ours. */
export interface Authenticator {
  authenticate(token: string): Promise<Principal | undefined>;
}

/** Tries each authenticator in turn: API keys, then staff session tokens. */
export class CompositeAuthenticator implements Authenticator {
  private readonly members: Authenticator[] = [];

  add(a: Authenticator): this {
    this.members.push(a);
    return this;
  }

  async authenticate(token: string): Promise<Principal | undefined> {
    for (const a of this.members) {
      const p = await a.authenticate(token);
      if (p) return p;
    }
    return undefined;
  }
}
