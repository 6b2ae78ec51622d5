import type { Config } from './config.js';
import { systemClock, type Clock, type TimerHandle } from './core/clock.js';
import type { Logger } from './core/logger.js';
import {
  DEFAULT_LOOP_LAG_POLICY,
  histogramSampler,
  logLoopLag,
  LoopLagGuard,
  LoopLagMonitor,
  type LagSampler,
} from './core/loop-lag.js';
import { InProcessAgentChanges, type AgentChanges } from './agents/changes.js';
import { CallCommands } from './calls/call-commands.js';
import { InProcessCallHolders, type CallHolders } from './calls/holders.js';
import { ProcessWatch, type ProcessRegistry } from './calls/process-watch.js';
import { FailSoftCallHolders } from './calls/fail-soft-holders.js';
import { FailSoftCallRepository } from './calls/fail-soft-repository.js';
import { SharedStateHealth } from './calls/shared-state-health.js';
import { LocalControlBus, type ControlBus } from './core/control-bus.js';
import type { CallEventBus } from './calls/events.js';
import type { CallRepository } from './calls/repository.js';
import type { PresenceStore } from './handoff/presence.js';
import type { LoginThrottle } from './handoff/login-throttle.js';
import { RedisConnection } from './store/redis/connection.js';
import { RedisAgentChanges } from './store/redis/agent-changes.js';
import { RedisCallRepository } from './store/redis/call-repository.js';
import { RedisCallHolders } from './store/redis/call-holders.js';
import { RedisCallEventBus } from './store/redis/call-events.js';
import { RedisControlBus } from './store/redis/control-bus.js';
import { RedisPresence } from './store/redis/presence.js';
import { RedisLoginThrottle } from './store/redis/login-throttle.js';
import { RedisTestChatHolders } from './store/redis/test-chat-holders.js';
import { RedisOutboundSlots } from './store/redis/outbound-slots.js';
import type { OutboundSlots } from './outbound/slots.js';
import { LocalTestChatHolders, RoutedTestChats, type TestChatHolders, type TestChats } from './agents/test-chat-routing.js';
import { TEST_CHAT_REPLY_WAIT_MS, TestChatService } from './agents/test-chat.js';
import type { AgentDirectory } from './agents/directory.js';
import { importFlowsOnStart, type ImportReport } from './agents/import.js';
import { PhoneNumberService } from './agents/phone-numbers.js';
import { AgentService } from './agents/service.js';
import { FlowTestService } from './agents/flow-tests.js';
import { StoreAgentDirectory } from './agents/sql-directory.js';
import { bootstrapAdminKey, type AdminKeyOutcome } from './auth/admin-key.js';
import { adminKeyBanner, showBanner } from './core/banner.js';
import { ApiKeyService } from './auth/api-keys.js';
import { CompositeAuthenticator } from './auth/roles.js';
import { resolveSecretKey } from './auth/secret-key.js';
import type { CallControl } from './calls/call-control.js';
import { Calls } from './calls/calls.js';
import { MemoryCallEventBus } from './calls/events.js';
import { CallRecorder } from './calls/recorder.js';
import { MemoryCallRepository } from './calls/repository.js';
import { FlowLoadError, inlineKnowledgeFiles } from './flow/load.js';
import type { Flow } from './flow/schema.js';
import type { CallHandle } from './pipeline/call.js';
import { newMediaStreamCounters, type MediaStreamCounters } from './telephony/media-stream.js';
import { ClockPacer, type Pacer } from './pipeline/pacer.js';
import { PhraseCache } from './pipeline/phrase-cache.js';
import { PhraseWarmer, servedFlowsOf, type WarmSummary } from './pipeline/phrase-warmer.js';
import type { PhraseSource } from './pipeline/speaker.js';
import { OpenAiLlm } from './providers/llm/openai.js';
import type { LlmPort } from './providers/llm/port.js';
import { DeepgramStt } from './providers/stt/deepgram.js';
import type { SttPort } from './providers/stt/port.js';
import { ElevenLabsTts } from './providers/tts/elevenlabs.js';
import type { TtsPort, VoiceSpec } from './providers/tts/port.js';
import { ProviderEndpoint, ProviderHealth, type EndpointRole } from './providers/endpoints.js';
import type { ProviderName, ProviderStage } from './providers/errors.js';
import { FailoverLlm, type LlmEndpoint } from './providers/llm/failover.js';
import { FailoverStt, type SttEndpoint } from './providers/stt/failover.js';
import { FailoverTts, type TtsEndpoint } from './providers/tts/failover.js';
import { SqlAgentStore } from './store/agents-repo.js';
import { SqlAgentTestsStore } from './store/agent-tests-repo.js';
import { SqlApiKeyStore } from './store/api-keys-repo.js';
import { SqlCallStore } from './store/calls-repo.js';
import { openDb, type Db } from './store/db.js';
import { newId } from './store/ids.js';
import { migrateToLatest } from './store/migrate.js';
import { SqlPhoneNumberStore } from './store/phone-numbers-repo.js';
import { SqlSettingsStore } from './store/settings-repo.js';
import { SqlTtsCacheStore } from './store/tts-cache-repository.js';
import { TwilioCallControl } from './telephony/rest.js';
import { TwilioCallbackRouter } from './telephony/callback-forwarding.js';
import { StreamTokens } from './telephony/stream-token.js';
import { createPeople, type People, type PeopleDeps } from './handoff/people.js';
import { createJobRunner } from './jobs/create-runner.js';
import { runsWorkers, type JobRunner, type RetryPolicy } from './jobs/runner.js';
import { webhookDeliveryJob, WEBHOOK_JOB } from './jobs/processors/webhook-delivery.js';
import { WebhookDispatcher } from './jobs/webhooks/dispatcher.js';
import { INVITATION_MAIL_JOB, invitationMailJob, mailingInvitations } from './jobs/processors/invitation-mail.js';
import { smtpTransport } from './jobs/mail/smtp.js';
import { POST_CALL_JOB, postCallJob, queuePostCallOnEnd } from './jobs/processors/post-call.js';
import { createOutboundFetch } from './flow/outbound.js';
import type { AgentWebhook } from './agents/types.js';
import { sqlPeopleStores } from './store/people-stores.js';
import { Metrics } from './metrics/registry.js';
import { registerCallMetrics } from './metrics/call-metrics.js';
import { registerJobMetrics } from './metrics/job-metrics.js';
import { observeLlm, observeStt, observeTts, type ProviderErrorListener } from './providers/observed.js';
import { newPlayoutTotals, type PlayoutTotals } from './pipeline/playout.js';
import { LiveCallFeed, type FeedBacklog } from './calls/live-feed.js';
import { feedBacklogSource, serveFeedBacklogs } from './calls/feed-backlogs.js';
import { ForkTranscriber, DeferredFork } from './handoff/fork-transcriber.js';
import { Handoffs } from './handoff/handoffs.js';
import { LocalLiveCalls, peopleTransfer, type LiveCallCommands } from './handoff/live-calls.js';
import { LiveHandoff, type TransferOffer } from './handoff/live-handoff.js';
import { RoutedLiveCalls, serveLiveCommands } from './handoff/routed-live-calls.js';
import { numberPicker, queuePicker } from './handoff/pickers.js';
import type { HandoffTelephony } from './handoff/telephony-port.js';
import { WORKSPACE_OFFER_TOPIC, WorkspaceFeed } from './handoff/workspace-feed.js';
import type { PeopleTransfer } from './pipeline/call-session.js';
import { TwilioHandoffTelephony } from './telephony/handoff-rest.js';
import { HANDOFF_PATHS, callbackUrl, conferenceName } from './telephony/handoff-twiml.js';
import { OutboundDialer } from './outbound/dialer.js';
import type { OutboundTelephony } from './outbound/port.js';
import { Recordings } from './outbound/recordings.js';
import { TwilioOutbound } from './telephony/outbound-rest.js';
import {
  RECORDING_RETENTION_INTERVAL_MS,
  RECORDING_RETENTION_QUEUE,
  recordingRetentionJob,
  retentionJobId,
} from './jobs/processors/recording-retention.js';

