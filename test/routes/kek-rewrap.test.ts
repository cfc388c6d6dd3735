import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createKeyRing } from '../../src/crypto/kek.ts';
import { createFilePayloadStore } from '../../src/domain/payloads/payload-store.ts';
import type { EnvelopeUpload } from '../../src/domain/envelopes/envelope-types.ts';
import { createServices } from '../../src/services.ts';
import { engines } from '../helpers/databases.ts';

const upload = (): EnvelopeUpload => ({
  serverShare: randomBytes(32).toString('base64url'),
  sender: 'a@example.test',
  recipients: { to: ['b@example.test'], cc: [], bcc: [] },
  subject: null,
  securityLevel: 'high',
  expiresAt: null,
  readBy: null,
  flags: { replyEnabled: true, replyAllEnabled: false, forwardEnabled: false, sendReturnReceipt: false, suppressAppletForOpen: false, useScript: true, rememberEnvelopeKeyCheckbox: false },
  locale: 'en',
  algorithm: 'aes-256-gcm',
  payload: { transport: 'inline', digest: createHash('sha256').update('p').digest('hex'), size: 100 },
});

for (const engine of engines()) {
  t.test(`KEK rotation re-wraps in batches on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-rewrap-'));
    t.teardown(async () => {
      await opened.dispose();
      await fs.rm(dir, { recursive: true, force: true });
    });
    const k1 = randomBytes(32);
    const payloads = createFilePayloadStore(dir);
    const before = createServices({ database: opened.database, keyRing: createKeyRing(new Map([[1, k1]])), payloads });
    const init = await before.admins.initialise({ organisation: 'Org', email: 'admin@example.test' });
    await before.profiles.create(init.orgId, 'P');
    const { token } = await before.credentials.provision(init.orgId, 'P', 'gw@example.test');
    const principal = (await before.credentials.authenticate(token))!;
    const shares = new Map<string, string>();
    for (let i = 0; i < 7; i++) {
      const id = randomBytes(16).toString('base64url');
      const u = upload();
      await before.envelopes.store(principal, id, u);
      shares.set(id, u.serverShare);
    }
    t.same((await before.envelopes.kekStatus()).shares, [{ version: 1, count: 7 }]);

    const after = createServices({ database: opened.database, keyRing: createKeyRing(new Map([[1, k1], [2, randomBytes(32)]])), payloads });
    t.equal(await after.envelopes.rewrapBatch(3), 3, 'a batch is bounded');
    t.same((await after.envelopes.kekStatus()).shares, [{ version: 1, count: 4 }, { version: 2, count: 3 }]);
    t.equal(await after.envelopes.rewrapBatch(3), 3);
    t.equal(await after.envelopes.rewrapBatch(3), 1);
    t.equal(await after.envelopes.rewrapBatch(3), 0, 'nothing left');
    t.same((await after.envelopes.kekStatus()).shares, [{ version: 2, count: 7 }]);
    for (const [id, share] of shares) {
      t.equal((await after.envelopes.serverShare(id))!.toString('base64url'), share, 'share intact after re-wrap');
    }
    await t.rejects(before.envelopes.serverShare([...shares.keys()][0]!), /not in the key ring/, 'the old ring alone no longer opens re-wrapped shares');
  });
}
