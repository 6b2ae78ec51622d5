import type { StopReason } from '../../core/stop-reason.js';
import type { LlmMessage, LlmToolCall, LlmToolDef } from '../../providers/llm/port.js';
import { performHttpRequest } from '../http-request.js';
import type { ConversationNode, HttpTool } from '../schema.js';
import type { NodeStep, TranscriptEntry } from '../snapshot.js';
import { TextQueue } from '../text-queue.js';
import type { NodeContext, NodeHandler, Transition } from './context.js';

/**
 * `conversation`: an LLM dialogue. Each reply streams to the channel as it is
 * generated. Exits are offered as functions: calling one leaves the node once
 * the text already streamed has been spoken, with no further LLM call. HTTP
 * tools run and their results go back to the LLM for another round, at most
 * MAX_TOOL_ROUNDS times per caller turn.
 */

/** Tool rounds per caller turn; the round after the last offers only the exits, so the model must answer. */
export const MAX_TOOL_ROUNDS = 4;
/** Tool results sent back to the LLM are cut to this, to keep prompts small. */
export const MAX_TOOL_RESULT_CHARS = 4000;

type ConversationStep = Extract<NodeStep, { type: 'conversation' }>;

export interface ExitFunction {
  name: string;
  to: string;
  when: string;
}

export function exitFunctions(node: ConversationNode): ExitFunction[] {
  const used = new Set(node.tools.map((t) => t.name));
  return node.exits.map((exit) => {
    const base = (exit.name ?? `exit_${exit.to}`).replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 60);
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return { name, to: exit.to, when: exit.when };
  });
}

function toolDefs(node: ConversationNode, exits: ExitFunction[], withHttpTools: boolean): LlmToolDef[] {
  const defs: LlmToolDef[] = exits.map((e) => ({
    name: e.name,
    description: `Leave this part of the conversation when: ${e.when}`,
    parameters: {
      type: 'object',
      properties: { reason: { type: 'string', description: 'why, in a few words (optional)' } },
      required: [],
    },
  }));
  if (withHttpTools) {
    for (const tool of node.tools) {
      const properties: Record<string, unknown> = {};
      const required: string[] = [];
      for (const [name, p] of Object.entries(tool.parameters)) {
        properties[name] = { type: p.type, ...(p.description ? { description: p.description } : {}), ...(p.enum ? { enum: p.enum } : {}) };
        if (p.required) required.push(name);
      }
      defs.push({ name: tool.name, description: tool.description, parameters: { type: 'object', properties, required } });
    }
  }
  return defs;
}

function transcriptMessage(entry: TranscriptEntry): LlmMessage | undefined {
  switch (entry.role) {
    case 'caller':
      return { role: 'user', content: entry.dtmf ? `(pressed keys: ${entry.text})` : entry.text };
    case 'agent': {
      // The unheard rest of an interrupted reply never reaches the LLM.
      const content = entry.interrupted ? (entry.heardText ?? '') : entry.text;
      return content ? { role: 'assistant', content } : undefined;
    }
    case 'system':
      return { role: 'system', content: entry.text };
  }
}

/** System prompt + node prompt + knowledge passages, then the whole call's spoken transcript. */
export function buildMessages(node: ConversationNode, step: ConversationStep, ctx: NodeContext): LlmMessage[] {
  const parts: string[] = [];
  if (ctx.settings.systemPrompt) parts.push(ctx.render(ctx.settings.systemPrompt));
  parts.push(`Instructions for this part of the call:\n${ctx.render(node.prompt)}`);
  const lastCaller = [...ctx.state.transcript].reverse().find((e) => e.role === 'caller' && !e.dtmf);
  if (lastCaller) {
    const passages = ctx.knowledge(lastCaller.text);
    if (passages.length) {
      parts.push(
        'Knowledge base passages that may help (use them only if relevant):\n' +
          passages.map((p, i) => `[${i + 1}]${p.title ? ` ${p.title}:` : ''} ${p.text}`).join('\n'),
      );
    }
  }
  const messages: LlmMessage[] = [{ role: 'system', content: parts.join('\n\n') }];
  const transcript = ctx.state.transcript;
  const toolsAt = (i: number) => step.toolLog.filter((t) => t.at === i).flatMap((t) => t.messages);
  for (let i = 0; i < transcript.length; i++) {
    messages.push(...toolsAt(i));
    const m = transcriptMessage(transcript[i]!);
    if (m) messages.push(m);
  }
  messages.push(...toolsAt(transcript.length));
  return messages;
}

interface RoundResult {
  text: string;
  interrupted: boolean;
  toolCalls: LlmToolCall[];
  error?: unknown;
}

