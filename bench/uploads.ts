import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createKeyRing } from '../src/crypto/kek.ts';
import { openDatabase } from '../src/db/open-database.ts';
import { migrate } from '../src/db/migrate.ts';
import { createFilePayloadStore } from '../src/domain/payloads/payload-store.ts';
import { MIGRATIONS_DIR } from '../src/paths.ts';
import { createServices } from '../src/services.ts';
import { runClientWorker, runConcurrent, uploadBody } from './upload-load.ts';

export interface UploadBenchResult {
  concurrency: number;
  count: number;
  httpPerSecond: number;
  rawPerSecond: number;
}

/**
 * Key uploads per second over HTTP (a concurrent keep-alive client against the key service on
 * PostgreSQL) beside raw single-row inserts of the same envelope rows through the same driver.
 */
export async function benchUploads(databaseUrl: string, opts: { count: number; concurrency: number; createDatabase: () => Promise<{ url: string; drop: () => Promise<void> }> }): Promise<UploadBenchResult> {
  const created = await opts.createDatabase();
  const database = await openDatabase({ kind: 'postgres', url: created.url });
  try {
    await migrate(database, MIGRATIONS_DIR);
    const keyRing = createKeyRing(new Map([[1, randomBytes(32)]]));
    const config = loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: '/tmp/waxseal-bench', PUBLIC_URL: 'http://127.0.0.1' });
    const services = createServices({ database, keyRing, payloads: createFilePayloadStore('/tmp/waxseal-bench/payloads') });
    const init = await services.admins.initialise({ organisation: 'Bench', email: 'bench@example.test' });
    await services.profiles.create(init.orgId, 'Bench');
    const { token, credential } = await services.credentials.provision(init.orgId, 'Bench', 'gw@example.test');
    const app = await buildApp({ config, database, services });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    // The client runs in its own thread, as a gateway would be its own process: the key
    // service's event loop is then measured, not shared with the load generator.
    const viaHttp = (count: number) => runClientWorker('./upload-client.ts', { address, token, count, concurrency: opts.concurrency });
    await viaHttp(300);

    const raw = new pg.Pool({ connectionString: created.url, max: 10 });
    raw.on('error', () => {});
    const profileId = (await database.db.selectFrom('profiles').select('id').executeTakeFirstOrThrow()).id;
    // Rows are made before the clock starts, as the HTTP client makes its bodies beforehand.
    const rowsFor = (n: number) =>
      Array.from({ length: n }, () => {
        const b = uploadBody();
        return [randomBytes(16).toString('base64url'), init.orgId, profileId, credential.id, b.sender, b.subject, b.securityLevel, b.locale,
          b.algorithm, JSON.stringify(b.flags), null, null, 'inline', b.payload.digest, b.payload.size, randomBytes(60), 1, randomBytes(32),
          b.recipients.to, b.recipients.cc, b.recipients.bcc];
      });
    const insertRows = (rows: unknown[][]) => (i: number) =>
      raw
        .query(
          `INSERT INTO envelopes (id, org_id, profile_id, credential_id, sender, subject, security_level, locale, algorithm, flags,
             expires_at, read_by, payload_transport, payload_digest, payload_size, wrapped_share, kek_version, request_digest,
             recipients_to, recipients_cc, recipients_bcc)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21)`,
          rows[i],
        )
        .then(() => undefined);
    await runConcurrent(300, opts.concurrency, insertRows(rowsFor(300)));

    const rawPerSecond = await runConcurrent(opts.count, opts.concurrency, insertRows(rowsFor(opts.count)));
    const httpPerSecond = await viaHttp(opts.count);
    await raw.end();
    await app.close();
    return { concurrency: opts.concurrency, count: opts.count, httpPerSecond, rawPerSecond };
  } finally {
    await database.close();
    await created.drop();
  }
}
