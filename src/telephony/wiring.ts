import type { AgentDirectory } from '../agents/directory.js';
import { Calls } from '../calls/calls.js';
import type { CallControl } from '../calls/call-control.js';
import { MemoryCallEventBus } from '../calls/events.js';
import { MemoryCallRepository } from '../calls/repository.js';
import type { Config } from '../config.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { createLlmFromConfig } from '../providers/llm/openai.js';
import type { LlmPort } from '../providers/llm/port.js';
import { DeepgramStt } from '../providers/stt/deepgram.js';
import type { SttPort } from '../providers/stt/port.js';
import { ElevenLabsTts } from '../providers/tts/elevenlabs.js';
import type { TtsPort, VoiceSpec } from '../providers/tts/port.js';
import type { Flow } from '../flow/schema.js';
import type { CallSession } from '../pipeline/call-session.js';
import { ClockPacer, type Pacer } from '../pipeline/pacer.js';
import type { PhraseSource } from '../pipeline/speaker.js';
import { TwilioCallControl } from './rest.js';
import { StreamTokens } from './stream-token.js';

/**
 * Everything the Twilio edge and the live calls share in one process: the call
 * ledger, stream tokens, the REST client, the one pacing timer, speech out and
 * the sessions in progress.
 */
export interface Telephony {
  calls: Calls;
  tokens: StreamTokens;
  callControl: CallControl;
  pacer: Pacer;
  tts: TtsPort;
  phrases: PhraseSource;
  directory: AgentDirectory;
  llm?: LlmPort;
  /** Speech-to-text; without DEEPGRAM_API_KEY it refuses to open and calls run keypad-only. */
  stt?: SttPort;
  /** Live calls held by this process, by CallSid. */
  sessions: Map<string, CallSession>;
  /** Cold transfers through the Connect action (default) or a REST update. */
  transferVia: 'stream' | 'rest';
  voiceFor(flow: Flow): VoiceSpec;
  close(): void;
}

export interface TelephonyDeps {
  config: Config;
  clock: Clock;
  logger: Logger;
  directory: AgentDirectory;
  secretKey: string;
  tts?: TtsPort;
  phrases?: PhraseSource;
  llm?: LlmPort;
  stt?: SttPort;
  callControl?: CallControl;
  transferVia?: 'stream' | 'rest';
}

/** Until the static-phrase cache is wired, nothing is cached: every phrase goes to TTS. */
export const noPhrases: PhraseSource = { get: async () => undefined };

export function voiceFor(config: Pick<Config, 'ELEVENLABS_VOICE_ID' | 'ELEVENLABS_MODEL_ID'>, flow: Flow): VoiceSpec {
  const v = flow.settings.voice ?? {};
  return {
    voiceId: v.voiceId ?? config.ELEVENLABS_VOICE_ID,
    modelId: v.modelId ?? config.ELEVENLABS_MODEL_ID,
    language: flow.settings.language,
    ...(v.stability !== undefined ? { stability: v.stability } : {}),
    ...(v.similarityBoost !== undefined ? { similarityBoost: v.similarityBoost } : {}),
    ...(v.speed !== undefined ? { speed: v.speed } : {}),
  };
}

export function createTelephony(deps: TelephonyDeps): Telephony {
  const { config, clock, logger } = deps;
  const calls = new Calls(new MemoryCallRepository(), new MemoryCallEventBus(), clock, logger);
  const tokens = new StreamTokens(deps.secretKey, clock);
  const pacer = new ClockPacer({ clock, onError: (err) => logger.error({ err }, 'pacing a call failed') });
  const accountSid = config.TWILIO_ACCOUNT_SID ?? '';
  return {
    calls,
    tokens,
    callControl: deps.callControl ?? new TwilioCallControl(config, (callSid) => tokens.issue(callSid, accountSid)),
    pacer,
    tts:
      deps.tts ??
      new ElevenLabsTts({
        ...(config.ELEVENLABS_API_KEY ? { apiKey: config.ELEVENLABS_API_KEY } : {}),
        ...(config.ELEVENLABS_BASE_URL ? { baseUrl: config.ELEVENLABS_BASE_URL } : {}),
        clock,
      }),
    phrases: deps.phrases ?? noPhrases,
    directory: deps.directory,
    // Without OPENAI_API_KEY the adapter exists and each request fails naming the variable.
    llm: deps.llm ?? createLlmFromConfig(config, clock, logger),
    stt:
      deps.stt ??
      new DeepgramStt({
        apiKey: config.DEEPGRAM_API_KEY,
        ...(config.DEEPGRAM_BASE_URL ? { baseUrl: config.DEEPGRAM_BASE_URL } : {}),
        clock,
        logger,
      }),
    sessions: new Map(),
    transferVia: deps.transferVia ?? 'stream',
    voiceFor: (flow) => voiceFor(config, flow),
    close() {
      calls.close();
      pacer.close();
    },
  };
}
