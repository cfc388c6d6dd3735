import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createKeyRing } from '../src/crypto/kek.ts';
import { openDatabase } from '../src/db/open-database.ts';
import { migrate } from '../src/db/migrate.ts';
import { SESSION_COOKIE } from '../src/domain/accounts/session-service.ts';
import { createFilePayloadStore } from '../src/domain/payloads/payload-store.ts';
import { openingCookieName } from '../src/domain/releases/opening-seal.ts';
import { MIGRATIONS_DIR } from '../src/paths.ts';
import { createServices } from '../src/services.ts';
import { runClientWorker, runConcurrent, uploadBody } from './upload-load.ts';

export interface ReleaseBenchResult {
  concurrency: number;
  count: number;
  httpPerSecond: number;
  /** the same reads and the release record as bare SQL through the same driver */
  rawPerSecond: number;
}

const RECIPIENT = 'alice@example.test';

/**
 * Releases per second (POST /open/ID/key) with a remembered session, against PostgreSQL, from a
 * keep-alive client in its own thread; beside the bare SQL a release needs (session, addresses,
 * envelope with its wrapped share, the release record) run by the same driver at the same
 * concurrency, so the ratio shows what the service adds.
 */
export async function benchReleases(opts: { count: number; concurrency: number; createDatabase: () => Promise<{ url: string; drop: () => Promise<void> }> }): Promise<ReleaseBenchResult> {
  const created = await opts.createDatabase();
  const database = await openDatabase({ kind: 'postgres', url: created.url });
  try {
    await migrate(database, MIGRATIONS_DIR);
    const keyRing = createKeyRing(new Map([[1, randomBytes(32)]]));
    const config = loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: '/tmp/waxseal-bench', PUBLIC_URL: 'http://127.0.0.1:8080' });
    const services = createServices({ database, keyRing, payloads: createFilePayloadStore('/tmp/waxseal-bench/payloads'), publicUrl: config.publicUrl });
    const init = await services.admins.initialise({ organisation: 'Bench', email: 'bench@example.test' });
    await services.profiles.create(init.orgId, 'Bench', { securityLevel: 'medium' });
    const { token } = await services.credentials.provision(init.orgId, 'Bench', 'gw@example.test');
    const principal = (await services.credentials.authenticate(token))!;

    // One recipient account with a verified address and a remembered session.
    const account = await database.db
      .insertInto('accounts')
      .values({ name: 'Alice', passphrase_hash: 'unused', security_phrase: 'bench', locale: 'en' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await database.db.insertInto('account_addresses').values({ account_id: account.id, address: RECIPIENT, verified_at: new Date() }).execute();
    const { cookie: session } = await services.sessions.create(account.id, { remember: true });

    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const id = randomBytes(16).toString('base64url');
      const body = uploadBody();
      await services.envelopes.store(principal, id, { ...body, securityLevel: 'medium', flags: { ...body.flags, sendReturnReceipt: false } } as never);
      ids.push(id);
    }
    const cookies = ids.map(
      (id) => `${SESSION_COOKIE}=${session}; ${openingCookieName(id)}=${services.openings.seal(id, { mode: 'applet', secret: null, openedAt: new Date(), keepKeyAt: null })}`,
    );

    const app = await buildApp({ config, database, services });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const viaHttp = (count: number) => runClientWorker('./release-client.ts', { address, ids, cookies, count, concurrency: opts.concurrency });
    await viaHttp(500);

    const raw = new pg.Pool({ connectionString: created.url, max: 10 });
    raw.on('error', () => {});
    const sessionId = session.split('.')[0]!.replace(/^wxs_/, '');
    const bare = async (i: number) => {
      const id = ids[i % ids.length]!;
      await raw.query(
        'SELECT account_id, secret_hash, remember, created_at, passphrase_at, last_seen_at, revoked_at, array(SELECT a.address FROM account_addresses a WHERE a.account_id = s.account_id AND a.verified_at IS NOT NULL ORDER BY a.verified_at, a.address) AS addresses FROM account_sessions s WHERE id = $1',
        [sessionId],
      );
      await raw.query('SELECT * FROM envelopes WHERE id = $1', [id]);
      await raw.query("INSERT INTO release_events (envelope_id, account_id, address, ip, mode, result) VALUES ($1, $2, $3, '127.0.0.1', 'applet', 'released')", [id, account.id, RECIPIENT]);
    };
    await runConcurrent(500, opts.concurrency, bare);
    const rawPerSecond = await runConcurrent(opts.count, opts.concurrency, bare);
    const httpPerSecond = await viaHttp(opts.count);
    await raw.end();
    await app.close();
    return { concurrency: opts.concurrency, count: opts.count, httpPerSecond, rawPerSecond };
  } finally {
    await database.close();
    await created.drop();
  }
}