/**
 * The one place that picks implementations and builds services: SQLite or
 * PostgreSQL (by DATABASE_URL), real or fake providers (real from the
 * configuration unless a caller, such as a test or `npm run call`, passes its
 * own), the agent and key services, the call ledger and the phrase cache.
 * Everything else receives what it needs; `src/store/` holds only repositories
 * and migrations.
 */

export interface Readiness {
  /** Names of start-up tasks still running (migrations, cache warm-up, …). */
  pending: Set<string>;
  shuttingDown: boolean;
}

/** The vendor adapters, one of each per process, shared by every call and the test chat. */
export interface Providers {
  /** Without ELEVENLABS_API_KEY each synthesis fails naming the variable. */
  tts: TtsPort;
  /** Without OPENAI_API_KEY each request fails naming the variable. */
  llm: LlmPort;
  /** Without DEEPGRAM_API_KEY it refuses to open and calls run keypad-only. */
  stt: SttPort;
  /** Twilio's REST API (TWILIO_API_BASE_URL), for transfers and hang-ups. */
  callControl: CallControl;
  /** The circuit breakers of the configured provider endpoints, for `/ready`. */
  health: ProviderHealth;
}

/** Everything built on the SQL store: the agent services, auth, the directory and SECRET_KEY. */
export interface Persistence {
  db: Db;
  settings: SqlSettingsStore;
  agents: AgentService;
  /** Agents' flow test suites, runs and the publish gate. */
  flowTests: FlowTestService;
  phoneNumbers: PhoneNumberService;
  apiKeys: ApiKeyService;
  /** Bearer token → principal; staff session tokens can be added next to API keys. */
  authenticator: CompositeAuthenticator;
  agentChanges: AgentChanges;
  directory: StoreAgentDirectory;
  /** SECRET_KEY, configured or generated once and shared through the database. */
  secretKey: string;
  importReport: ImportReport;
  close(): Promise<void>;
}

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
  sessions: Map<string, CallHandle>;
  /** Commands to a call (hang up, assume, …) delivered to whichever process holds it. */
  commands: CallCommands;
  /** Twilio callbacks run on the process whose memory they need (a transfer, an outbound request, a live call). */
  callbacks: TwilioCallbackRouter;
  /** Cold transfers through the Connect action (default) or a REST update. */
  transferVia: 'stream' | 'rest';
  /** Warm and queue transfers of the transfer node (set once the handoff module is built). */
  people?: PeopleTransfer;
  /** Media sockets closed for never sending `start` (shown by /bench/stats). */
  streamCounters: MediaStreamCounters;
  /** Playout underruns of every call of the process (read by /metrics). */
  playoutTotals: PlayoutTotals;
  voiceFor(flow: Flow): VoiceSpec;
  close(): void;
}

/**
 * State shared by the server processes (docs/architecture.md#several-processes): in this
 * process's memory without REDIS_URL, in Redis with it. The same ports either way.
 */
export interface LiveState {
  mode: 'memory' | 'redis';
  /** This process's id ('local' in one process). */
  processId: string;
  agentChanges: AgentChanges;
  callRepository: CallRepository;
  callHolders: CallHolders;
  callBus: CallEventBus;
  /** Requests to a chosen process (the one holding a call or a test chat). */
  control: ControlBus;
  /** Per-agent outbound limits shared by every process (absent in one process: its memory). */
  outboundSlots?: OutboundSlots;
  /** Which process holds each test chat (absent in one process: all are here). */
  testChatHolders?: TestChatHolders;
  /** Unset: the in-process defaults. */
  presence?: PresenceStore;
  throttle?: LoginThrottle;
  redis?: RedisConnection;
  /** With Redis: heartbeats and the sweep for dead processes (src/calls/process-watch.ts). */
  processRegistry?: ProcessRegistry;
  /** With Redis: the processes that beat after `cutoffMs` (epoch ms). */
  liveProcesses?(cutoffMs: number): Promise<string[]>;
  /** With Redis: whether it answers, and the call changes waiting for it (`/ready`). */
  shared?: { health: SharedStateHealth; backlog(): number };
  close(): Promise<void>;
}

