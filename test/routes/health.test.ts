import t from 'tap';
import pg from 'pg';
import { engines } from '../helpers/databases.ts';
import { startKeyService } from '../helpers/key-service.ts';

for (const engine of engines()) {
  t.test(`readiness follows the database on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    const ks = await startKeyService(opened);
    t.teardown(async () => {
      await ks.close();
      await opened.dispose().catch(() => {});
    });
    t.equal((await ks.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);

    if (engine.name === 'postgres') {
      // A database restart drops every connection; the pool must replace them, not fail forever.
      const admin = new pg.Client({ connectionString: opened.url! });
      await admin.connect();
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
      await admin.end();
      await new Promise((r) => setTimeout(r, 200));
      const after = await ks.app.inject({ method: 'GET', url: '/readyz' });
      t.equal(after.statusCode, 200, 'ready again after the connections were cut');
    }

    await opened.database.close();
    const down = await ks.app.inject({ method: 'GET', url: '/readyz' });
    t.equal(down.statusCode, 503, 'not ready without a database');
    t.match(down.headers['content-type'], /application\/problem\+json/);
    t.equal(down.json().detail, 'The database is not reachable.');
    t.equal((await ks.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'but alive');
  });
}
