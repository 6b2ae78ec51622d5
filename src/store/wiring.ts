import type { Config } from '../config.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { InProcessAgentChanges, type AgentChanges } from '../agents/changes.js';
import { importFlowsOnStart, type ImportReport } from '../agents/import.js';
import { PhoneNumberService } from '../agents/phone-numbers.js';
import { AgentService } from '../agents/service.js';
import { StoreAgentDirectory } from '../agents/sql-directory.js';
import { ApiKeyService } from '../auth/api-keys.js';
import { CompositeAuthenticator } from '../auth/roles.js';
import { resolveSecretKey } from '../auth/secret-key.js';
import { FlowLoadError, inlineKnowledgeFiles } from '../flow/load.js';
import { SqlAgentStore } from './agents-repo.js';
import { SqlApiKeyStore } from './api-keys-repo.js';
import { openDb, type Db } from './db.js';
import { newId } from './ids.js';
import { migrateToLatest } from './migrate.js';
import { SqlPhoneNumberStore } from './phone-numbers-repo.js';
import { SqlSettingsStore } from './settings-repo.js';

/** Everything built on the SQL store: repositories, the agent services, auth and the directory. */
export interface Persistence {
  db: Db;
  settings: SqlSettingsStore;
  agents: AgentService;
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

export interface PersistenceDeps {
  config: Config;
  logger: Logger;
  clock: Clock;
  /** Start-up task names are added while they run (`/ready` waits for them). */
  pending: Set<string>;
  /** Inlines `{ file }` knowledge documents at save time; default: relative to FLOWS_DIR. */
  inlineKnowledge?: (raw: unknown) => Promise<unknown>;
}

export async function createPersistence(deps: PersistenceDeps): Promise<Persistence> {
  const { config, logger, clock, pending } = deps;
  const db = await openDb(config.DATABASE_URL);
  try {
    pending.add('migrations');
    const applied = await migrateToLatest(db);
    pending.delete('migrations');
    if (applied.length > 0) logger.info({ applied, dialect: db.dialect }, 'database migrated');

    const agentStore = new SqlAgentStore(db.db);
    const numberStore = new SqlPhoneNumberStore(db.db);
    const settings = new SqlSettingsStore(db.db);
    const agentChanges = new InProcessAgentChanges();
    const agents = new AgentService({
      store: agentStore,
      clock,
      changes: agentChanges,
      inlineKnowledge: deps.inlineKnowledge ?? ((raw) => inlineFromFlowsDir(raw, config.FLOWS_DIR)),
    });
    const phoneNumbers = new PhoneNumberService({ numbers: numberStore, agents: agentStore, clock, changes: agentChanges });
    const apiKeys = new ApiKeyService(new SqlApiKeyStore(db.db), clock, newId);
    const authenticator = new CompositeAuthenticator().add(apiKeys);
    const directory = new StoreAgentDirectory({ agents: agentStore, numbers: numberStore, clock, changes: agentChanges });

    const secretKey = await resolveSecretKey(config.SECRET_KEY, settings, clock.wallNow());
    await apiKeys.bootstrapAdmin(config.ADMIN_API_KEY, settings, logger);

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
  } catch (err) {
    await db.close();
    throw err;
  }
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