export interface Container {
  config: Config;
  logger: Logger;
  clock: Clock;
  readiness: Readiness;
  providers: Providers;
  /** SQL store, agents, numbers, API keys, the agent directory and SECRET_KEY. */
  persistence: Persistence;
  /** The Twilio edge and live calls: call ledger, stream tokens, REST client, pacer, speech out. */
  telephony: Telephony;
  /** The static-phrase cache calls read (SQL `tts_cache` behind a 64 MB LRU) and when it is filled. */
  phrases: PhraseCache;
  phraseWarmer: PhraseWarmer;
  /** The start-up warm-up of every served version; `/ready` waits for it (pending `phrase-cache`). */
  warmup: Promise<WarmSummary | undefined>;
  /** Call records and events in SQL, written through from the live ledger by `callRecorder`. */
  callHistory: SqlCallStore;
  callRecorder: CallRecorder;
  /** Staff, queues, sign-in sessions, presence and the workspace sockets, assignment (src/handoff/people.ts). */
  people: People;
  /**
   * Background jobs (docs/jobs.md): BullMQ with REDIS_URL, else in-process. `jobs.stats()` gives each
   * queue's depth (waiting, active, delayed, failed) and this process's failure counts.
   */
  jobs: JobRunner;
  /**
   * This instance's Prometheus registry (GET /metrics, docs/metrics.md). Other
   * parts add their figures with `metrics.gauge({ name, help, read })`.
   */
  metrics: Metrics;
  /** Set while the event loop lags past LOOP_LAG_LIMIT_MS (new calls get the unavailable answer); absent when off. */
  loopGuard: LoopLagGuard | undefined;
  /** Queues a signed delivery for each `call.ended`, `transfer.*`, `handoff.*` event of an agent with a webhook. */
  webhooks: WebhookDispatcher;
  /**
   * Queues post-call processing (summary, disposition, variables) on each `call.ended` when an LLM is
   * configured (OPENAI_API_KEY) and POST_CALL_PROCESSING is on; `settled()` resolves once each end seen so far is queued.
   */
  postCall: { settled(): Promise<void> };
  /** Warm transfers, assume and hand back over Twilio (docs/handoff.md). */
  handoff: HandoffModule;
  /**
   * Commands on a live call: assume, hand back to an AI, hang up
   * (docs/handoff.md#commands-on-a-live-call). One call each, plain arguments:
   * the seam where a router sends a command to the process holding the call.
   */
  live: LiveCallCommands;
  /** Each call's events so far and as they happen (`GET /calls/:id/live`), every process's calls. */
  callFeed: LiveCallFeed;
  /** A call's backlog for a viewer here when this feed joined late: the holder's feed, else history. */
  feedBacklog(callSid: string): Promise<FeedBacklog>;
  /** The builder's HTTP test chats; a message for a chat another process holds is run there. */
  testChats: TestChats;
  /** Memory or Redis: call records and holders, agent changes, control messages, presence, login throttle. */
  liveState: LiveState;
  /** Heartbeats and the sweep for dead processes' calls (with REDIS_URL only). */
  processWatch?: ProcessWatch;
  /** Outbound calls (the per-agent queue and limits) and call recordings (docs/outbound.md). */
  outbound: Outbound;
  /** Closers run in reverse order of registration on shutdown. */
  onClose(fn: () => Promise<void> | void): void;
  close(): Promise<void>;
}

/** The handoff side of the Twilio edge, as the routes and tests reach it. */
export interface HandoffModule {
  telephony: HandoffTelephony;
  handoffs: Handoffs;
  liveHandoff: LiveHandoff;
  workspaceFeed: WorkspaceFeed;
  /** The language of a call's flow, for the person's brief (known once a transfer starts). */
  languageOf(callSid: string): string | undefined;
  /** A fork's audio for a call a person has: transcribed into `turn.caller` / `turn.staff`. */
  openFork(callSid: string): { audio(track: string, mulaw: Uint8Array): void; close(): Promise<void> } | undefined;
}

export interface Outbound {
  dialer: OutboundDialer;
  recordings: Recordings;
  telephony: OutboundTelephony;
}

export interface ContainerOverrides {
  clock?: Clock;
  /** A job runner of the test's own (BullMQ on a test prefix, or in-process on a ManualClock). */
  jobs?: JobRunner;
  /** Retry policies by job name (tests use few attempts and short waits). */
  jobPolicies?: Partial<Record<string, RetryPolicy>>;
  /** Outbound calls and recordings through something other than Twilio's REST API. */
  outbound?: OutboundTelephony;
  /** Test doubles for the call pipeline: providers, a phrase source the caller fills, the transfer path. */
  telephony?: Partial<Providers> & { phrases?: PhraseSource; transferVia?: 'stream' | 'rest' };
  /** People side: a cheaper scrypt cost keeps tests fast (hashes carry their cost, so both verify). */
  people?: Pick<PeopleDeps, 'passwordCost'>;
  /** The event-loop delay source (default Node's histogram); tests feed their own figures. */
  loopLagSampler?: LagSampler;
}

/** The event-loop delay guard, sampled once a window on the container's clock; none when LOOP_LAG_LIMIT_MS is 0. */
function startLoopLagMonitor(config: Config, clock: Clock, logger: Logger, sampler?: LagSampler): LoopLagMonitor | undefined {
  const limitMs = config.LOOP_LAG_LIMIT_MS;
  if (limitMs <= 0) return undefined;
  const guard = new LoopLagGuard({ ...DEFAULT_LOOP_LAG_POLICY, limitMs }, logLoopLag(logger, limitMs));
  return new LoopLagMonitor(guard, sampler ?? histogramSampler(), clock).start();
}

