import { PassThrough, Readable } from 'node:stream';
import { sql } from 'kysely';
import t from 'tap';
import { chainHash, GENESIS, canonicalRecord } from '../../src/domain/audit/audit-chain.ts';
import { engines } from '../helpers/databases.ts';
import { startKeyService } from '../helpers/key-service.ts';

t.test('canonical form: key order and driver do not change the hash', async (t) => {
  const base = { seq: 1, orgId: null, at: new Date('2026-11-28T10:00:00.123Z'), actor: 'system', action: 'x', subject: null };
  const a = chainHash(GENESIS, { ...base, detail: { b: 1, a: { d: 2, c: 3 } } });
  const b = chainHash(GENESIS, { ...base, detail: { a: { c: 3, d: 2 }, b: 1 } });
  t.same(a, b);
  t.notSame(chainHash(GENESIS, { ...base, detail: { a: 1 } }), chainHash(GENESIS, { ...base, detail: { a: 2 } }), 'content changes the hash');
  t.match(canonicalRecord({ ...base, detail: {} }), /2026-11-28T10:00:00.123Z/);
});

for (const engine of engines()) {
  t.test(`the audit chain (${engine.name})`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    const ks = await startKeyService(opened);
    t.teardown(async () => {
      await ks.close();
      await opened.dispose();
    });
    const { audit, profiles, credentials } = ks.services;

    await profiles.create(ks.orgId, 'Audited', {});
    await profiles.update(ks.orgId, 'Audited', { readReceipts: false });
    const issued = await credentials.provision(ks.orgId, 'Audited', 'it@example.test');
    await credentials.revoke(ks.orgId, issued.credential.id);
    // Concurrent appends share transactions and still form one chain.
    await Promise.all(Array.from({ length: 50 }, (_, i) => audit.record({ orgId: ks.orgId, actor: 'system', action: 'test.concurrent', subject: String(i), detail: { i } })));

    const listed = await audit.list({ orgId: ks.orgId, limit: 1000 });
    t.same(
      listed.slice(0, 5).map((r) => r.action),
      ['organisation.create', 'profile.create', 'profile.update', 'credential.provision', 'credential.revoke'],
      'administrative changes are recorded in order',
    );
    t.same(listed[2]!.detail, { changed: ['readReceipts'] }, 'which settings changed, not their values');
    t.equal(listed.length, 55);
    t.same((await audit.list({ orgId: ks.orgId, action: 'credential.revoke', limit: 10 })).map((r) => r.subject), [issued.credential.id], 'filter by action');

    // Release attempts are chained a moment after they are written (here: by verify itself).
    const db = opened.database.db;
    await db.insertInto('release_events').values([0, 1, 2].map((i) => ({ envelope_id: `E${i}`, account_id: null, address: null, at: new Date(), ip: '192.0.2.1', mode: 'applet' as const, result: 'unknown' as const }))).execute();
    const verdict = await audit.verify({ pageSize: 7 });
    t.ok(verdict.ok, 'an untouched chain verifies');
    t.equal(verdict.records, 58, 'with the three release attempts chained');
    t.equal(await audit.catchUp(), 0, 'each attempt is chained once');
    const changeEvent = await sql`UPDATE release_events SET result = 'released'`.execute(db).then(
      () => null,
      (e: Error) => e,
    );
    t.match(changeEvent?.message, /append-only/, 'release attempts cannot be changed either');

    const update = await sql`UPDATE audit_records SET actor = 'someone else' WHERE seq = 3`.execute(db).then(
      () => null,
      (e: Error) => e,
    );
    t.match(update?.message, /append-only/, 'the database refuses an UPDATE');
    const del = await sql`DELETE FROM audit_records WHERE seq = 3`.execute(db).then(
      () => null,
      (e: Error) => e,
    );
    t.match(del?.message, /append-only/, 'and a DELETE');

    // Someone with the database's owner rights switches the trigger off and edits a record.
    await sql`ALTER TABLE audit_records DISABLE TRIGGER audit_records_no_change`.execute(db);
    await sql`UPDATE audit_records SET detail = '{"changed":["nothing"]}'::jsonb WHERE seq = 3`.execute(db);
    const tampered = await audit.verify({ pageSize: 7 });
    t.notOk(tampered.ok, 'a changed record is detected');
    t.equal(!tampered.ok && tampered.seq, 3, 'and named');

    // The command says so too, with exit code 1.
    const { runCli } = await import('../../src/cli/main.ts');
    if (engine.name === 'postgres') {
      const out = new PassThrough();
      const err = new PassThrough();
      let stderr = '';
      err.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await runCli(['audit', 'verify'], { env: { DATABASE_URL: opened.url!, DATA_DIR: ks.dataDir, WAXSEAL_KEK: `1:${Buffer.alloc(32, 1).toString('base64')}` }, stdin: Readable.from([]), stdout: out, stderr: err });
      t.equal(code, 1, 'waxseal audit verify fails');
      t.match(stderr, /record 3 was changed/);
    }

    await sql`DELETE FROM audit_records WHERE seq = 58`.execute(db);
    await sql`UPDATE audit_records SET detail = ${JSON.stringify(listed[2]!.detail)}::jsonb WHERE seq = 3`.execute(db);
    const cut = await audit.verify();
    t.notOk(cut.ok, 'a removed last record is detected through the head');
    t.match(!cut.ok && cut.problem, /removed from the end/);
  });
}
