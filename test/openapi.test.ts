import t from 'tap';
import fs from 'node:fs/promises';
import path from 'node:path';
import { openDatabase } from '../src/db/open-database.ts';
import { generateOpenApi } from './helpers/openapi.ts';

// docs/openapi.json is what readers of the repository see; it must be what the service serves.
// Regenerate with: UPDATE_OPENAPI=1 npx tap test/openapi.test.ts
t.test('docs/openapi.json matches the API', async (t) => {
  const database = await openDatabase({ kind: 'pglite', dataDir: null });
  t.teardown(() => database.close());
  const generated = await generateOpenApi(database);
  const file = path.resolve(import.meta.dirname, '../docs/openapi.json');
  if (process.env.UPDATE_OPENAPI === '1') await fs.writeFile(file, generated);
  const committed = await fs.readFile(file, 'utf8').catch(() => '');
  t.ok(committed === generated, 'docs/openapi.json is up to date (UPDATE_OPENAPI=1 regenerates it)');
});
