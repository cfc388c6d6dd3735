import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createKeyRing, type KeyRing } from '../../src/crypto/kek.ts';
import { createFilePayloadStore } from '../../src/domain/payloads/payload-store.ts';
import { createServices, type Services } from '../../src/services.ts';
import type { OpenedDatabase } from './databases.ts';

export interface TestKeyService {
  app: FastifyInstance;
  services: Services;
  keyRing: KeyRing;
  config: Config;
  dataDir: string;
  adminToken: string;
  orgId: string;
  close(): Promise<void>;
}

/** A key service over an opened test database, with one organisation and administrator. */
export async function startKeyService(opened: OpenedDatabase, env: Record<string, string> = {}): Promise<TestKeyService> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-data-'));
  const keyRing = createKeyRing(new Map([[1, randomBytes(32)]]));
  const config = loadConfig({ DATA_DIR: dataDir, PUBLIC_URL: 'https://keys.example.test', LOG_LEVEL: 'silent', ...env });
  const services = createServices({ database: opened.database, keyRing, payloads: createFilePayloadStore(path.join(dataDir, 'payloads')), publicUrl: config.publicUrl, mail: { smtpUrl: config.smtpUrl, from: config.mailFrom } });
  const app = await buildApp({ config, database: opened.database, services });
  const init = await services.admins.initialise({ organisation: 'Example Org', email: 'admin@example.test' });
  return {
    app,
    services,
    keyRing,
    config,
    dataDir,
    adminToken: init.token,
    orgId: init.orgId,
    async close() {
      await app.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A free TCP port on 127.0.0.1 (there is a small window before it is used; fine for tests). */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A key service really listening on HTTP, as a gateway on another machine would reach it. */
export async function listenKeyService(opened: OpenedDatabase, env: Record<string, string> = {}): Promise<TestKeyService & { url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const ks = await startKeyService(opened, { PUBLIC_URL: url, ...env });
  await ks.app.listen({ port, host: '127.0.0.1' });
  return { ...ks, url };
}

/** Creates a profile and provisions a gateway credential for it, through the services. */
export async function provisionProfile(ks: TestKeyService, name: string, settings: object = {}): Promise<string> {
  await ks.services.profiles.create(ks.orgId, name, settings);
  return (await ks.services.credentials.provision(ks.orgId, name, 'gateway-admin@example.test')).token;
}
