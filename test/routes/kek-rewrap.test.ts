import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createKeyRing } from '../../src/crypto/kek.ts';
import { createFilePayloadStore } from '../../src/domain/payloads/payload-store.ts';
import { createServices } from '../../src/services.ts';
import { engines } from '../helpers/databases.ts';
import { sampleUpload, servicesWithGateway } from '../helpers/services.ts';


for (const engine of engines()) {
  t.test(`KEK rotation re-wraps in batches on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    t.teardown(() => opened.dispose());
    const k1 = randomBytes(32);
    const setup = await servicesWithGateway(t.teardown.bind(t), opened, { keyRing: createKeyRing(new Map([[1, k1]])) });
    const { principal, services: before } = setup;
    const payloads = createFilePayloadStore(setup.payloadDir);
    const shares = new Map<string, string>();
    for (let i = 0; i < 7; i++) {
      const id = randomBytes(16).toString('base64url');
      const u = sampleUpload();
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
