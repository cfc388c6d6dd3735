import path from 'node:path';
import type { Config } from './config.ts';
import { loadKeyRing, type KeyRing } from './crypto/kek.ts';
import { openDatabase, type Database } from './db/open-database.ts';
import { migrate } from './db/migrate.ts';
import { createFilePayloadStore } from './domain/payloads/payload-store.ts';
import { createServices, type Services } from './services.ts';
import { createPassphraseHasher } from './crypto/passphrases.ts';

import { MIGRATIONS_DIR } from './paths.ts';

export interface Runtime {
  database: Database;
  keyRing: KeyRing;
  services: Services;
  kekCreated: boolean;
  migrated: number[];
  close(): Promise<void>;
}

/** Opens everything the key service and the CLI share: database (migrated), key ring, services. */
export async function openRuntime(config: Config): Promise<Runtime> {
  const { ring, created } = await loadKeyRing(config.kek);
  const database = await openDatabase(
    config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'pglite', dataDir: path.join(config.dataDir, 'pglite') },
  );
  try {
    const migrated = await migrate(database, MIGRATIONS_DIR);
    const payloads = createFilePayloadStore(path.join(config.dataDir, 'payloads'));
    const services = createServices({
      database,
      keyRing: ring,
      payloads,
      mail: { smtpUrl: config.smtpUrl, from: config.mailFrom },
      publicUrl: config.publicUrl,
      hasher: createPassphraseHasher({ maxConcurrent: config.hashConcurrency }),
    });
    const close = async () => {
      await services.mail.close();
      await database.close();
    };
    return { database, keyRing: ring, services, kekCreated: created, migrated, close };
  } catch (err) {
    await database.close();
    throw err;
  }
}
