import { loadConfig, readEnvironment, ConfigError, type Environment } from './config.js';
import { createLogger, serverLogDestination } from './core/logger.js';
import { createContainer } from './container.js';
import { buildApp } from './app.js';
import { signatureWarnings } from './telephony/signature.js';

/** Shutdown drain: in-flight calls get this long to finish before we close anyway. */
const SHUTDOWN_DRAIN_MS = 30_000;

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
  for (const warning of signatureWarnings(config)) logger.warn(warning);
  const container = await createContainer(config, logger);
  const app = await buildApp(container);
  await app.listen({ port: config.PORT, host: config.HOST });
  logger.info({ publicUrl: config.PUBLIC_URL }, 'server listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    container.readiness.shuttingDown = true;
    const force = setTimeout(() => {
      logger.warn('drain timed out; exiting');
      process.exit(1);
    }, SHUTDOWN_DRAIN_MS + 5_000);
    force.unref();
    try {
      await app.close();
      await container.close();
    } finally {
      logger.info('stopped');
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
