import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { flowSchema, type Flow } from '../flow/schema.js';
import {
  DEFAULT_UNAVAILABLE,
  type AgentDirectory,
  type NumberLookup,
  type UnavailableBehaviour,
} from './directory.js';

/**
 * An AgentDirectory held in memory, for tests and for running before the SQL
 * agents store is wired: flows from `flows/` (one active agent per file, version 1)
 * and numbers from PHONE_NUMBERS.
 */
interface MemoryAgent {
  agentId: string;
  slug: string;
  state: 'draft' | 'active' | 'inactive';
  versions: Flow[];
  servedVersion: number;
  unavailable: UnavailableBehaviour;
}

export class MemoryAgentDirectory implements AgentDirectory {
  private readonly agents = new Map<string, MemoryAgent>();
  private readonly numbers = new Map<string, string>();

  /** Adds (or replaces) an agent with its flow as version 1; active unless told otherwise. */
  addAgent(slug: string, flow: Flow, options: { state?: MemoryAgent['state']; unavailable?: UnavailableBehaviour } = {}): string {
    const agentId = `agent_${slug}`;
    this.agents.set(slug, {
      agentId,
      slug,
      state: options.state ?? 'active',
      versions: [flow],
      servedVersion: 1,
      unavailable: options.unavailable ?? DEFAULT_UNAVAILABLE,
    });
    return agentId;
  }

  /** Publishes a new version and serves it. */
  publish(slug: string, flow: Flow): number {
    const a = this.must(slug);
    a.versions.push(flow);
    a.servedVersion = a.versions.length;
    return a.servedVersion;
  }

  setState(slug: string, state: MemoryAgent['state']): void {
    this.must(slug).state = state;
  }

  setUnavailable(slug: string, unavailable: UnavailableBehaviour): void {
    this.must(slug).unavailable = unavailable;
  }

  /** Assigns a number unless it is already taken (PHONE_NUMBERS semantics). */
  assign(e164: string, slug: string, options: { overwrite?: boolean } = {}): boolean {
    if (this.numbers.has(e164) && !options.overwrite) return false;
    this.numbers.set(e164, slug);
    return true;
  }

  async lookupNumber(e164: string): Promise<NumberLookup> {
    const slug = this.numbers.get(e164);
    const a = slug ? this.agents.get(slug) : undefined;
    if (!a) return { kind: 'unassigned' };
    if (a.state !== 'active') return { kind: 'unavailable', agentId: a.agentId, slug: a.slug, unavailable: a.unavailable };
    return {
      kind: 'active',
      agentId: a.agentId,
      slug: a.slug,
      version: a.servedVersion,
      flow: a.versions[a.servedVersion - 1]!,
      unavailable: a.unavailable,
    };
  }

  async getVersion(agentId: string, version: number) {
    for (const a of this.agents.values()) {
      if (a.agentId === agentId) {
        const flow = a.versions[version - 1];
        return flow ? { slug: a.slug, flow } : undefined;
      }
    }
    return undefined;
  }

  /** Every served flow of an active agent (phrase-cache warm-up). */
  activeFlows(): { agentId: string; slug: string; version: number; flow: Flow }[] {
    return [...this.agents.values()]
      .filter((a) => a.state === 'active')
      .map((a) => ({ agentId: a.agentId, slug: a.slug, version: a.servedVersion, flow: a.versions[a.servedVersion - 1]! }));
  }

  private must(slug: string): MemoryAgent {
    const a = this.agents.get(slug);
    if (!a) throw new Error(`no agent ${slug}`);
    return a;
  }

  /**
   * Loads every `*.json` flow in `dir` (except flow.schema.json) as an agent named
   * by its file; a flow that does not parse is added as a draft (never served).
   */
  static async fromDisk(dir: string, phoneNumbers: Record<string, string>): Promise<{ directory: MemoryAgentDirectory; problems: string[] }> {
    const directory = new MemoryAgentDirectory();
    const problems: string[] = [];
    let files: string[] = [];
    try {
      files = (await readdir(dir)).filter((f) => f.endsWith('.json') && f !== 'flow.schema.json');
    } catch {
      problems.push(`flows directory ${dir} not readable`);
    }
    for (const file of files.sort()) {
      const slug = file.slice(0, -'.json'.length);
      try {
        const parsed = flowSchema.safeParse(JSON.parse(await readFile(join(dir, file), 'utf8')));
        if (parsed.success) directory.addAgent(slug, parsed.data);
        else problems.push(`${file}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      } catch (err) {
        problems.push(`${file}: ${(err as Error).message}`);
      }
    }
    for (const [num, slug] of Object.entries(phoneNumbers)) {
      if (directory.agents.has(slug)) directory.assign(num, slug);
      else problems.push(`PHONE_NUMBERS: no flow named ${slug}`);
    }
    return { directory, problems };
  }
}
