import fs from 'node:fs/promises';
import path from 'node:path';
import type { Database } from './open-database.ts';

export interface MigrationFile {
  version: number;
  name: string;
  sql: string;
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const names = (await fs.readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  const files: MigrationFile[] = [];
  for (const fileName of names) {
    const m = FILE_PATTERN.exec(fileName);
    if (!m) throw new Error(`migrations/${fileName}: name must look like 0001_name.sql`);
    const version = Number(m[1]);
    if (files.length > 0 && files[files.length - 1]!.version === version) {
      throw new Error(`migrations/${fileName}: version ${version} is used twice`);
    }
    files.push({ version, name: m[2]!, sql: await fs.readFile(path.join(dir, fileName), 'utf8') });
  }
  return files;
}

/**
 * Applies, in order, every migration not yet recorded. Forward-only. The whole run holds a
 * transaction-scoped lock, so when two nodes start together the second waits and then finds
 * nothing left to do. Returns the versions it applied.
 */
export async function migrate(database: Database, dir: string): Promise<number[]> {
  const files = await readMigrations(dir);
  return database.runExclusive(async (tx) => {
    await tx.script(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const rows = await tx.db.selectFrom('schema_migrations').select(['version']).execute();
    const applied = new Set(rows.map((r) => r.version));
    const known = new Set(files.map((f) => f.version));
    const unknown = [...applied].filter((v) => !known.has(v));
    if (unknown.length > 0) {
      throw new Error(
        `the database has migrations this version does not know (${unknown.join(', ')}); it was migrated by a newer release`,
      );
    }
    const done: number[] = [];
    for (const file of files) {
      if (applied.has(file.version)) continue;
      await tx.script(file.sql);
      await tx.db.insertInto('schema_migrations').values({ version: file.version, name: file.name }).execute();
      done.push(file.version);
    }
    return done;
  });
}
