import t from 'tap';
import { randomBytes } from 'node:crypto';
import type { Insertable } from 'kysely';
import type { EnvelopesTable } from '../../src/db/schema.ts';
import { createInsertBatcher } from '../../src/domain/envelopes/insert-batcher.ts';
import { engines } from '../helpers/databases.ts';
import { errorOf } from '../helpers/errors.ts';
import { sampleUpload, servicesWithGateway } from '../helpers/services.ts';

const upload = (subject: string) => sampleUpload(subject);

for (const engine of engines()) {
  t.test(`uploads arriving together on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    t.teardown(() => opened.dispose());
    const { services, orgId, principal } = await servicesWithGateway(t.teardown.bind(t), opened);
    const init = { orgId };

    t.test('many at once: each stored once, each told the truth', async (t) => {
      const ids = Array.from({ length: 150 }, () => randomBytes(16).toString('base64url'));
      const results = await Promise.all(ids.map((id, i) => services.envelopes.store(principal, id, upload(`s${i}`))));
      t.ok(results.every((r) => r.created), 'all 150 created (more than one batch)');
      for (const [i, id] of ids.entries()) t.equal((await services.envelopes.get(id))!.subject, `s${i}`);
    });

    t.test('the same id twice in one batch: same body is one envelope, a different body is refused', async (t) => {
      const id = randomBytes(16).toString('base64url');
      const body = upload('same');
      const [a, b] = await Promise.all([services.envelopes.store(principal, id, body), services.envelopes.store(principal, id, body)]);
      t.same([a.created, b.created].sort(), [false, true], 'one created, the repeat recognised');
      const id2 = randomBytes(16).toString('base64url');
      const settled = await Promise.allSettled([services.envelopes.store(principal, id2, upload('one')), services.envelopes.store(principal, id2, upload('two'))]);
      t.equal(settled.filter((s) => s.status === 'fulfilled').length, 1, 'one wins');
      const lost = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult;
      t.equal((lost.reason as { code?: string }).code, 'conflict', 'the other is a conflict');
    });

    t.test('one bad row does not fail the rows batched with it', async (t) => {
      const batcher = createInsertBatcher(opened.database.db);
      const profile = await services.profiles.get(init.orgId, 'P');
      const row = (id: string, level: string): Insertable<EnvelopesTable> => ({
        id,
        org_id: init.orgId,
        profile_id: profile.id,
        credential_id: principal.credentialId,
        sender: 'a@example.test',
        subject: null,
        security_level: level as 'high',
        locale: 'en',
        algorithm: 'aes-256-gcm',
        flags: '{}',
        payload_transport: 'inline',
        payload_digest: 'a'.repeat(64),
        payload_size: 1,
        wrapped_share: randomBytes(60),
        kek_version: 1,
        request_digest: randomBytes(32),
        recipients_to: ['b@example.test'],
        recipients_cc: [],
        recipients_bcc: [],
      });
      const good1 = randomBytes(16).toString('base64url');
      const good2 = randomBytes(16).toString('base64url');
      const [r1, bad, r2] = await Promise.all([
        batcher.insert(row(good1, 'high')),
        errorOf(batcher.insert(row(randomBytes(16).toString('base64url'), 'bogus'))),
        batcher.insert(row(good2, 'medium')),
      ]);
      t.equal(r1, true);
      t.equal(r2, true);
      t.match(bad.message, /check constraint|violates/i, 'the bad row gets its own error');
      t.ok(await services.envelopes.get(good1));
      t.ok(await services.envelopes.get(good2));
    });
  });
}

t.test('a retry after a short expiration has passed is still the same envelope', async (t) => {
  const engine = engines()[0]!;
  const opened = await engine.open();
  t.teardown(() => opened.dispose());
  let clock = Date.now();
  const { services, principal } = await servicesWithGateway(t.teardown.bind(t), opened, { now: () => new Date(clock) });
  const id = randomBytes(16).toString('base64url');
  const body = { ...upload('short'), expiresAt: new Date(clock + 60_000).toISOString() };
  t.equal((await services.envelopes.store(principal, id, body)).created, true);
  clock += 120_000;
  t.equal((await services.envelopes.store(principal, id, body)).created, false, 'the repeat is recognised, not refused');
  t.equal((await errorOf(services.envelopes.store(principal, id, { ...body, subject: 'other' }))).code, 'conflict');
  t.equal((await errorOf(services.envelopes.store(principal, randomBytes(16).toString('base64url'), body))).code, 'invalid', 'a new envelope may not expire in the past');
});