/** One LLM round, its text streamed straight into `say`. */
async function streamRound(ctx: NodeContext, messages: LlmMessage[], tools: LlmToolDef[]): Promise<RoundResult> {
  const bargeIn = new AbortController() as AbortController & { abort(reason: StopReason): void };
  const signal = AbortSignal.any([ctx.signal, bargeIn.signal]);
  const queue = new TextQueue();
  let speaking: Promise<Awaited<ReturnType<NodeContext['say']>>> | undefined;
  let text = '';
  const toolCalls: LlmToolCall[] = [];
  let error: unknown;
  try {
    const llm = ctx.settings.llm;
    for await (const ev of ctx.llmStream({
      messages,
      ...(tools.length ? { tools } : {}),
      ...(llm?.model ? { model: llm.model } : {}),
      ...(llm?.secondaryModel ? { secondaryModel: llm.secondaryModel } : {}),
      ...(llm?.temperature !== undefined ? { temperature: llm.temperature } : {}),
      signal,
    })) {
      if (ev.type === 'text' && ev.text) {
        text += ev.text;
        queue.push(ev.text);
        if (!speaking) {
          speaking = ctx.say(queue, { interruptible: true, cacheable: false });
          // The utterance's end stops the LLM too (barge-in, hang-up): nothing unheard is generated on.
          // This is the one route by which a barge-in reaches the reply.
          speaking.then(
            (r) => r.outcome !== 'played' && bargeIn.abort(r.outcome === 'interrupted' ? 'barge_in' : 'hangup'),
            () => bargeIn.abort('tts_failed'),
          );
        }
      } else if (ev.type === 'tool_call') {
        toolCalls.push(ev.call);
      }
      if (signal.aborted) break;
    }
  } catch (err) {
    if (!bargeIn.signal.aborted) error = err;
  } finally {
    queue.close();
  }
  const said = speaking ? await speaking : undefined;
  const interrupted = said !== undefined && said.outcome !== 'played';
  return { text, interrupted, toolCalls, ...(error !== undefined ? { error } : {}) };
}

async function runTool(tool: HttpTool, call: LlmToolCall, ctx: NodeContext): Promise<string> {
  let args: unknown;
  try {
    args = call.arguments.trim() ? JSON.parse(call.arguments) : {};
  } catch {
    return JSON.stringify({ error: 'arguments were not valid JSON' });
  }
  const result = await performHttpRequest(tool, ctx.scope({ args }), { fetch: ctx.http, clock: ctx.clock, signal: ctx.signal });
  ctx.emit({
    type: 'tool.called',
    nodeId: ctx.nodeId,
    name: tool.name,
    status: result.ok ? result.status : result.error === 'status' ? (result.status ?? 'error') : result.error === 'timeout' || result.error === 'network' ? result.error : 'error',
    ms: result.ms,
  });
  if (!result.ok) {
    return JSON.stringify({ error: result.message, ...(result.status ? { status: result.status } : {}) }).slice(0, MAX_TOOL_RESULT_CHARS);
  }
  for (const [name, value] of Object.entries(result.saved)) ctx.setVariable(name, value);
  return JSON.stringify({ status: result.status, data: result.data }).slice(0, MAX_TOOL_RESULT_CHARS);
}

/** Answers the caller (or opens the node); returns a transition when an exit was taken. */
async function reply(node: ConversationNode, step: ConversationStep, ctx: NodeContext): Promise<Transition | undefined> {
  const exits = exitFunctions(node);
  for (let round = 0; round <= MAX_TOOL_ROUNDS; round++) {
    const result = await streamRound(ctx, buildMessages(node, step, ctx), toolDefs(node, exits, round < MAX_TOOL_ROUNDS));
    ctx.checkAbort();
    if (result.error !== undefined) throw result.error;
    if (result.interrupted) return undefined; // the caller's words are the next turn
    const exitCall = result.toolCalls.map((c) => ({ c, exit: exits.find((e) => e.name === c.name) })).find((x) => x.exit);
    if (exitCall) {
      try {
        const args = JSON.parse(exitCall.c.arguments || '{}') as { reason?: unknown };
        if (typeof args.reason === 'string' && args.reason) ctx.setVariable('exit.reason', args.reason);
      } catch {
        // A reason is optional; bad JSON does not stop the exit.
      }
      return { kind: 'next', to: exitCall.exit!.to };
    }
    if (result.toolCalls.length === 0) return undefined;
    const at = ctx.state.transcript.length;
    const messages: LlmMessage[] = [{ role: 'assistant', content: '', toolCalls: result.toolCalls }];
    for (const call of result.toolCalls) {
      const tool = node.tools.find((t) => t.name === call.name);
      const content = tool ? await runTool(tool, call, ctx) : JSON.stringify({ error: `unknown function ${call.name}` });
      messages.push({ role: 'tool', toolCallId: call.id, content });
    }
    // The tool results are recorded even if the run stops right now.
    step.toolLog.push({ at, messages });
    ctx.checkpoint();
    ctx.checkAbort();
  }
  return undefined;
}

export const runConversation: NodeHandler<'conversation'> = async (node, ctx) => {
  const step = ctx.step('conversation');
  if (step.phase === 'opening') {
    if (node.speakFirst && !step.spokeFirst) {
      const t = await reply(node, step, ctx);
      step.spokeFirst = true;
      if (t) return t;
    }
    step.phase = 'listen';
    ctx.checkpoint();
  }
  for (;;) {
    if (step.phase === 'listen') {
      await ctx.listenWithSilencePolicy({ speech: true, dtmf: false });
      step.phase = 'reply';
      ctx.checkpoint();
    }
    const t = await reply(node, step, ctx);
    if (t) return t;
    step.turns += 1;
    step.phase = 'listen';
    ctx.checkpoint();
    if (node.maxTurns !== undefined && step.turns >= node.maxTurns) {
      return { kind: 'fail', edge: node.onMaxTurns, reason: 'max_turns' };
    }
  }
};