export async function createContainer(
  config: Config,
  logger: Logger,
  overrides: ContainerOverrides = {},
): Promise<Container> {
  const closers: (() => Promise<void> | void)[] = [];
  const clock = overrides.clock ?? systemClock;
  const readiness: Readiness = { pending: new Set(), shuttingDown: false };
  const liveState = await createLiveState(config, clock, logger);
  closers.push(() => liveState.close());
  // Migrations and the flows/ import finish before the container is handed out.
  let persistence: Persistence;
  try {
    persistence = await createPersistence({ config, logger, clock, pending: readiness.pending, agentChanges: liveState.agentChanges });
  } catch (err) {
    await liveState.close();
    throw err;
  }
  closers.push(() => persistence.close());
  // Closed before the store (closers run in reverse): a running job may still write.
  const jobs = overrides.jobs ?? createJobRunner({ redisUrl: config.REDIS_URL, redisPrefix: config.REDIS_PREFIX, clock, logger });
  closers.push(() => jobs.close());
  const tokens = new StreamTokens(persistence.secretKey, clock);
  const metrics = new Metrics();
  // Provider failures reach /metrics through port decorators; the metrics that count them exist a little later.
  let onProviderError: ProviderErrorListener = () => {};
  const providers = observeProviders(
    createProviders(config, clock, logger, {
      ...overrides.telephony,
      streamToken: (callSid) => tokens.issue(callSid, config.TWILIO_ACCOUNT_SID ?? ''),
    }),
    (err) => onProviderError(err),
  );
  // One static-phrase cache per process, shared by every call.
  const phrases = new PhraseCache({ tts: providers.tts, store: new SqlTtsCacheStore(persistence.db.db, clock), clock, logger });
  const telephony = createTelephony({
    config,
    clock,
    logger,
    providers,
    tokens,
    directory: persistence.directory,
    phrases: overrides.telephony?.phrases ?? phrases,
    transferVia: overrides.telephony?.transferVia ?? 'stream',
    live: liveState,
  });
  closers.push(() => telephony.close());
  const callMetrics = registerCallMetrics(metrics, {
    bus: telephony.calls.bus,
    liveCalls: () => telephony.sessions.size,
    awaitingStream: () => telephony.calls.awaitingStream,
    playout: telephony.playoutTotals,
  });
  onProviderError = callMetrics.providerError;
  closers.push(() => callMetrics.close());
  registerJobMetrics(metrics, jobs);
  let processWatch: ProcessWatch | undefined;
  if (liveState.processRegistry) {
    processWatch = new ProcessWatch({
      registry: liveState.processRegistry,
      calls: telephony.calls,
      clock,
      logger,
      timeoutMs: config.PROCESS_HEARTBEAT_TIMEOUT_MS,
    });
    await processWatch.start();
    const watch = processWatch;
    closers.push(() => watch.close());
  }
  const phraseWarmer = new PhraseWarmer({
    cache: phrases,
    voiceFor: telephony.voiceFor,
    clock,
    logger,
    ...phraseWarmingOff(config, overrides, telephony.phrases === phrases),
  });
  const callHistory = new SqlCallStore(persistence.db.db, clock);
  const callRecorder = new CallRecorder({
    live: telephony.calls.repository,
    bus: telephony.calls.bus,
    history: callHistory,
    clock,
    logger,
  });
  closers.push(() => callRecorder.close());
  metrics.gauge({
    name: 'call_history_backlog_events',
    help: 'Call events waiting to be written to the SQL history (grows while the database is unavailable).',
    read: () => callRecorder.pending,
  });
  const shared = liveState.shared;
  if (shared) {
    metrics.gauge({
      name: 'live_state_backlog_changes',
      help: 'Changes to live call records waiting for Redis (grows while Redis is unreachable; written when it answers again).',
      read: () => shared.backlog(),
    });
  }
  metrics.gauge({
    name: 'provider_breaker_state',
    help: 'Circuit breaker per provider endpoint: 0 closed, 1 half-open, 2 open (skipped).',
    labelNames: ['stage', 'role', 'provider'],
    read: () =>
      providers.health.report().endpoints.map((e) => ({
        labels: { stage: e.stage, role: e.role, provider: e.provider },
        value: e.state === 'closed' ? 0 : e.state === 'half_open' ? 1 : 2,
      })),
  });
  // A single process owns every call in the history: what a killed run left open is over.
  if (!config.REDIS_URL) {
    const lost = await callHistory.closeLeftOpen(clock.wallNow());
    if (lost.length > 0) logger.warn({ calls: lost.length }, 'calls left open by the last run were closed as failed (process_lost)');
  }
  if (config.SMTP_URL) {
    const transport = smtpTransport(config.SMTP_URL);
    closers.push(() => transport.close());
    const from = config.MAIL_FROM ?? `no-reply@${new URL(config.PUBLIC_URL).hostname}`;
    jobs.register(invitationMailJob({ transport, from, ...policyOf(overrides, INVITATION_MAIL_JOB) }));
  }
  const people = createPeople({
    stores: sqlPeopleStores(persistence.db.db),
    invitations: mailingInvitations({ jobs, mailConfigured: config.SMTP_URL !== undefined, logger }),
    clock,
    logger,
    newId,
    secretKey: persistence.secretKey,
    publicUrl: config.PUBLIC_URL,
    seatLimit: config.SEAT_LIMIT,
    ...(liveState.presence ? { presence: liveState.presence } : {}),
    ...(liveState.throttle ? { throttle: liveState.throttle } : {}),
    ...overrides.people,
  });
  // Session tokens go through the same auth path as API keys.
  persistence.authenticator.add(people.sessions);
  closers.push(() => people.close());
  const webhookOf = async (agentId: string): Promise<AgentWebhook | null> =>
    (await persistence.agents.findById(agentId))?.webhook ?? null;
  jobs.register(
    webhookDeliveryJob({
      webhookOf,
      // Receivers are builders' URLs: the same guard as flows' http nodes (HTTP_ALLOW_HOSTS).
      fetch: createOutboundFetch({ allowHosts: config.HTTP_ALLOW_HOSTS }),
      clock,
      logger,
      ...policyOf(overrides, WEBHOOK_JOB),
    }),
  );
  const webhooks = new WebhookDispatcher({
    bus: telephony.calls.bus,
    callOf: async (callSid) => (await telephony.calls.get(callSid)) ?? (await callHistory.get(callSid)),
    webhookOf,
    jobs,
    logger,
  });
  closers.push(() => webhooks.close());
  jobs.register(
    postCallJob({
      flush: () => callRecorder.flush(),
      history: callHistory,
      llm: providers.llm,
      clock,
      logger,
      ...policyOf(overrides, POST_CALL_JOB),
    }),
  );
  // Without an LLM key every attempt would fail: nothing is queued, rather than a failed list of certain failures.
  const postCall = config.POST_CALL_PROCESSING === 'on' && config.OPENAI_API_KEY
    ? queuePostCallOnEnd({ bus: telephony.calls.bus, jobs, logger })
    : { settled: async () => {}, close: async () => {} };
  closers.push(() => postCall.close());
  const callFeed = new LiveCallFeed(telephony.calls.bus);
  closers.push(() => callFeed.close());
  closers.push(serveFeedBacklogs(liveState.control, callFeed));
  const feedBacklog = feedBacklogSource({ bus: liveState.control, holders: liveState.callHolders, history: { flush: () => callRecorder.flush(), events: (id) => callHistory.events(id) } });
  const liveProcesses = liveState.liveProcesses;
  const handoff = createHandoff({
    config,
    clock,
    logger,
    providers,
    telephony,
    people,
    directory: persistence.directory,
    control: liveState.control,
    ...(liveProcesses
      ? {
          otherProcesses: async () =>
            (await liveProcesses(clock.wallNow() - config.PROCESS_HEARTBEAT_TIMEOUT_MS)).filter((id) => id !== liveState.processId),
        }
      : {}),
  });
  closers.push(() => handoff.close());
  const localLive = new LocalLiveCalls({
    calls: telephony.calls,
    sessions: telephony.sessions,
    live: handoff.liveHandoff,
    telephony: handoff.telephony,
    staff: { get: (id) => people.staff.get(id).catch(() => undefined) },
    takeSession: (staffId) => people.assignment.takeSession(staffId),
    agents: persistence.agents,
    getVersion: (agentId, version) => persistence.directory.getVersion(agentId, version),
    logger,
  });
  // Commands on a call another process holds go there and run on its LocalLiveCalls (docs/handoff.md#commands-on-a-live-call).
  closers.push(serveLiveCommands(telephony.commands, localLive));
  const live = new RoutedLiveCalls({ local: localLive, commands: telephony.commands, calls: telephony.calls });
  const localChats = new TestChatService({
    agents: persistence.agents,
    clock,
    logger,
    llm: providers.llm,
    http: createOutboundFetch({ allowHosts: config.HTTP_ALLOW_HOSTS }),
  });
  const testChats = new RoutedTestChats({
    local: localChats,
    bus: liveState.control,
    holders: liveState.testChatHolders ?? new LocalTestChatHolders(),
    replyWaitMs: TEST_CHAT_REPLY_WAIT_MS,
  });
  closers.push(() => {
    testChats.close();
    localChats.close();
  });
  const outbound = createOutbound({
    config,
    clock,
    logger,
    persistence,
    telephony,
    callHistory,
    jobs,
    port: overrides.outbound,
    ...(liveState.mode === 'redis' ? { processId: liveState.processId } : {}),
    ...(liveState.outboundSlots ? { slots: liveState.outboundSlots } : {}),
  });
  closers.push(() => outbound.close());
  const warmup = warmServedAtStartup(phraseWarmer, persistence, readiness, logger);
  closers.push(async () => {
    await phraseWarmer.close();
    await warmup;
  });
  const loopMonitor = startLoopLagMonitor(config, clock, logger, overrides.loopLagSampler);
  if (loopMonitor) closers.push(() => loopMonitor.close());
  const container: Container = {
    loopGuard: loopMonitor?.guard,
    config,
    logger,
    clock,
    readiness,
    providers,
    persistence,
    telephony,
    phrases,
    phraseWarmer,
    warmup,
    callHistory,
    callRecorder,
    people,
    jobs,
    metrics,
    webhooks,
    postCall,
    handoff,
    live,
    callFeed,
    feedBacklog,
    testChats,
    liveState,
    ...(processWatch ? { processWatch } : {}),
    outbound,
    onClose: (fn) => closers.push(fn),
    async close() {
      container.readiness.shuttingDown = true;
      for (const fn of closers.reverse()) {
        try {
          await fn();
        } catch (err) {
          logger.error({ err }, 'error while closing');
        }
      }
    },
  };
  // Every kind of job is registered above; WORKERS=off processes only enqueue.
  if (runsWorkers(config)) await jobs.startWorkers();
  return container;
}

