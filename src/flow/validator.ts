import type { z } from 'zod';
import { flowSchema, type Flow, type FlowNode, type HttpTool } from './schema.js';
import { regexProblem } from './regex.js';
import { templateVariables } from './template.js';

/**
 * The pre-launch checklist (docs/flows.md#validation). Errors block publishing and
 * activation; warnings are advice. Every finding has a stable code, a message,
 * the JSON path of the offending field and, where it belongs to a node, its id.
 * Everything here is linear in the size of the flow: one pass to index nodes,
 * one forward BFS (orphans), one reverse BFS (dead ends), one pass over texts.
 */

export const ERROR_CODES = [
  'SCHEMA',
  'MISSING_START',
  'UNKNOWN_START',
  'MISSING_NODE',
  'DUPLICATE_ID',
  'ORPHAN_NODE',
  'DEAD_END',
  'LOOP_WITHOUT_INPUT',
  'NO_SYSTEM_PROMPT',
  'INVALID_TIMEZONE',
  'BAD_HOURS',
  'CHOICES_MISSING',
  'DIGITS_RANGE',
  'BAD_REGEX',
  'UNSAFE_REGEX',
  'BRANCH_VALUE_MISSING',
  'BAD_URL',
  'DUPLICATE_FUNCTION',
  'KB_FILE_NOT_INLINED',
  'KB_DUPLICATE_ID',
  'KB_TOO_LARGE',
] as const;

export const WARNING_CODES = [
  'NO_TRANSFER',
  'NO_FALLBACK_NODE',
  'MISSING_FAILURE_EDGE',
  'NO_EXITS',
  'NO_CLOSED_NODE',
  'UNUSED_VARIABLE',
  'UNDEFINED_VARIABLE',
  'UNKNOWN_ANSWERED_BY',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];
export type WarningCode = (typeof WARNING_CODES)[number];
export type FindingCode = ErrorCode | WarningCode;

/** `FINDING_CODES.DEAD_END === 'DEAD_END'`: use these instead of string literals. */
export const FINDING_CODES = Object.fromEntries(
  [...ERROR_CODES, ...WARNING_CODES].map((c) => [c, c]),
) as { readonly [K in FindingCode]: K };

export interface Finding {
  code: FindingCode;
  message: string;
  nodeId?: string;
  /** JSON path of the field, e.g. `$.nodes[3].next` or `$.settings.fallbackNode`. */
  path: string;
}

export interface ValidationResult {
  errors: Finding[];
  warnings: Finding[];
  /** The parsed flow with defaults applied; present when the schema part passes. */
  flow?: Flow;
}

/** Knowledge-base size limit of a stored flow (≤ 1 MB, docs/architecture.md#flows-on-disk), in UTF-8 bytes. */
export const KB_MAX_BYTES = 1024 * 1024;

/**
 * Variables every call has without declaring them. `args.*` is allowed only in the
 * request templates of a conversation tool, and only for that tool's parameters.
 */
export const BUILTIN_VARIABLES = ['caller.number', 'caller.to', 'call.sid', 'call.answeredBy', 'agent.name'] as const;
export const BUILTIN_PREFIXES = ['now.'] as const;

/** What Twilio's answering-machine detection reports as `call.answeredBy` (docs/outbound.md#answering-machine-detection). */
export const ANSWERED_BY_VALUES = [
  'human',
  'machine_start',
  'machine_end_beep',
  'machine_end_silence',
  'machine_end_other',
  'fax',
  'unknown',
] as const;

// ---------------------------------------------------------------------------
// JSON paths

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export function jsonPath(segments: readonly PropertyKey[]): string {
  let out = '$';
  for (const s of segments) out = child(out, s);
  return out;
}

function child(base: string, key: PropertyKey): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  const k = String(key);
  return IDENT.test(k) ? `${base}.${k}` : `${base}[${JSON.stringify(k)}]`;
}

// ---------------------------------------------------------------------------
// Entry point

