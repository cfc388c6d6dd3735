import { randomBytes } from 'node:crypto';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createKeyRing } from '../../src/crypto/kek.ts';
import type { Database } from '../../src/db/open-database.ts';
import { createFilePayloadStore } from '../../src/domain/payloads/payload-store.ts';
import { createServices } from '../../src/services.ts';

/** The OpenAPI document as the app generates it, for the public address in the docs. */
export async function generateOpenApi(database: Database): Promise<string> {
  const config = loadConfig({ PUBLIC_URL: 'https://keys.example.org', LOG_LEVEL: 'silent', DATA_DIR: '/nonexistent' });
  const services = createServices({ database, keyRing: createKeyRing(new Map([[1, randomBytes(32)]])), payloads: createFilePayloadStore('/nonexistent') });
  const app = await buildApp({ config, database, services });
  await app.ready();
  const doc = JSON.stringify(app.swagger(), null, 2) + '\n';
  await app.close();
  return doc;
}
