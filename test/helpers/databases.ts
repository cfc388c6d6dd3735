import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/open-database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { MIGRATIONS_DIR } from '../../src/paths.ts';

/**
 * Every database test runs once per engine. Each test file gets its own database: a fresh
 * PGlite in a temp folder, and a freshly created PostgreSQL database (dropped afterwards).
 * Without TEST_DATABASE_URL the PostgreSQL run is skipped with a loud reason, except under
 * CI=true, where a missing PostgreSQL fails the run.
 */
export interface Engine {
  name: 'pglite' | 'postgres';
  /** Set when this engine cannot run here; tests pass it as tap's `skip` option. */
  skip: string | false;
  open(): Promise<OpenedDatabase>;
}

export interface OpenedDatabase {
  database: Database;
  /** PostgreSQL only: the URL of this test's own database (for a second connection, pg_dump). */
  url: string | null;
  /** PGlite only: the data folder. */
  dataDir: string | null;
  dispose(): Promise<void>;
}

export function engines(): Engine[] {
  const url = process.env.TEST_DATABASE_URL;
  const ci = process.env.CI === 'true';
  let pgSkip: string | false = false;
  if (!url) {
    if (ci) throw new Error('CI=true but TEST_DATABASE_URL is not set: the PostgreSQL suites must run in CI');
    pgSkip = 'PostgreSQL tests DID NOT RUN: set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)';
    process.stderr.write(`\n*** ${pgSkip} ***\n\n`);
  }
  return [
    { name: 'pglite', skip: false, open: openPgliteForTest },
    { name: 'postgres', skip: pgSkip, open: () => openPostgresForTest(url!) },
  ];
}

async function openPgliteForTest(): Promise<OpenedDatabase> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-pglite-'));
  const database = await openDatabase({ kind: 'pglite', dataDir });
  await migrate(database, MIGRATIONS_DIR);
  return {
    database,
    url: null,
    dataDir,
    async dispose() {
      try {
        await database.close();
      } finally {
        await fs.rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

export async function createPostgresDatabase(adminUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `waxseal_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

async function openPostgresForTest(adminUrl: string): Promise<OpenedDatabase> {
  const created = await createPostgresDatabase(adminUrl);
  const database = await openDatabase({ kind: 'postgres', url: created.url });
  await migrate(database, MIGRATIONS_DIR);
  return {
    database,
    url: created.url,
    dataDir: null,
    async dispose() {
      try {
        await database.close();
      } finally {
        await created.drop();
      }
    },
  };
}
