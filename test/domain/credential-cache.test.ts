import t from 'tap';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createKeyRing } from '../../src/crypto/kek.ts';
import { createFilePayloadStore } from '../../src/domain/payloads/payload-store.ts';
import { createServices } from '../../src/services.ts';
import { engines } from '../helpers/databases.ts';

for (const engine of engines()) {
  t.test(`a revoked credential stops working at once on this node (${engine.name})`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-cache-'));
    t.teardown(async () => {
      await opened.dispose();
      await fs.rm(dir, { recursive: true, force: true });
    });
    const services = createServices({ database: opened.database, keyRing: createKeyRing(new Map([[1, randomBytes(32)]])), payloads: createFilePayloadStore(dir) });
    const init = await services.admins.initialise({ organisation: 'Org', email: 'admin@example.test' });
    await services.profiles.create(init.orgId, 'P');
    for (let round = 0; round < 10; round++) {
      const { token, credential } = await services.credentials.provision(init.orgId, 'P', 'gw@example.test');
      t.ok(await services.credentials.authenticate(token), 'valid before');
      // An authentication in flight while the credential is rotated must not re-cache it.
      await Promise.all([services.credentials.authenticate(token), services.credentials.rotate(init.orgId, credential.id)]);
      t.equal(await services.credentials.authenticate(token), null, `round ${round}: refused right after rotation`);
      const next = await services.credentials.provision(init.orgId, 'P', 'gw@example.test');
      await Promise.all([services.credentials.authenticate(next.token), services.credentials.revoke(init.orgId, next.credential.id)]);
      t.equal(await services.credentials.authenticate(next.token), null, `round ${round}: refused right after revocation`);
    }
  });
}
