import { createHash, randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createKeyRing } from '../src/crypto/kek.ts';
import { openDatabase } from '../src/db/open-database.ts';
import { migrate } from '../src/db/migrate.ts';
import { createFilePayloadStore } from '../src/domain/payloads/payload-store.ts';
import { MIGRATIONS_DIR } from '../src/runtime.ts';
import { createServices } from '../src/services.ts';

export interface UploadBenchResult {
  concurrency: number;
  count: number;
  httpPerSecond: number;
  rawPerSecond: number;
}

export function uploadBody() {
  return {
    serverShare: randomBytes(32).toString('base64url'),
    sender: 'sender@example.test',
    recipients: { to: ['alice@example.test'], cc: ['carol@example.test'], bcc: [] as string[] },
    subject: 'Quarterly numbers',
    securityLevel: 'high',
    expiresAt: null,
    readBy: null,
    flags: { replyEnabled: true, replyAllEnabled: false, forwardEnabled: false, sendReturnReceipt: true, suppressAppletForOpen: false, useScript: true, rememberEnvelopeKeyCheckbox: false },
    locale: 'en',
    algorithm: 'aes-256-gcm',
    payload: { transport: 'inline', digest: createHash('sha256').update(randomBytes(8)).digest('hex'), size: 50_000 },
  };
}

export async function runConcurrent(count: number, concurrency: number, one: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        await one(i);
      }
    }),
  );
  return count / (Number(process.hrtime.bigint() - start) / 1e9);
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
    const viaHttp = (count: number) => runClientWorker({ address, token, count, concurrency: opts.concurrency });
    await viaHttp(300);

    const raw = new pg.Pool({ connectionString: created.url, max: 10 });
    const profileId = (await database.db.selectFrom('profiles').select('id').executeTakeFirstOrThrow()).id;
    const insert = async () => {
      const b = uploadBody();
      await raw.query(
        `INSERT INTO envelopes (id, org_id, profile_id, credential_id, sender, subject, security_level, locale, algorithm, flags,
           expires_at, read_by, payload_transport, payload_digest, payload_size, wrapped_share, kek_version, request_digest)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)`,
        [randomBytes(16).toString('base64url'), init.orgId, profileId, credential.id, b.sender, b.subject, b.securityLevel, b.locale, b.algorithm,
          JSON.stringify(b.flags), null, null, 'inline', b.payload.digest, b.payload.size, randomBytes(60), 1, randomBytes(32)],
      );
    };
    await runConcurrent(300, opts.concurrency, insert);

    const rawPerSecond = await runConcurrent(opts.count, opts.concurrency, insert);
    const httpPerSecond = await viaHttp(opts.count);
    await raw.end();
    await app.close();
    return { concurrency: opts.concurrency, count: opts.count, httpPerSecond, rawPerSecond };
  } finally {
    await database.close();
    await created.drop();
  }
}

function runClientWorker(data: { address: string; token: string; count: number; concurrency: number }): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./upload-client.ts', import.meta.url), { workerData: data });
    worker.once('message', (rate: number) => resolve(rate));
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`upload client exited with ${code}`)));
  });
}
