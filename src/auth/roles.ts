/** Who may do what is decided by role; the route → roles matrix is in src/http/auth.ts. */
export const ROLES = ['admin', 'builder', 'support'] as const;
export type Role = (typeof ROLES)[number];

/** An authenticated caller of the API. */
export interface Principal {
  kind: 'api-key' | 'session';
  id: string;
  name: string;
  role: Role;
}

/** How audit entries name who acted. */
export function actorOf(p: Principal): string {
  return `${p.kind === 'api-key' ? 'key' : 'staff'}:${p.name}`;
}

/** Resolves a bearer token to a principal, or undefined when it is not one of ours. */
export interface Authenticator {
  authenticate(token: string): Promise<Principal | undefined>;
}

/** Tries each authenticator in turn (API keys now; staff session tokens can be added). */
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