/** The same providers, each failure also reported to `onError` (src/providers/observed.ts). */
function observeProviders(providers: Providers, onError: ProviderErrorListener): Providers {
  return {
    ...providers,
    tts: observeTts(providers.tts, onError),
    llm: observeLlm(providers.llm, onError),
    stt: observeStt(providers.stt, onError),
  };
}

/**
 * The vendor adapters from the configuration; a missing key never stops the
 * start (each adapter fails its requests naming the variable instead).
 */
export function createProviders(
  config: Config,
  clock: Clock,
  logger: Logger,
  overrides: Partial<Providers> & { streamToken?: (callSid: string) => string } = {},
): Providers {
  const health = overrides.health ?? new ProviderHealth();
  const policy = { failureThreshold: config.BREAKER_FAILURES, openMs: config.BREAKER_OPEN_MS };
  const endpoint = (stage: ProviderStage, role: EndpointRole, provider: ProviderName) =>
    health.add(new ProviderEndpoint(stage, role, provider, clock, logger, policy));
  // Overrides (test doubles, `npm run call`) are used as given; configured adapters sit behind breakers.
  return {
    tts: overrides.tts ?? configuredTts(config, clock, logger, endpoint),
    llm: overrides.llm ?? configuredLlm(config, clock, logger, endpoint),
    stt: overrides.stt ?? configuredStt(config, clock, logger, endpoint),
    callControl: overrides.callControl ?? new TwilioCallControl(config, overrides.streamToken),
    health,
  };
}

type EndpointFactory = (stage: ProviderStage, role: EndpointRole, provider: ProviderName) => ProviderEndpoint;

function elevenLabs(apiKey: string | undefined, baseUrl: string | undefined, clock: Clock): ElevenLabsTts {
  return new ElevenLabsTts({ ...(apiKey ? { apiKey } : {}), ...(baseUrl ? { baseUrl } : {}), clock });
}

/** ElevenLabs, then the secondary when any ELEVENLABS_SECONDARY_* names one. */
function configuredTts(config: Config, clock: Clock, logger: Logger, endpoint: EndpointFactory): TtsPort {
  const endpoints: TtsEndpoint[] = [
    { endpoint: endpoint('tts', 'primary', 'elevenlabs'), tts: elevenLabs(config.ELEVENLABS_API_KEY, config.ELEVENLABS_BASE_URL, clock) },
  ];
  if (config.ELEVENLABS_SECONDARY_BASE_URL || config.ELEVENLABS_SECONDARY_VOICE_ID || config.ELEVENLABS_SECONDARY_MODEL_ID) {
    endpoints.push({
      endpoint: endpoint('tts', 'secondary', 'elevenlabs'),
      tts: elevenLabs(
        config.ELEVENLABS_SECONDARY_API_KEY ?? config.ELEVENLABS_API_KEY,
        config.ELEVENLABS_SECONDARY_BASE_URL ?? config.ELEVENLABS_BASE_URL,
        clock,
      ),
      voice: { voiceId: config.ELEVENLABS_SECONDARY_VOICE_ID, modelId: config.ELEVENLABS_SECONDARY_MODEL_ID },
    });
  }
  return new FailoverTts(endpoints, logger);
}

/** OpenAI (or any compatible server), then the secondary when OPENAI_SECONDARY_BASE_URL or _MODEL names one. */
function configuredLlm(config: Config, clock: Clock, logger: Logger, endpoint: EndpointFactory): LlmPort {
  const hasSecondary = Boolean(config.OPENAI_SECONDARY_BASE_URL || config.OPENAI_SECONDARY_MODEL);
  const endpoints: LlmEndpoint[] = [
    {
      endpoint: endpoint('llm', 'primary', 'openai'),
      llm: new OpenAiLlm({
        apiKey: config.OPENAI_API_KEY,
        baseUrl: config.OPENAI_BASE_URL,
        model: config.OPENAI_MODEL,
        clock,
        logger,
        // With a secondary, a failing primary hands the turn over at once instead of spending the budget on retries.
        ...(hasSecondary ? { maxAttempts: 1 } : {}),
      }),
    },
  ];
  if (hasSecondary) {
    endpoints.push({
      endpoint: endpoint('llm', 'secondary', 'openai'),
      llm: new OpenAiLlm({
        apiKey: config.OPENAI_SECONDARY_API_KEY ?? config.OPENAI_API_KEY,
        baseUrl: config.OPENAI_SECONDARY_BASE_URL ?? config.OPENAI_BASE_URL,
        model: config.OPENAI_SECONDARY_MODEL ?? config.OPENAI_MODEL,
        clock,
        logger,
      }),
    });
  }
  return new FailoverLlm(endpoints, logger);
}

