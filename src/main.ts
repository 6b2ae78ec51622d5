import cluster from 'node:cluster';
import { loadConfig, readEnvironment, ConfigError, servesHttp, type Environment } from './config.js';
import { createLogger, serverLogDestination } from './core/logger.js';
import { createContainer } from './container.js';
import { buildApp } from './app.js';
import { createShutdown } from './http/shutdown.js';
import { signatureWarnings } from './telephony/signature.js';
import { runClusterPrimary } from './server/cluster-primary.js';
import { collectStartupGarbage, exposedGc } from './core/startup-gc.js';

async function main(): Promise<void> {
  let config;
  let environment: Environment;
  try {
    environment = readEnvironment();
    config = loadConfig(environment.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config.LOG_LEVEL, serverLogDestination());
  if (environment.envFile) {
    logger.info({ file: environment.envFile.path, variables: environment.envFile.variables }, 'read .env (the environment wins over it)');
  }
  if (cluster.isPrimary) for (const warning of signatureWarnings(config)) logger.warn(warning);
  // WEB_CONCURRENCY > 1: this process only starts and watches the server processes.
  if (config.WEB_CONCURRENCY > 1 && cluster.isPrimary) return runClusterPrimary(config.WEB_CONCURRENCY, logger);
  const container = await createContainer(config, logger);
  if (!servesHttp(config)) {
    // ROLE=worker: the container runs the job workers; no port, no calls.
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'draining');
      container.close().then(
        () => (logger.info('stopped'), process.exit(0)),
        (err: unknown) => (logger.error({ err }, 'stop failed'), process.exit(1)),
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    // Announced only once the handlers are in: whoever reads this line may signal at once.
    logger.info('job worker started (ROLE=worker): serving no HTTP');
    return;
  }
  const app = await buildApp(container);
  // Drain live calls, flush the call history, close, exit 0 (src/http/shutdown.ts). The
  // handlers go in before listening: a supervisor that sees the port may signal at once.
  const shutdown = createShutdown({ app, container, exit: (code) => process.exit(code) });
  process.on('SIGTERM', () => void shutdown.begin('SIGTERM'));
  process.on('SIGINT', () => void shutdown.begin('SIGINT'));
  // Not ready until start-up's garbage is gone: V8 would otherwise collect it during the first calls.
  container.readiness.pending.add('startup-gc');
  void container.warmup.finally(() => {
    collectStartupGarbage(logger, exposedGc());
    container.readiness.pending.delete('startup-gc');
  });
  await app.listen({ port: config.PORT, host: config.HOST });
  logger.info({ publicUrl: config.PUBLIC_URL }, 'server listening');
}

main().catch((err) => {
  process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
