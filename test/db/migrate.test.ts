import { sql } from 'kysely';
import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/db/open-database.ts';
import { migrate, readMigrations } from '../../src/db/migrate.ts';
import { MIGRATIONS_DIR } from '../../src/paths.ts';
import { createPostgresDatabase, engines } from '../helpers/databases.ts';

t.test('migration files are numbered and unique', async (t) => {
  const files = await readMigrations(MIGRATIONS_DIR);
  t.ok(files.length >= 1);
  t.same(files.map((f) => f.version), files.map((_, i) => i + 1), 'versions are 1..n without gaps');
});

t.test('bad file names are refused', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-mig-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.writeFile(path.join(dir, 'init.sql'), 'SELECT 1;');
  await t.rejects(readMigrations(dir), /0001_name\.sql/);
});

for (const engine of engines()) {
  t.test(`migrations on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    t.teardown(() => opened.dispose());
    t.same(await migrate(opened.database, MIGRATIONS_DIR), [], 'a second run applies nothing');
    const tables = await opened.database.db.introspection.getTables();
    for (const name of ['organisations', 'users', 'api_tokens', 'profiles', 'gateway_credentials', 'envelopes', 'schema_migrations']) {
      t.ok(tables.some((x) => x.name === name), `table ${name} exists`);
    }
    // docs/accounts.md: the attempt counters stay out of the write-ahead log, and only they do.
    const unlogged = await sql<{ relname: string }>`SELECT relname FROM pg_class WHERE relpersistence = 'u' AND relkind = 'r' ORDER BY relname`.execute(opened.database.db);
    t.same(unlogged.rows.map((r) => r.relname), ['auth_throttle'], 'auth_throttle is the one unlogged table');
  });
}

t.test('two nodes starting at once on PostgreSQL apply each migration once', { skip: engines()[1]!.skip }, async (t) => {
  const created = await createPostgresDatabase(process.env.TEST_DATABASE_URL!);
  const a = await openDatabase({ kind: 'postgres', url: created.url });
  const b = await openDatabase({ kind: 'postgres', url: created.url });
  t.teardown(async () => {
    await a.close();
    await b.close();
    await created.drop();
  });
  const [ra, rb] = await Promise.all([migrate(a, MIGRATIONS_DIR), migrate(b, MIGRATIONS_DIR)]);
  const all = (await readMigrations(MIGRATIONS_DIR)).map((f) => f.version);
  t.same([...ra, ...rb].sort(), all, 'every migration applied exactly once between the two');
  t.ok(ra.length === 0 || rb.length === 0, 'one node did all the work, the other waited and found nothing to do');
});

t.test('a database migrated by a newer release is refused', async (t) => {
  const database = await openDatabase({ kind: 'pglite', dataDir: null });
  t.teardown(() => database.close());
  await migrate(database, MIGRATIONS_DIR);
  await database.db.insertInto('schema_migrations').values({ version: 999, name: 'future' }).execute();
  await t.rejects(migrate(database, MIGRATIONS_DIR), /newer release/);
});