/** Deepgram, then the secondary when DEEPGRAM_SECONDARY_BASE_URL or _MODEL names one. */
function configuredStt(config: Config, clock: Clock, logger: Logger, endpoint: EndpointFactory): SttPort {
  const endpoints: SttEndpoint[] = [
    {
      endpoint: endpoint('stt', 'primary', 'deepgram'),
      stt: new DeepgramStt({
        apiKey: config.DEEPGRAM_API_KEY,
        ...(config.DEEPGRAM_BASE_URL ? { baseUrl: config.DEEPGRAM_BASE_URL } : {}),
        clock,
        logger,
      }),
    },
  ];
  if (config.DEEPGRAM_SECONDARY_BASE_URL || config.DEEPGRAM_SECONDARY_MODEL) {
    const baseUrl = config.DEEPGRAM_SECONDARY_BASE_URL ?? config.DEEPGRAM_BASE_URL;
    endpoints.push({
      endpoint: endpoint('stt', 'secondary', 'deepgram'),
      stt: new DeepgramStt({
        apiKey: config.DEEPGRAM_SECONDARY_API_KEY ?? config.DEEPGRAM_API_KEY,
        ...(baseUrl ? { baseUrl } : {}),
        clock,
        logger,
      }),
      model: config.DEEPGRAM_SECONDARY_MODEL,
    });
  }
  return new FailoverStt(endpoints, logger);
}

export interface PersistenceDeps {
  config: Config;
  logger: Logger;
  clock: Clock;
  /** Start-up task names are added while they run (`/ready` waits for them). */
  pending: Set<string>;
  /** Inlines `{ file }` knowledge documents at save time; default: relative to FLOWS_DIR. */
  inlineKnowledge?: (raw: unknown) => Promise<unknown>;
  /** Where a generated admin key's banner goes; default stderr. */
  bannerOut?: NodeJS.WritableStream;
  /** How agent changes reach lookup caches (default: in this process only). */
  agentChanges?: AgentChanges;
}

/** Opens the database, migrates it, builds the services on it, bootstraps keys and imports `flows/`. */
export async function createPersistence(deps: PersistenceDeps): Promise<Persistence> {
  const { config, logger, pending } = deps;
  const db = await openDb(config.DATABASE_URL);
  try {
    // Processes starting together on one database take turns through the work below; each after
    // the first finds the schema migrated, the keys there and the flows imported (docs/architecture.md#storage).
    pending.add('startup-lock');
    return await db.startupLock.run(
      async () => {
        pending.delete('startup-lock');
        return await startOnDatabase(db, deps);
      },
      () => logger.info({ dialect: db.dialect }, 'another process is starting on this database; waiting for it to finish'),
    );
  } catch (err) {
    pending.delete('startup-lock');
    await db.close();
    throw err;
  }
}

/** The start-up work on an open database, run while this process holds its start-up lock. */
async function startOnDatabase(db: Db, deps: PersistenceDeps): Promise<Persistence> {
  const { config, logger, clock, pending } = deps;
  pending.add('migrations');
  const applied = await migrateToLatest(db);
  pending.delete('migrations');
  if (applied.length > 0) logger.info({ applied, dialect: db.dialect }, 'database migrated');

  const agentStore = new SqlAgentStore(db.db);
  const numberStore = new SqlPhoneNumberStore(db.db);
  const settings = new SqlSettingsStore(db.db);
  const agentChanges = deps.agentChanges ?? new InProcessAgentChanges();
  const agents = new AgentService({
    store: agentStore,
    clock,
    changes: agentChanges,
    inlineKnowledge: deps.inlineKnowledge ?? ((raw) => inlineFromFlowsDir(raw, config.FLOWS_DIR)),
  });
  const flowTests = new FlowTestService({ store: new SqlAgentTestsStore(db.db), agents, clock });
  const phoneNumbers = new PhoneNumberService({ numbers: numberStore, agents: agentStore, clock, changes: agentChanges });
  const apiKeys = new ApiKeyService(new SqlApiKeyStore(db.db), clock, newId);
  const authenticator = new CompositeAuthenticator().add(apiKeys);
  const directory = new StoreAgentDirectory({ agents: agentStore, numbers: numberStore, clock, changes: agentChanges });

  const secretKey = await resolveSecretKey(config.SECRET_KEY, settings, clock.wallNow());
  reportAdminKey(
    logger,
    await bootstrapAdminKey({ configured: config.ADMIN_API_KEY, apiKeys, settings, nowMs: clock.wallNow() }),
    deps.bannerOut,
  );

  pending.add('import');
  const importReport = await importFlowsOnStart({
    flowsDir: config.FLOWS_DIR,
    phoneNumbers: config.PHONE_NUMBERS,
    agents,
    numbers: phoneNumbers,
    logger,
  });
  pending.delete('import');

  return {
    db,
    settings,
    agents,
    flowTests,
    phoneNumbers,
    apiKeys,
    authenticator,
    agentChanges,
    directory,
    secretKey,
    importReport,
    async close() {
      directory.close();
      await db.close();
    },
  };
}

/**
 * The one place the admin-key bootstrap is reported. A generated key appears
 * here and nowhere else, ever: only its hash is stored. It is shown in a banner
 * on stderr (what it is, that it is shown once, what to do if it is lost), and
 * kept out of the log lines.
 */
export function reportAdminKey(logger: Logger, outcome: AdminKeyOutcome, bannerOut?: NodeJS.WritableStream): void {
  switch (outcome.kind) {
    case 'generated':
      logger.warn('No ADMIN_API_KEY set: generated an admin API key, shown once in the banner on stderr');
      showBanner(adminKeyBanner(outcome.key), logger, bannerOut);
      return;
    case 'revoked':
      logger.warn(
        'ADMIN_API_KEY names an admin key that was revoked through the API; it stays revoked. ' +
          'Set ADMIN_API_KEY to a new value, or unset it and use another admin key.',
      );
      return;
    case 'configured':
    case 'existing':
      return;
  }
}

