import pino from 'pino';
import { buildApp, REDACT_PATHS } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { openRuntime } from './runtime.ts';

// Process entry: configuration → database (migrated) → app → listen; closes cleanly on signals.
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`waxseal: configuration error: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  // libuv creates its thread pool, at this size, the first time something uses it (here: opening
  // the database below), so it must be set before. Nothing before this line uses the pool.
  process.env.UV_THREADPOOL_SIZE = String(config.threadPoolSize);
  const logger = pino({
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // JSON for machines; readable lines only when a person watches a terminal.
    ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss' } } } : {}),
  });

  if (config.publicUrlIsDefault) {
    logger.warn({ url: config.publicUrl }, 'PUBLIC_URL is not set: envelopes sealed now point recipients at this machine only');
  }
  const runtime = await openRuntime(config);
  if (runtime.kekCreated && config.kek.source === 'file') {
    logger.warn(
      { path: config.kek.path },
      'created a new key-encryption key file; back it up apart from the database (without it no stored envelope can be opened)',
    );
  }
  if (runtime.migrated.length > 0) logger.info({ versions: runtime.migrated }, 'applied database migrations');
  logger.info({ database: runtime.database.kind }, 'database ready');

  const app = await buildApp({ config, database: runtime.database, services: runtime.services, logger });
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down: finishing requests in flight');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    try {
      await app.close();
      await runtime.close();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  await app.listen({ port: config.port, host: config.host });
  logger.info({ url: config.publicUrl }, 'Waxseal key service is listening');
}

main().catch((err: unknown) => {
  if (err instanceof Error && err.name === 'KeyRingError') {
    process.stderr.write(`waxseal: configuration error: ${err.message}\n`);
    process.exit(78);
  }
  process.stderr.write(`waxseal: could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
