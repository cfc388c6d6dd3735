import t from 'tap';
import { sql } from 'kysely';
import pg from 'pg';
import { preparingClient } from '../../src/db/prepared-statements.ts';
import { engines } from '../helpers/databases.ts';

// Prepared statements are a PostgreSQL server's; PGlite runs in this process and is not involved.
const postgres = engines().find((e) => e.name === 'postgres')!;

t.test('on PostgreSQL', { skip: postgres.skip }, async (t) => {
  const opened = await postgres.open();
  t.teardown(() => opened.dispose());

  t.test("the service's statements with parameters are prepared once per connection and reused", async (t) => {
    const { db } = opened.database;
    await db.transaction().execute(async (tx) => {
      // One transaction, so one connection: the same statement three times, then what it prepared.
      for (const name of ['a', 'b', 'c']) {
        const row = await tx.selectFrom('accounts').select((eb) => eb.val(name).as('echo')).where('id', '=', '00000000-0000-0000-0000-000000000000').executeTakeFirst();
        t.equal(row, undefined);
        const echoed = await sql<{ echo: string }>`SELECT ${name}::text AS echo`.execute(tx);
        t.same(echoed.rows, [{ echo: name }], 'each call gets its own parameters');
      }
      const { rows } = await sql<{ statement: string; calls: number }>`SELECT statement, generic_plans + custom_plans AS calls FROM pg_prepared_statements ORDER BY statement`.execute(tx);
      t.same(rows.map((r) => r.statement).filter((s) => s.includes('echo')), [
        'SELECT $1::text AS echo',
        'select $1 as "echo" from "accounts" where "id" = $2',
      ], 'each text prepared once');
      t.ok(rows.filter((r) => r.statement.includes('echo')).every((r) => Number(r.calls) === 3), 'and planned for each of its three calls');
    });
  });

  t.test('names and prepared statements are bounded; the rest run unnamed and still work', async (t) => {
    const pool = new pg.Pool({ connectionString: opened.url!, max: 1, Client: preparingClient({ maxNames: 3, maxPerConnection: 2 }) });
    t.teardown(() => pool.end());
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 5; i++) {
        const { rows } = await pool.query(`SELECT $1::int + ${i} AS n`, [round]);
        t.same(rows, [{ n: round + i }]);
      }
    }
    const prepared = await pool.query('SELECT statement FROM pg_prepared_statements ORDER BY statement');
    t.same(prepared.rows.map((r) => r.statement), ['SELECT $1::int + 0 AS n', 'SELECT $1::int + 1 AS n'], 'two on this connection, the first two seen');

    await t.rejects(pool.query('SELEC $1::int', [1]), /syntax error/, 'a statement that does not parse fails as it would unnamed');
    t.same((await pool.query('SELECT $1::int AS n', [7])).rows, [{ n: 7 }], 'and the connection goes on');
    t.same(((await pool.query('SELECT 1 AS a; SELECT 2 AS b')) as unknown as pg.QueryResult[]).map((r) => r.rows), [[{ a: 1 }], [{ b: 2 }]], 'a script without parameters still runs as several statements');
  });
});
