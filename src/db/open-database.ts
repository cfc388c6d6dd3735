import fs from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { preparingClient } from './prepared-statements.ts';
import type { DB } from './schema.ts';

export type DatabaseKind = 'pglite' | 'postgres';

/**
 * One open database: the kysely handle that repositories use, plus the few things
 * that differ between the embedded engine and a PostgreSQL server.
 */
export interface Database {
  readonly kind: DatabaseKind;
  readonly db: Kysely<DB>;
  /**
   * Runs a multi-statement SQL script inside one transaction, holding a lock that keeps two
   * nodes from doing the same at once. `body` may run more statements on the same transaction.
   */
  runExclusive<T>(body: (tx: ExclusiveTx) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface ExclusiveTx {
  script(sqlText: string): Promise<void>;
  db: Kysely<DB>;
}

export type DatabaseTarget = { kind: 'pglite'; dataDir: string | null } | { kind: 'postgres'; url: string };

/** Arbitrary fixed key for pg_advisory_xact_lock: "waxseal" migrations. */
const MIGRATION_LOCK_KEY = 7_283_501;

export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  return target.kind === 'postgres' ? openPostgres(target.url) : openPglite(target.dataDir);
}

async function openPostgres(url: string): Promise<Database> {
  const int8 = 20;
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    // The service runs a few dozen distinct statements; these bounds leave room and cap the memory.
    Client: preparingClient({ maxNames: 2000, maxPerConnection: 500 }),
    // Counts and byte sizes stay far below 2^53, so numbers are safe and match PGlite.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === int8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its server (restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return {
    kind: 'postgres',
    db,
    async runExclusive(body) {
      return db.transaction().execute(async (trx) => {
        await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(trx);
        return body({
          db: trx,
          // An empty parameter list makes pg use the simple query protocol, which runs many statements.
          script: async (text) => {
            await sql.raw(text).execute(trx);
          },
        });
      });
    },
    async ping() {
      await sql`SELECT 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}

export class DatabaseInUseError extends Error {
  constructor(dataDir: string, pid: number) {
    super(
      `the embedded database in ${dataDir} is in use by process ${pid} (probably the running key service); ` +
        'stop it first, or use the HTTP API while it runs',
    );
    this.name = 'DatabaseInUseError';
  }
}

/**
 * The embedded database is a folder that exactly one process may have open: a second one
 * (a CLI command beside the running service) would see a stale copy and its writes would be
 * lost. A lock file holding the owner's pid enforces that; a lock left by a dead process is
 * taken over.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const lockFile = path.join(dataDir, 'waxseal.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(lockFile, String(process.pid), { flag: 'wx', mode: 0o600 });
      return async () => {
        await fs.rm(lockFile, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await fs.readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) throw new DatabaseInUseError(dataDir, pid);
      await fs.rm(lockFile, { force: true });
    }
  }
  throw new Error(`cannot take the lock ${lockFile}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function openPglite(dataDir: string | null): Promise<Database> {
  let unlock = async () => {};
  if (dataDir !== null) {
    await fs.mkdir(dataDir, { recursive: true });
    unlock = await lockDataDir(dataDir);
  }
  let pglite: PGlite;
  try {
    pglite = dataDir === null ? new PGlite() : new PGlite(dataDir);
    await pglite.waitReady;
  } catch (err) {
    await unlock();
    throw err;
  }
  const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) });
  return {
    kind: 'pglite',
    db,
    async runExclusive(body) {
      // PGlite is one connection behind a mutex and the data folder is locked to this process,
      // so only this process can be here; a kysely
      // transaction gives the single connection to the body, and exec() on the raw handle
      // would deadlock behind it. Run the script through kysely's connection instead:
      // PGlite's query() accepts one statement, so split on the migration files' statement
      // terminator instead of relying on the simple protocol.
      return db.transaction().execute(async (trx) =>
        body({
          db: trx,
          script: async (text) => {
            for (const statement of splitStatements(text)) await sql.raw(statement).execute(trx);
          },
        }),
      );
    },
    async ping() {
      await sql`SELECT 1`.execute(db);
    },
    async close() {
      try {
        await db.destroy();
        if (!pglite.closed) await pglite.close();
      } finally {
        await unlock();
      }
    },
  };
}

/**
 * Splits a migration file into statements at semicolons that end a line. Migration files
 * are ours: one statement per `;`-terminated line block, no semicolons inside literals
 * or function bodies at line ends. A test runs every migration on both engines.
 */
export function splitStatements(text: string): string[] {
  const withoutComments = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n');
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
