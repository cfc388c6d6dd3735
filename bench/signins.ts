import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import argon2 from 'argon2';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createKeyRing } from '../src/crypto/kek.ts';
import { createPassphraseHasher } from '../src/crypto/passphrases.ts';
import { openDatabase } from '../src/db/open-database.ts';
import { migrate } from '../src/db/migrate.ts';
import { createFilePayloadStore } from '../src/domain/payloads/payload-store.ts';
import { MIGRATIONS_DIR } from '../src/paths.ts';
import { createServices } from '../src/services.ts';
import { runConcurrent, startClientWorker } from './upload-load.ts';

export interface SigninBenchResult {
  callers: number;
  rawPerSecond: number;
  signinsPerSecond: number;
  /** the key service's event loop delay during the sign-in load, milliseconds */
  loopP99Ms: number;
}

const PASSPHRASE = 'a passphrase of ordinary length';
/** Turns each side of the comparison takes. */
const BLOCKS = 8;

/**
 * Sign-ins per second (POST /signin over HTTP, from a client in its own thread, against
 * PostgreSQL) beside raw argon2.verify of the same stored hash with the same callers, the two
 * taking turns, and the key service's event-loop delay (99th percentile) while the sign-ins run.
 */
export async function benchSignins(opts: { count: number; callers: number; createDatabase: () => Promise<{ url: string; drop: () => Promise<void> }> }): Promise<SigninBenchResult> {
  const created = await opts.createDatabase();
  const database = await openDatabase({ kind: 'postgres', url: created.url });
  try {
    await migrate(database, MIGRATIONS_DIR);
    const config = loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: '/tmp/waxseal-bench', PUBLIC_URL: 'http://127.0.0.1:8080' });
    // As the key service makes it (src/runtime.ts): one hash per core at once, and one more.
    const hasher = createPassphraseHasher({ maxConcurrent: config.hashConcurrency });
    const services = createServices({ database, keyRing: createKeyRing(new Map([[1, randomBytes(32)]])), payloads: createFilePayloadStore('/tmp/waxseal-bench/payloads'), publicUrl: config.publicUrl, hasher });
    const stored = await hasher.hash(PASSPHRASE);
    // One account per caller: each account's own throttle sees only its owner's good sign-ins.
    const emails: string[] = [];
    for (let i = 0; i < opts.callers; i++) {
      const email = `user${i}@example.test`;
      const account = await database.db.insertInto('accounts').values({ name: `User ${i}`, passphrase_hash: stored, security_phrase: 'bench', locale: 'en' }).returning('id').executeTakeFirstOrThrow();
      await database.db.insertInto('account_addresses').values({ account_id: account.id, address: email, verified_at: new Date() }).execute();
      emails.push(email);
    }
    const app = await buildApp({ config, database, services });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });

    const verify = () => argon2.verify(stored, PASSPHRASE).then(() => undefined);
    const client = startClientWorker('./signin-client.ts', { address, emails, passphrase: PASSPHRASE, callers: opts.callers });
    try {
      // Warmed like the baseline: the first sign-ins of a fresh process compile the whole
      // request path, which a key service that has been running does not do again.
      await runConcurrent(opts.callers * 2, opts.callers, verify);
      await client.run(opts.callers * 4);
      // The baseline and the sign-ins take turns in short blocks, so that a change in what else
      // runs on the machine (or in its clock) weighs on both alike rather than on whichever ran then.
      // A monitor per block (one enabled again counts the paused time as delay); the worst
      // block's 99th percentile is reported, which is never below the whole run's.
      let loopP99 = 0;
      const block = Math.ceil(opts.count / BLOCKS);
      let rawSeconds = 0;
      let signinSeconds = 0;
      for (let i = 0; i < BLOCKS; i++) {
        rawSeconds += block / (await runConcurrent(block, opts.callers, verify));
        const monitor = monitorEventLoopDelay({ resolution: 10 });
        monitor.enable();
        signinSeconds += block / (await client.run(block));
        monitor.disable();
        loopP99 = Math.max(loopP99, monitor.percentile(99));
      }
      return { callers: opts.callers, rawPerSecond: (block * BLOCKS) / rawSeconds, signinsPerSecond: (block * BLOCKS) / signinSeconds, loopP99Ms: loopP99 / 1e6 };
    } finally {
      await client.stop();
      await app.close();
    }
  } finally {
    await database.close();
    await created.drop();
  }
}
