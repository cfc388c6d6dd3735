// Read-by notifications as a job on the database: sent once, not sent for what was opened or
// locked, surviving a worker that stopped mid-way, and never twice with two workers (on
// PostgreSQL, two workers with their own connection pools, as two nodes would have).

import { randomBytes } from 'node:crypto';
import t from 'tap';
import { openDatabase } from '../../src/db/open-database.ts';
import { createMailService } from '../../src/domain/mail/mail-service.ts';
import { createReadByNotices } from '../../src/domain/notices/read-by-notices.ts';
import { claimDue } from '../../src/domain/notices/read-by-repository.ts';
import { createI18n } from '../../src/i18n/create-i18n.ts';
import { LOCALES_DIR } from '../../src/paths.ts';
import { engines } from '../helpers/databases.ts';
import { sampleUpload, servicesWithGateway } from '../helpers/services.ts';

const id = () => randomBytes(16).toString('base64url');
const i18n = createI18n(LOCALES_DIR);

for (const engine of engines()) {
  t.test(`read-by notifications (${engine.name})`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    t.teardown(() => opened.dispose());
    let clock = Date.parse('2026-11-28T09:00:00Z');
    const now = () => new Date(clock);
    const { services, principal } = await servicesWithGateway(t.teardown.bind(t), opened, { now });
    const db = opened.database.db;
    const notices = () => services.mail.listOutbox(1000).then((list) => list.filter((m) => /^Not read yet/.test(m.subject)));
    const worker = (name: string, database = db) => createReadByNotices({ db: database, mail: createMailService({ db: database, smtpUrl: null, from: 'keys@example.test', now }), i18n, worker: name, now });

    async function envelope(subject: string, recipients = ['b@example.test', 'c@example.test']) {
      const envelopeId = id();
      const upload = { ...sampleUpload(subject), securityLevel: 'medium' as const, recipients: { to: recipients, cc: [], bcc: [] }, readBy: new Date(clock + 3600_000).toISOString() };
      await services.envelopes.store(principal, envelopeId, upload);
      return envelopeId;
    }

    await t.test('once the read-by date passes, the sender is told once, naming who has not opened it', async (t) => {
      const envelopeId = await envelope('Contract');
      await services.releases.release({ envelopeId, opener: { session: { accountId: '00000000-0000-4000-8000-000000000001', passphraseAt: now() }, addresses: ['b@example.test'] }, openedAt: now(), mode: 'applet', ip: null });
      const w = worker('w1');
      t.equal(await w.sweep(), 0, 'nothing before the read-by date');
      clock += 3601_000;
      t.equal(await w.sweep(), 1, 'one notice after it');
      t.equal(await w.sweep(), 0, 'and not again');
      const list = await notices();
      t.equal(list.length, 1);
      t.equal(list[0]!.to, 'a@example.test', 'to the sender');
      const raw = (await services.mail.readOutbox(list[0]!.id))!.toString();
      t.match(raw, /c@example\.test/, 'names the recipient who has not opened it');
      t.notMatch(raw.split('\r\n\r\n').slice(1).join(''), /b@example\.test/, 'not the one who has');
      t.match(raw, /Auto-Submitted: auto-generated/);
    });

    await t.test('nothing for an envelope everyone opened, or one the sender locked', async (t) => {
      const all = await envelope('All read', ['b@example.test']);
      await services.releases.release({ envelopeId: all, opener: { session: { accountId: '00000000-0000-4000-8000-000000000001', passphraseAt: now() }, addresses: ['b@example.test'] }, openedAt: now(), mode: 'applet', ip: null });
      const locked = await envelope('Locked');
      await db.updateTable('envelopes').set({ locked_at: now(), lock_reason: 'wrong person' }).where('id', '=', locked).execute();
      const before = (await notices()).length;
      clock += 3601_000;
      await worker('w1').sweep();
      t.equal((await notices()).length, before, 'no notice');
      const row = await db.selectFrom('envelopes').select(['read_by_notified_at']).where('id', '=', all).executeTakeFirstOrThrow();
      t.ok(row.read_by_notified_at, 'the opened one is done with, without a notice');
    });

    await t.test('a worker that stopped after claiming: after the claim times out, another sends it, once', async (t) => {
      const envelopeId = await envelope('Stopped worker');
      clock += 3601_000;
      const claimed = await claimDue(db, 'crashed', now(), new Date(clock - 300_000), 50);
      t.same(claimed.map((c) => c.id), [envelopeId], 'the crashed worker had claimed it');
      const before = (await notices()).length;
      const restarted = worker('w2');
      t.equal(await restarted.sweep(), 0, 'a live claim is respected');
      clock += 301_000;
      t.equal(await restarted.sweep(), 1, 'a stale claim is taken over');
      t.equal(await restarted.sweep(), 0);
      t.equal((await notices()).length, before + 1);
    });

    await t.test('two workers sweeping at once send each notice once', async (t) => {
      const second = opened.url ? await openDatabase({ kind: 'postgres', url: opened.url }) : null;
      t.teardown(() => second?.close());
      const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => envelope(`Batch ${i}`)));
      clock += 3601_000;
      const before = (await notices()).length;
      const a = worker('a');
      const b = worker('b', second?.db ?? db);
      const [sentA, sentB] = await Promise.all([a.sweep(), b.sweep()]);
      t.equal(sentA + sentB, 30, `30 notices between them (${sentA} + ${sentB})`);
      const list = await notices();
      t.equal(list.length, before + 30, 'exactly one per envelope');
      const rows = await db.selectFrom('envelopes').select(['id', 'read_by_notified_at']).where('id', 'in', ids).execute();
      t.ok(rows.every((r) => r.read_by_notified_at), 'every envelope is marked');
    });
  });
}