export function validateFlow(input: unknown): ValidationResult {
  const parsed = flowSchema.safeParse(input);
  if (!parsed.success) return { errors: schemaFindings(parsed.error.issues, input).map(bounded), warnings: [] };
  const v = new FlowChecks(parsed.data);
  v.run();
  return { errors: v.errors.map(bounded), warnings: v.warnings.map(bounded), flow: parsed.data };
}

/** Findings quote the flow; a megabyte-long id or key must not come back a megabyte long. */
function bounded(f: Finding): Finding {
  const out: Finding = { ...f, message: truncate(f.message, 500), path: truncate(f.path, 300) };
  if (f.nodeId !== undefined) out.nodeId = truncate(f.nodeId, 120);
  return out;
}

// ---------------------------------------------------------------------------
// Schema findings: one per zod issue, with a path a builder can follow.

function schemaFindings(issues: readonly z.core.$ZodIssue[], input: unknown): Finding[] {
  const findings: Finding[] = [];
  const nodes = isRecord(input) && Array.isArray(input.nodes) ? (input.nodes as unknown[]) : [];
  for (const issue of issues) {
    const path = jsonPath(issue.path);
    const startAbsent = !isRecord(input) || input.start === undefined || input.start === '';
    if (issue.path.length === 1 && issue.path[0] === 'start' && startAbsent) {
      findings.push({
        code: 'MISSING_START',
        message: 'the flow has no "start": set it to the id of the first node',
        path,
      });
      continue;
    }
    const finding: Finding = { code: 'SCHEMA', message: `${path.slice(2) || 'flow'}: ${issueMessage(issue)}`, path };
    if (issue.path[0] === 'nodes' && typeof issue.path[1] === 'number') {
      const raw = nodes[issue.path[1]];
      if (isRecord(raw) && typeof raw.id === 'string') finding.nodeId = raw.id;
    }
    findings.push(finding);
  }
  return findings;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (/received undefined/.test(issue.message)) return `is required (${issue.expected})`;
      return `expected ${issue.expected}${receivedSuffix(issue.message)}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_union':
      {
        // Discriminated unions report the allowed tags here (not in the issue's type).
        const { discriminator, options } = issue as { discriminator?: unknown; options?: unknown };
        if (discriminator !== undefined && Array.isArray(options)) {
          return `"${String(discriminator)}" must be one of ${options.map(String).join(', ')}`;
        }
      }
      return issue.message === 'Invalid input' ? 'does not match any allowed shape' : issue.message;
    case 'invalid_value':
      return `must be ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`;
    default:
      return issue.message;
  }
}

function receivedSuffix(message: string): string {
  const m = /received (\w+)/.exec(message);
  return m ? `, got ${m[1]}` : '';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------
// Checks on a schema-valid flow

interface Edge {
  to: string;
  path: string;
}

const TERMINAL_TYPES = new Set<FlowNode['type']>(['end', 'transfer']);
/** Nodes that wait for the caller (speech or keys). */
const INPUT_TYPES = new Set<FlowNode['type']>(['gather', 'conversation']);

class FlowChecks {
  readonly errors: Finding[] = [];
  readonly warnings: Finding[] = [];

  private readonly nodes: FlowNode[];
  /** id → index of its first occurrence; later duplicates are reported and ignored. */
  private readonly index = new Map<string, number>();
  private readonly isDuplicate: boolean[];
  /** Resolved edges per node (indices), including implicit failure edges to fallbackNode. */
  private readonly out: number[][];
  /** The explicit edges only (no implicit fallback edges: those are taken at most MAX_FALLBACKS times). */
  private readonly explicitOut: number[][];
  private readonly hasMissingRef: boolean[];
  /** Nodes from which an end or transfer can be reached (set by checkReachability). */
  private alive: boolean[] = [];

  // variables
  private readonly known = new Set<string>();
  private readonly used = new Set<string>();
  private readonly reads: { name: string; path: string; nodeId?: string; tool?: HttpTool }[] = [];

  constructor(private readonly flow: Flow) {
    this.nodes = flow.nodes;
    this.isDuplicate = new Array<boolean>(this.nodes.length).fill(false);
    this.out = this.nodes.map(() => []);
    this.explicitOut = this.nodes.map(() => []);
    this.hasMissingRef = new Array<boolean>(this.nodes.length).fill(false);
  }

  run(): void {
    this.indexNodes();
    this.checkStart();
    this.checkEdges();
    this.checkReachability();
    this.checkLoops();
    this.checkSettings();
    this.checkNodes();
    this.checkVariables();
  }

  private error(code: ErrorCode, message: string, path: string, nodeId?: string): void {
    this.errors.push(nodeId === undefined ? { code, message, path } : { code, message, path, nodeId });
  }

  private warn(code: WarningCode, message: string, path: string, nodeId?: string): void {
    this.warnings.push(nodeId === undefined ? { code, message, path } : { code, message, path, nodeId });
  }

  private indexNodes(): void {
    this.nodes.forEach((node, i) => {
      const first = this.index.get(node.id);
      if (first === undefined) {
        this.index.set(node.id, i);
        return;
      }
      this.isDuplicate[i] = true;
      this.error(
        'DUPLICATE_ID',
        `node id "${node.id}" is used twice (nodes[${first}] and nodes[${i}]); ids must be unique`,
        `$.nodes[${i}].id`,
        node.id,
      );
    });
  }

  private checkStart(): void {
    if (!this.index.has(this.flow.start)) {
      this.error('UNKNOWN_START', `start "${this.flow.start}" is not the id of any node`, '$.start');
    }
  }

  private checkEdges(): void {
    const { fallbackNode, businessHours } = this.flow.settings;
    if (fallbackNode !== undefined && !this.index.has(fallbackNode)) {
      this.error('MISSING_NODE', `fallbackNode "${fallbackNode}" is not the id of any node`, '$.settings.fallbackNode');
    }
    if (businessHours?.closedNode !== undefined && !this.index.has(businessHours.closedNode)) {
      this.error(
        'MISSING_NODE',
        `closedNode "${businessHours.closedNode}" is not the id of any node`,
        '$.settings.businessHours.closedNode',
      );
    }
    const handoffNode = this.flow.settings.handoffNode;
    if (handoffNode !== undefined && !this.index.has(handoffNode)) {
      this.error('MISSING_NODE', `handoffNode "${handoffNode}" is not the id of any node`, '$.settings.handoffNode');
    }
    const fallbackIndex = fallbackNode === undefined ? undefined : this.index.get(fallbackNode);

    this.nodes.forEach((node, i) => {
      for (const edge of nodeEdges(node, i)) {
        const to = this.index.get(edge.to);
        if (to === undefined) {
          this.hasMissingRef[i] = true;
          this.error('MISSING_NODE', `"${edge.to}" is not the id of any node`, edge.path, node.id);
        } else {
          this.out[i]!.push(to);
          this.explicitOut[i]!.push(to);
        }
      }
      // A missing failure edge goes to settings.fallbackNode at run time (docs/architecture.md#fallbacks).
      if (fallbackIndex !== undefined && missingFailureEdge(node) !== undefined) this.out[i]!.push(fallbackIndex);
    });
  }

  private checkReachability(): void {
    const n = this.nodes.length;
    const { fallbackNode, businessHours } = this.flow.settings;
    const startIndex = this.index.get(this.flow.start);

    // Forward BFS from every entry point. Without a valid start every node would be
    // "orphaned", which only repeats UNKNOWN_START, so skip it then.
    if (startIndex !== undefined) {
      const seen = new Array<boolean>(n).fill(false);
      const queue: number[] = [];
      for (const root of [this.flow.start, fallbackNode, businessHours?.closedNode, this.flow.settings.handoffNode]) {
        const r = root === undefined ? undefined : this.index.get(root);
        if (r !== undefined && !seen[r]) {
          seen[r] = true;
          queue.push(r);
        }
      }
      for (let head = 0; head < queue.length; head++) {
        for (const to of this.out[queue[head]!]!) {
          if (!seen[to]) {
            seen[to] = true;
            queue.push(to);
          }
        }
      }
      for (let i = 0; i < n; i++) {
        if (!seen[i] && !this.isDuplicate[i]) {
          const id = this.nodes[i]!.id;
          this.error('ORPHAN_NODE', `node "${id}" cannot be reached from start "${this.flow.start}"`, `$.nodes[${i}]`, id);
        }
      }
    }

    // Reverse BFS from terminals: whatever is not reached can never end or transfer.
    // Nodes with a missing reference are seeds too, so a typo is reported once as
    // MISSING_NODE rather than as a cascade of dead ends behind it.
    const incoming: number[][] = this.nodes.map(() => []);
    for (let i = 0; i < n; i++) for (const to of this.out[i]!) incoming[to]!.push(i);
    const alive = new Array<boolean>(n).fill(false);
    this.alive = alive;
    const queue: number[] = [];
    for (let i = 0; i < n; i++) {
      if (TERMINAL_TYPES.has(this.nodes[i]!.type) || this.hasMissingRef[i]) {
        alive[i] = true;
        queue.push(i);
      }
    }
    for (let head = 0; head < queue.length; head++) {
      for (const from of incoming[queue[head]!]!) {
        if (!alive[from]) {
          alive[from] = true;
          queue.push(from);
        }
      }
    }
    for (let i = 0; i < n; i++) {
      if (!alive[i] && !this.isDuplicate[i]) {
        const id = this.nodes[i]!.id;
        this.error('DEAD_END', `no end or transfer node can be reached from node "${id}"`, `$.nodes[${i}]`, id);
      }
    }
  }

  /**
   * A cycle with no gather or conversation node never waits for the caller: the
   * call repeats it for ever (on a text channel, as fast as the CPU allows).
   * Tarjan's strongly connected components over the non-input nodes, iterative
   * so a 10,000-node chain cannot overflow the stack; one finding per cycle.
   */
  private checkLoops(): void {
    const n = this.nodes.length;
    const waits = (i: number) => INPUT_TYPES.has(this.nodes[i]!.type) || this.isDuplicate[i];
    const order = new Array<number>(n).fill(-1);
    const low = new Array<number>(n).fill(0);
    const onStack = new Array<boolean>(n).fill(false);
    const stack: number[] = [];
    let counter = 0;
    for (let root = 0; root < n; root++) {
      if (order[root] !== -1 || waits(root)) continue;
      const frames: { v: number; edge: number }[] = [{ v: root, edge: 0 }];
      order[root] = low[root] = counter++;
      stack.push(root);
      onStack[root] = true;
      while (frames.length > 0) {
        const frame = frames[frames.length - 1]!;
        const edges = this.explicitOut[frame.v]!;
        if (frame.edge < edges.length) {
          const w = edges[frame.edge++]!;
          if (waits(w)) continue;
          if (order[w] === -1) {
            order[w] = low[w] = counter++;
            stack.push(w);
            onStack[w] = true;
            frames.push({ v: w, edge: 0 });
          } else if (onStack[w]) {
            low[frame.v] = Math.min(low[frame.v]!, order[w]!);
          }
          continue;
        }
        frames.pop();
        const v = frame.v;
        const parent = frames[frames.length - 1];
        if (parent) low[parent.v] = Math.min(low[parent.v]!, low[v]!);
        if (low[v] !== order[v]) continue;
        const component: number[] = [];
        for (;;) {
          const w = stack.pop()!;
          onStack[w] = false;
          component.push(w);
          if (w === v) break;
        }
        if (component.length > 1 || this.explicitOut[v]!.includes(v)) this.reportLoop(component);
      }
    }
  }

  private reportLoop(component: number[]): void {
    // A loop with no way out at all is already a DEAD_END; one finding is enough.
    if (!component.some((i) => this.alive[i])) return;
    const sorted = [...component].sort((a, b) => a - b);
    const first = sorted[0]!;
    const shown = sorted.slice(0, 5).map((i) => `"${this.nodes[i]!.id}"`).join(', ');
    const more = sorted.length > 5 ? ` and ${sorted.length - 5} more` : '';
    this.error(
      'LOOP_WITHOUT_INPUT',
      `nodes ${shown}${more} form a loop with no gather or conversation node: the call would repeat it for ever without waiting for the caller; route the loop through a node that listens`,
      `$.nodes[${first}]`,
      this.nodes[first]!.id,
    );
  }

  private checkSettings(): void {
    const s = this.flow.settings;
    const conversation = this.nodes.find((node) => node.type === 'conversation');
    if (conversation && !s.systemPrompt?.trim()) {
      this.error(
        'NO_SYSTEM_PROMPT',
        `the flow has conversation nodes (e.g. "${conversation.id}") but no settings.systemPrompt`,
        '$.settings.systemPrompt',
        conversation.id,
      );
    }
    if (s.fallbackNode === undefined) {
      this.warn(
        'NO_FALLBACK_NODE',
        'no settings.fallbackNode: failures without their own edge speak fallbackMessage and hang up',
        '$.settings.fallbackNode',
      );
    }
    if (!this.nodes.some((node) => node.type === 'transfer')) {
      this.warn('NO_TRANSFER', 'no transfer node: callers can never reach a person', '$.nodes');
    }

    if (s.businessHours) this.checkBusinessHours(s.businessHours);
    if (s.knowledgeBase) this.checkKnowledgeBase(s.knowledgeBase);

    for (const name of Object.keys(s.variables)) this.known.add(name);
    this.readTemplate(s.systemPrompt, '$.settings.systemPrompt');
    this.readTemplate(s.fallbackMessage, '$.settings.fallbackMessage');
    this.readTemplate(s.silence.reprompt, '$.settings.silence.reprompt');
    if (s.voicemail) this.readTemplate(s.voicemail.message, '$.settings.voicemail.message');
  }

  private checkBusinessHours(bh: NonNullable<Flow['settings']['businessHours']>): void {
    const base = '$.settings.businessHours';
    if (!isValidTimeZone(bh.timezone)) {
      this.error('INVALID_TIMEZONE', `"${bh.timezone}" is not an IANA time zone (e.g. America/New_York)`, `${base}.timezone`);
    }
    for (const [day, ranges] of Object.entries(bh.weekly)) {
      if (!ranges) continue;
      const dayPath = `${base}.weekly.${day}`;
      ranges.forEach(([from, to], k) => {
        if (from >= to) this.error('BAD_HOURS', `${day}: opening ${from} is not before closing ${to}`, `${dayPath}[${k}]`);
      });
      const sorted = ranges
        .map((r, k) => ({ r, k }))
        .filter(({ r }) => r[0] < r[1])
        .sort((a, b) => (a.r[0] < b.r[0] ? -1 : 1));
      for (let j = 1; j < sorted.length; j++) {
        const prev = sorted[j - 1]!;
        const cur = sorted[j]!;
        if (cur.r[0] < prev.r[1]) {
          this.error('BAD_HOURS', `${day}: ${cur.r.join('–')} overlaps ${prev.r.join('–')}`, `${dayPath}[${cur.k}]`);
        }
      }
    }
    if (bh.closedNode === undefined) {
      this.warn(
        'NO_CLOSED_NODE',
        'businessHours without closedNode: callers outside hours get the agent’s unavailable behaviour',
        base,
      );
    }
  }

  private checkKnowledgeBase(kb: NonNullable<Flow['settings']['knowledgeBase']>): void {
    const base = '$.settings.knowledgeBase';
    const ids = new Set<string>();
    let bytes = 0;
    kb.documents.forEach((doc, k) => {
      const path = `${base}.documents[${k}]`;
      if (ids.has(doc.id)) this.error('KB_DUPLICATE_ID', `knowledge-base document id "${doc.id}" is used twice`, `${path}.id`);
      ids.add(doc.id);
      if ('file' in doc) {
        this.error(
          'KB_FILE_NOT_INLINED',
          `document "${doc.id}" still refers to file "${doc.file}"; files are inlined when a flow file is loaded or saved`,
          `${path}.file`,
        );
      } else {
        bytes += Buffer.byteLength(doc.text, 'utf8') + Buffer.byteLength(doc.title ?? '', 'utf8');
      }
    });
    if (bytes > KB_MAX_BYTES) {
      this.error(
        'KB_TOO_LARGE',
        `the knowledge base is ${bytes} bytes; a flow may hold at most ${KB_MAX_BYTES} bytes (1 MiB)`,
        `${base}.documents`,
      );
    }
  }

  private checkNodes(): void {
    this.nodes.forEach((node, i) => {
      const p = `$.nodes[${i}]`;
      const id = node.id;
      const failure = missingFailureEdge(node);
      if (failure !== undefined) {
        const fallback = this.flow.settings.fallbackNode;
        this.warn(
          'MISSING_FAILURE_EDGE',
          `${node.type} node "${id}" has no ${failure}: ${
            fallback ? `it will go to fallbackNode "${fallback}"` : 'the call will speak fallbackMessage and hang up'
          }`,
          `${p}.${failure}`,
          id,
        );
      }
      switch (node.type) {
        case 'say':
          this.readTemplate(node.text, `${p}.text`, id);
          break;
        case 'end':
          this.readTemplate(node.text, `${p}.text`, id);
          break;
        case 'transfer':
          this.readTemplate(node.announce, `${p}.announce`, id);
          this.readTemplate(node.summary, `${p}.summary`, id);
          break;
        case 'gather':
          this.readTemplate(node.prompt, `${p}.prompt`, id);
          this.setVariable(node.variable);
          if (node.valueType === 'choice' && !node.choices?.length) {
            this.error('CHOICES_MISSING', `gather "${id}" collects a choice but lists no choices`, `${p}.choices`, id);
          }
          if (node.digits && node.digits.min > node.digits.max) {
            this.error(
              'DIGITS_RANGE',
              `gather "${id}": digits.min (${node.digits.min}) is greater than digits.max (${node.digits.max})`,
              `${p}.digits`,
              id,
            );
          }
          break;
        case 'branch':
          node.branches.forEach((b, k) => {
            const bp = `${p}.branches[${k}].if`;
            this.readVariable(b.if.var, `${bp}.var`, id);
            if (b.if.op !== 'exists' && b.if.value === undefined) {
              this.error('BRANCH_VALUE_MISSING', `branch "${id}": op "${b.if.op}" needs a value`, `${bp}.value`, id);
            } else if (b.if.op === 'matches') {
              const problem = regexProblem(String(b.if.value));
              const shown = JSON.stringify(truncate(String(b.if.value)));
              if (problem === 'invalid') {
                this.error('BAD_REGEX', `branch "${id}": ${shown} is not a valid regular expression`, `${bp}.value`, id);
              } else if (problem === 'catastrophic') {
                this.error(
                  'UNSAFE_REGEX',
                  `branch "${id}": ${shown} can take exponential time (nested quantifiers such as (a+)+, backreferences or lookaround); rewrite it without them`,
                  `${bp}.value`,
                  id,
                );
              }
            }
            // A typo here ("machine", "voicemail") would never match: say so before a call finds out.
            if (b.if.var === 'call.answeredBy' && (b.if.op === 'eq' || b.if.op === 'neq')) {
              const value = String(b.if.value);
              if (!(ANSWERED_BY_VALUES as readonly string[]).includes(value)) {
                this.warn(
                  'UNKNOWN_ANSWERED_BY',
                  `branch "${id}": call.answeredBy is never ${JSON.stringify(truncate(value))}; it is one of ${ANSWERED_BY_VALUES.join(', ')}`,
                  `${bp}.value`,
                  id,
                );
              }
            }
          });
          break;
        case 'http':
          this.checkRequest(node, p, id);
          for (const name of Object.keys(node.save)) this.setVariable(name);
          break;
        case 'conversation':
          this.readTemplate(node.prompt, `${p}.prompt`, id);
          if (node.exits.length === 0) {
            this.warn('NO_EXITS', `conversation "${id}" has no exits: the LLM can never move the call on`, `${p}.exits`, id);
          }
          this.checkFunctionNames(node, p);
          node.tools.forEach((tool, k) => {
            this.checkRequest(tool, `${p}.tools[${k}]`, id, tool);
            for (const name of Object.keys(tool.save)) this.setVariable(name);
          });
          break;
      }
    });
  }

  private checkRequest(
    req: { url: string; headers: Record<string, string>; body?: unknown },
    p: string,
    nodeId: string,
    tool?: HttpTool,
  ): void {
    if (!isPlausibleUrl(req.url)) {
      this.error('BAD_URL', `"${req.url}" is not an absolute http(s) URL`, `${p}.url`, nodeId);
    }
    this.readTemplate(req.url, `${p}.url`, nodeId, tool);
    for (const [name, value] of Object.entries(req.headers)) this.readTemplate(value, child(`${p}.headers`, name), nodeId, tool);
    if (req.body !== undefined) this.readDeep(req.body, `${p}.body`, nodeId, tool);
  }

  /** Every exit and tool becomes an LLM function; their names must be distinct. */
  private checkFunctionNames(node: Extract<FlowNode, { type: 'conversation' }>, p: string): void {
    const seen = new Set<string>();
    const check = (name: string, path: string) => {
      if (seen.has(name)) {
        this.error(
          'DUPLICATE_FUNCTION',
          `conversation "${node.id}" offers two functions named "${name}"; give exits distinct "name"s`,
          path,
          node.id,
        );
      }
      seen.add(name);
    };
    node.tools.forEach((t, k) => check(t.name, `${p}.tools[${k}].name`));
    node.exits.forEach((e, k) => check(e.name ?? `exit_${e.to}`, `${p}.exits[${k}]`));
  }

  private readDeep(value: unknown, path: string, nodeId: string, tool?: HttpTool): void {
    if (typeof value === 'string') this.readTemplate(value, path, nodeId, tool);
    else if (Array.isArray(value)) value.forEach((v, k) => this.readDeep(v, `${path}[${k}]`, nodeId, tool));
    else if (isRecord(value)) for (const [k, v] of Object.entries(value)) this.readDeep(v, child(path, k), nodeId, tool);
  }

  private readTemplate(text: string | undefined, path: string, nodeId?: string, tool?: HttpTool): void {
    if (!text) return;
    for (const name of templateVariables(text)) this.readVariable(name, path, nodeId, tool);
  }

  private readVariable(name: string, path: string, nodeId?: string, tool?: HttpTool): void {
    markUsed(this.used, name);
    this.reads.push(tool ? { name, path, nodeId, tool } : { name, path, nodeId });
  }

  private setVariable(name: string): void {
    this.known.add(name);
    markUsed(this.used, name);
  }

  private checkVariables(): void {
    const reported = new Set<string>();
    for (const r of this.reads) {
      if (this.isDefined(r.name, r.tool)) continue;
      const key = `${r.path}\u0000${r.name}`;
      if (reported.has(key)) continue;
      reported.add(key);
      const hint = r.name.startsWith('args.')
        ? r.tool
          ? `tool "${r.tool.name}" has no parameter "${r.name.slice(5)}"`
          : 'args.* exists only inside a conversation tool’s request'
        : 'declare it in settings.variables or set it with a gather or http save';
      const w: Finding = { code: 'UNDEFINED_VARIABLE', message: `"{{${r.name}}}" is never set: ${hint}`, path: r.path };
      if (r.nodeId !== undefined) w.nodeId = r.nodeId;
      this.warnings.push(w);
    }
    for (const name of Object.keys(this.flow.settings.variables)) {
      if (!this.used.has(name)) {
        this.warn('UNUSED_VARIABLE', `variable "${name}" is declared but never used`, child('$.settings.variables', name));
      }
    }
  }

  private isDefined(name: string, tool?: HttpTool): boolean {
    if ((BUILTIN_VARIABLES as readonly string[]).includes(name)) return true;
    if (BUILTIN_PREFIXES.some((prefix) => name.startsWith(prefix) && name.length > prefix.length)) return true;
    if (name.startsWith('args.')) {
      const param = name.slice(5).split('.')[0]!;
      return tool !== undefined && Object.hasOwn(tool.parameters, param);
    }
    // `{{order.size}}` is defined when `order` (or `order.size`) is.
    let dot = name.length;
    for (;;) {
      if (this.known.has(name.slice(0, dot))) return true;
      dot = name.lastIndexOf('.', dot - 1);
      if (dot <= 0) return false;
    }
  }
}

/** Explicit node references of a node, with their JSON paths. */
function nodeEdges(node: FlowNode, i: number): Edge[] {
  const p = `$.nodes[${i}]`;
  const edges: Edge[] = [];
  const add = (to: string | undefined, path: string) => {
    if (to !== undefined) edges.push({ to, path });
  };
  switch (node.type) {
    case 'say':
      add(node.next, `${p}.next`);
      break;
    case 'conversation':
      node.exits.forEach((e, k) => add(e.to, `${p}.exits[${k}].to`));
      add(node.onMaxTurns, `${p}.onMaxTurns`);
      break;
    case 'gather':
      add(node.next, `${p}.next`);
      add(node.onFailure, `${p}.onFailure`);
      break;
    case 'branch':
      node.branches.forEach((b, k) => add(b.to, `${p}.branches[${k}].to`));
      add(node.else, `${p}.else`);
      break;
    case 'http':
      add(node.next, `${p}.next`);
      add(node.onError, `${p}.onError`);
      break;
    case 'transfer':
      add(node.onUnavailable, `${p}.onUnavailable`);
      break;
    case 'end':
      break;
  }
  return edges;
}

/** The name of the failure edge a node needs but lacks, if any. */
function missingFailureEdge(node: FlowNode): string | undefined {
  switch (node.type) {
    case 'gather':
      return node.onFailure === undefined ? 'onFailure' : undefined;
    case 'http':
      return node.onError === undefined ? 'onError' : undefined;
    case 'conversation':
      return node.maxTurns !== undefined && node.onMaxTurns === undefined ? 'onMaxTurns' : undefined;
    case 'transfer':
      return node.onUnavailable === undefined ? 'onUnavailable' : undefined;
    default:
      return undefined;
  }
}

function markUsed(used: Set<string>, name: string): void {
  used.add(name);
  for (let dot = name.indexOf('.'); dot > 0; dot = name.indexOf('.', dot + 1)) used.add(name.slice(0, dot));
}

const zoneCache = new Map<string, boolean>();

function isValidTimeZone(zone: string): boolean {
  let ok = zoneCache.get(zone);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      ok = true;
    } catch {
      ok = false;
    }
    zoneCache.set(zone, ok);
  }
  return ok;
}

/** Values quoted in messages are cut: a finding must not echo a megabyte back. */
function truncate(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Templated URLs are checked as far as they can be before variables are known. */
function isPlausibleUrl(url: string): boolean {
  if (url.startsWith('{{')) return true;
  if (!/^https?:\/\//i.test(url)) return false;
  if (url.includes('{{')) return true;
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}