function createTelephony(deps: {
  config: Config;
  clock: Clock;
  logger: Logger;
  providers: Providers;
  tokens: StreamTokens;
  directory: AgentDirectory;
  phrases: PhraseSource;
  transferVia: 'stream' | 'rest';
  live: LiveState;
}): Telephony {
  const { config, clock, logger, providers, live } = deps;
  const calls = new Calls(live.callRepository, live.callBus, clock, logger, live.callHolders);
  const pacer = new ClockPacer({ clock, onError: (err) => logger.error({ err }, 'pacing a call failed') });
  const sessions = new Map<string, CallHandle>();
  const commands = new CallCommands({ bus: live.control, holders: live.callHolders });
  const callbacks = new TwilioCallbackRouter({ bus: live.control, holders: live.callHolders, logger });
  // The caller hung up (a status callback, on any process): the AI holding the call stops at once.
  const offHangup = commands.on('hangup', async (callSid) => {
    const handle = sessions.get(callSid);
    if (handle) await handle.stop('hangup');
    return { stopped: handle !== undefined };
  });
  return {
    calls,
    tokens: deps.tokens,
    callControl: providers.callControl,
    pacer,
    tts: providers.tts,
    phrases: deps.phrases,
    directory: deps.directory,
    llm: providers.llm,
    stt: providers.stt,
    sessions,
    commands,
    callbacks,
    transferVia: deps.transferVia,
    streamCounters: newMediaStreamCounters(),
    playoutTotals: newPlayoutTotals(),
    voiceFor: (flow) => voiceFor(config, flow),
    close() {
      offHangup();
      callbacks.close();
      calls.close();
      pacer.close();
    },
  };
}

/**
 * The handoff module over Twilio (docs/handoff.md): the REST port, the
 * transfers of this process, the live call's side of them, the workspace
 * pushes, and the transfer node's way in (`telephony.people`). A call that
 * ends lets its transfer and its person go.
 */
function createHandoff(deps: {
  config: Config;
  clock: Clock;
  logger: Logger;
  providers: Providers;
  telephony: Telephony;
  people: People;
  directory: AgentDirectory;
  control: ControlBus;
  /** The other live server processes (with REDIS_URL), where a person's workspace socket may be. */
  otherProcesses?(): Promise<string[]>;
}): HandoffModule & { close(): void } {
  const { config, clock, logger, providers, telephony, people, directory, control } = deps;
  const publicUrl = config.PUBLIC_URL;
  const { calls } = telephony;
  const rest = new TwilioHandoffTelephony(config);
  const handoffs = new Handoffs({
    telephony: rest,
    clock,
    logger,
    conferenceName,
    urls: (call) => ({
      staffLeg: (attempt) => callbackUrl(publicUrl, HANDOFF_PATHS.staffLeg, { call, attempt }),
      staffLegStatus: (attempt) => callbackUrl(publicUrl, HANDOFF_PATHS.staffLegStatus, { call, attempt }),
      conferenceStatus: () => callbackUrl(publicUrl, HANDOFF_PATHS.conferenceStatus, { call }),
    }),
  });
  const flowOf = async (callSid: string): Promise<Flow | undefined> => {
    const record = await calls.get(callSid);
    return record ? (await directory.getVersion(record.agentId, record.version))?.flow : undefined;
  };
  const workspaceFeed = new WorkspaceFeed({
    hub: people.workspace,
    bus: calls.bus,
    liveCalls: () => calls.repository.list(),
    staff: { get: (id) => people.staff.get(id).catch(() => undefined) },
    logger,
    ...(deps.otherProcesses
      ? {
          elsewhere: (offer: TransferOffer) =>
            void deps.otherProcesses!()
              .then((ids) => Promise.all(ids.map((id) => control.request(id, WORKSPACE_OFFER_TOPIC, offer).catch(() => undefined))))
              .catch((err: unknown) => logger.warn({ err, callSid: offer.callSid }, 'a transfer offer did not reach other processes')),
        }
      : {}),
  });
  const offHandler = control.handle(WORKSPACE_OFFER_TOPIC, async (offer) => workspaceFeed.offerHere(offer as TransferOffer));
  const liveHandoff = new LiveHandoff({
    calls,
    handoffs,
    telephony: rest,
    streamToken: (callSid, accountSid) => telephony.tokens.issue(callSid, accountSid),
    publicUrl,
    clock,
    logger,
    llm: providers.llm,
    peopleFor: (target) =>
      'queue' in target
        ? queuePicker(target.queue, {
            findQueueId: async (name) => (await people.queues.findByName(name))?.id,
            assign: (queueId, exclude) => people.assignment.assign(queueId, { exclude }),
            release: (staffId) => people.assignment.release(staffId),
          })
        : numberPicker(target.number),
    handoffNodeOf: async (callSid) => (await flowOf(callSid))?.settings.handoffNode,
    releasePerson: (staffId) => people.assignment.release(staffId),
    onOffer: (offer) => workspaceFeed.offer(offer),
  });
  const languages = new Map<string, string>();
  const toPeople = peopleTransfer(liveHandoff);
  telephony.people = {
    async start(callSid, request) {
      const flow = await flowOf(callSid);
      if (flow) languages.set(callSid, flow.settings.language);
      return toPeople.start(callSid, request);
    },
  };
  // The caller's leg is over: a transfer under way lets its person go at once; a person who had the call is free.
  // Every process's events: the final status callback that ends the call may land on another process.
  const unsubscribe = calls.bus.subscribeAll((e) => {
    if (e.type !== 'call.ended') return;
    languages.delete(e.callSid);
    liveHandoff.callerEnded(e.callSid);
  });
  return {
    telephony: rest,
    handoffs,
    liveHandoff,
    workspaceFeed,
    languageOf: (callSid) => languages.get(callSid),
    openFork: (callSid) => {
      const stt = telephony.stt;
      if (!stt) return undefined;
      return new DeferredFork(
        flowOf(callSid).then(
          (flow) =>
            new ForkTranscriber({
              stt,
              language: flow?.settings.language ?? 'en-US',
              ...(flow?.settings.stt?.model ? { model: flow.settings.stt.model } : {}),
              logger: logger.child({ callSid, fork: true }),
              onTurn: (turn) => void liveHandoff.forkTurn(callSid, turn).catch((err: unknown) => logger.warn({ err, callSid }, 'recording a fork turn failed')),
            }),
        ),
      );
    },
    close() {
      unsubscribe();
      offHandler();
      workspaceFeed.close();
    },
  };
}

/** Redis when REDIS_URL is set (connected before anything else starts), else this process's memory. */
export async function createLiveState(config: Config, clock: Clock, logger: Logger): Promise<LiveState> {
  if (config.REDIS_URL === undefined) {
    const control = new LocalControlBus();
    return {
      mode: 'memory',
      processId: control.processId,
      agentChanges: new InProcessAgentChanges(),
      callRepository: new MemoryCallRepository(),
      callHolders: new InProcessCallHolders(),
      callBus: new MemoryCallEventBus(),
      control,
      close: () => control.close(),
    };
  }
  const redis = new RedisConnection(config.REDIS_URL, config.REDIS_PREFIX, logger);
  await redis.connect();
  try {
    const [agentChanges, callBus, control] = await Promise.all([
      RedisAgentChanges.open(redis, logger),
      RedisCallEventBus.open(redis, logger),
      RedisControlBus.open(redis, clock, logger),
    ]);
    logger.info({ processId: redis.processId, prefix: config.REDIS_PREFIX }, 'live state in Redis');
    // Calls in progress outlast Redis going away: they go on from this process's copy and re-sync after.
    const health = new SharedStateHealth(logger, () => clock.wallNow());
    const redisHolders = new RedisCallHolders(redis);
    const callHolders = new FailSoftCallHolders(redisHolders, { health, logger });
    const callRepository = new FailSoftCallRepository(new RedisCallRepository(redis), { health, clock, logger });
    callBus.onPublishFailed = (err) => health.failed('call event relay', err);
    return {
      mode: 'redis',
      processId: redis.processId,
      agentChanges,
      callRepository,
      callHolders,
      processRegistry: callHolders,
      liveProcesses: (cutoffMs) => redisHolders.liveProcesses(cutoffMs),
      shared: { health, backlog: () => callRepository.backlog },
      presence: new RedisPresence({ redis, processes: redisHolders, clock, heartbeatTimeoutMs: config.PROCESS_HEARTBEAT_TIMEOUT_MS }),
      throttle: new RedisLoginThrottle(redis),
      testChatHolders: new RedisTestChatHolders(redis),
      outboundSlots: new RedisOutboundSlots(redis, config.PROCESS_HEARTBEAT_TIMEOUT_MS),
      callBus,
      control,
      redis,
      async close() {
        callRepository.close();
        await Promise.allSettled([agentChanges.close(), callBus.close(), control.close()]);
        await redis.close();
      },
    };
  } catch (err) {
    await redis.close();
    throw err;
  }
}

/**
 * Outbound calls and recordings over Twilio's REST API. With
 * RECORDING_RETENTION_DAYS set, retention is a job, enqueued once per interval
 * under an id every process computes alike (src/jobs/processors/recording-retention.ts).
 */
function createOutbound(deps: {
  config: Config;
  clock: Clock;
  logger: Logger;
  persistence: Persistence;
  telephony: Telephony;
  callHistory: SqlCallStore;
  jobs: JobRunner;
  port: OutboundTelephony | undefined;
  /** With several processes, this one's id (named in the answer URL). */
  processId?: string;
  slots?: OutboundSlots;
}): Outbound & { close(): void } {
  const { config, clock, logger, persistence, telephony } = deps;
  const port = deps.port ?? new TwilioOutbound(config);
  const numbers = new SqlPhoneNumberStore(persistence.db.db);
  const dialer = new OutboundDialer({
    calls: telephony.calls,
    telephony: port,
    clock,
    logger,
    agent: (idOrSlug) => persistence.agents.get(idOrSlug),
    numbersOf: async (agentId) => (await numbers.listForAgent(agentId)).map((n) => n.e164),
    leavesVoicemail: async (agentId, version) => (await persistence.directory.getVersion(agentId, version))?.flow.settings.voicemail !== undefined,
    accountSid: config.TWILIO_ACCOUNT_SID ?? '',
    publicUrl: config.PUBLIC_URL,
    newId,
    ...(deps.processId ? { processId: deps.processId } : {}),
    ...(deps.slots ? { slots: deps.slots } : {}),
  });
  const recordings = new Recordings({ calls: telephony.calls, history: deps.callHistory, telephony: port, clock, logger, publicUrl: config.PUBLIC_URL });
  const days = config.RECORDING_RETENTION_DAYS;
  let timer: TimerHandle | undefined;
  let closed = false;
  if (days !== undefined) deps.jobs.register(recordingRetentionJob(recordings, days));
  const schedule = () => {
    if (days === undefined || closed) return;
    timer = clock.setTimeout(() => {
      void deps.jobs
        .enqueue(RECORDING_RETENTION_QUEUE, {}, { jobId: retentionJobId(clock.wallNow()) })
        .catch((err: unknown) => logger.error({ err }, 'queueing recording retention failed'))
        .finally(schedule);
    }, RECORDING_RETENTION_INTERVAL_MS);
  };
  schedule();
  return {
    dialer,
    recordings,
    telephony: port,
    close() {
      closed = true;
      timer?.cancel();
      dialer.close();
    },
  };
}

/** The voice a flow speaks with: its own `voice` settings over the configured defaults. */
export function voiceFor(config: Pick<Config, 'ELEVENLABS_VOICE_ID' | 'ELEVENLABS_MODEL_ID'>, flow: Flow): VoiceSpec {
  const v = flow.settings.voice ?? {};
  return {
    voiceId: v.voiceId ?? config.ELEVENLABS_VOICE_ID,
    modelId: v.modelId ?? config.ELEVENLABS_MODEL_ID,
    language: flow.settings.language,
    ...(v.stability !== undefined ? { stability: v.stability } : {}),
    ...(v.similarityBoost !== undefined ? { similarityBoost: v.similarityBoost } : {}),
    ...(v.speed !== undefined ? { speed: v.speed } : {}),
    ...(v.secondary ? { secondary: v.secondary } : {}),
  };
}

/** A test's retry policy for one kind of job, if it set one. */
function policyOf(overrides: ContainerOverrides, name: string): { policy?: RetryPolicy } {
  const policy = overrides.jobPolicies?.[name];
  return policy ? { policy } : {};
}

/** Why the container's phrase cache is not filled, if it is not. */
function phraseWarmingOff(config: Config, overrides: ContainerOverrides, callsUseIt: boolean): { disabledReason?: string } {
  // A caller-supplied phrase source (tests) is the caller's to fill.
  if (!callsUseIt) return { disabledReason: 'the calls use a phrase source supplied by the caller' };
  if (!config.ELEVENLABS_API_KEY && !overrides.telephony?.tts) return { disabledReason: 'ELEVENLABS_API_KEY is not set' };
  return {};
}

/** Fills every served version's phrases before `/ready`; never fails the start. */
function warmServedAtStartup(
  warmer: PhraseWarmer,
  persistence: Persistence,
  readiness: Readiness,
  logger: Logger,
): Promise<WarmSummary | undefined> {
  if (!warmer.enabled) return warmer.warmAtStartup([]);
  readiness.pending.add('phrase-cache');
  return servedFlowsOf(persistence.agents)
    .then((served) => warmer.warmAtStartup(served))
    .catch((err: unknown) => {
      logger.error({ err }, 'start-up phrase warm-up failed; calls will synthesize phrases live');
      return undefined;
    })
    .finally(() => readiness.pending.delete('phrase-cache'));
}

/** KB `{ file }` documents resolve against FLOWS_DIR; a bad path is the client's 400, not a 500. */
async function inlineFromFlowsDir(raw: unknown, flowsDir: string): Promise<unknown> {
  try {
    return await inlineKnowledgeFiles(raw, flowsDir);
  } catch (err) {
    if (err instanceof FlowLoadError) throw err.toAppError();
    throw err;
  }
}
