import { randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import { engines } from '../helpers/databases.ts';
import { sampleUpload, servicesWithGateway } from '../helpers/services.ts';

const id = () => randomBytes(16).toString('base64url');

for (const engine of engines()) {
  t.test(`release point on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    t.teardown(() => opened.dispose());
    const { services, principal } = await servicesWithGateway(t.teardown.bind(t), opened);
    const accountId = randomUUID();
    const recipient = { session: { accountId, passphraseAt: new Date() }, addresses: ['b@example.test'] };
    const openedAt = new Date(Date.now() - 1000);

    t.test('a recipient gets the share; every attempt is recorded; the receipt goes once', async (t) => {
      const envelopeId = id();
      const upload = { ...sampleUpload('Quarterly figures'), securityLevel: 'medium' as const };
      upload.flags = { ...upload.flags, sendReturnReceipt: true };
      await services.envelopes.store(principal, envelopeId, upload);

      const outsider = await services.releases.release({
        envelopeId,
        opener: { session: { accountId: randomUUID(), passphraseAt: new Date() }, addresses: ['mallory@example.test'] },
        openedAt,
        mode: 'applet',
        ip: '203.0.113.9',
      });
      t.match(outsider, { ok: false, reason: 'not_recipient' });
      t.notOk('serverShare' in outsider, 'nothing released to another account');

      const first = await services.releases.release({ envelopeId, opener: recipient, openedAt, mode: 'applet', ip: '198.51.100.7' });
      t.ok(first.ok);
      if (first.ok) t.equal(first.serverShare.toString('base64url'), upload.serverShare, 'the share the gateway uploaded');
      const again = await services.releases.release({ envelopeId, opener: recipient, openedAt, mode: 'server', ip: '198.51.100.7' });
      t.ok(again.ok);

      const events = await services.releases.events(envelopeId);
      t.same(
        events.map((e) => [e.result, e.mode, e.address, e.ip]),
        [
          ['not_recipient', 'applet', null, '203.0.113.9'],
          ['released', 'applet', 'b@example.test', '198.51.100.7'],
          ['released', 'server', 'b@example.test', '198.51.100.7'],
        ],
      );
      t.equal(events[1]!.account_id, accountId);
      const openings = await services.releases.openings(envelopeId);
      t.equal(openings.length, 1, 'one first opening per address');
      t.ok(openings[0]!.receipt_sent_at, 'the receipt is marked sent');

      const receipts = (await services.mail.listOutbox(100)).filter((m) => m.kind === 'receipt');
      t.equal(receipts.length, 1, 'exactly one read receipt for two openings');
      t.equal(receipts[0]!.to, 'a@example.test', 'to the sender');
      t.match(receipts[0]!.subject, /Read: Quarterly figures/);
      const raw = (await services.mail.readOutbox(receipts[0]!.id))!.toString('utf8');
      t.match(raw, /opened by b@example\.test/);
      t.match(raw, /Auto-Submitted: auto-generated/i);
    });

    t.test('no receipt unless the envelope asks for one', async (t) => {
      const envelopeId = id();
      const before = (await services.mail.listOutbox(100)).length;
      await services.envelopes.store(principal, envelopeId, { ...sampleUpload('no receipt'), securityLevel: 'medium' });
      t.ok((await services.releases.release({ envelopeId, opener: recipient, openedAt, mode: 'applet', ip: null })).ok);
      t.equal((await services.mail.listOutbox(100)).length, before);
    });

    t.test('locked and unknown envelopes are refused and recorded', async (t) => {
      const envelopeId = id();
      await services.envelopes.store(principal, envelopeId, { ...sampleUpload('locked'), securityLevel: 'medium' });
      await opened.database.db.updateTable('envelopes').set({ locked_at: new Date(), lock_reason: 'Sent to the wrong list' }).where('id', '=', envelopeId).execute();
      const locked = await services.releases.release({ envelopeId, opener: recipient, openedAt, mode: 'applet', ip: null });
      t.match(locked, { ok: false, reason: 'locked', envelope: { lockReason: 'Sent to the wrong list' } });
      const missing = id();
      t.match(await services.releases.release({ envelopeId: missing, opener: recipient, openedAt, mode: 'applet', ip: null }), { ok: false, reason: 'unknown' });
      t.same((await services.releases.events(missing)).map((e) => e.result), ['unknown']);
      await services.releases.recordTampered({ envelopeId, opener: recipient, mode: 'server', ip: null });
      t.same((await services.releases.events(envelopeId)).map((e) => e.result), ['locked', 'tampered']);
    });

    t.test('releases asked together (one read) each get their own envelope and share', async (t) => {
      const ids = [id(), id(), id()];
      const uploads = ids.map((_, i) => ({ ...sampleUpload(`together ${i}`), securityLevel: 'medium' as const }));
      for (const [i, envelopeId] of ids.entries()) await services.envelopes.store(principal, envelopeId, uploads[i]!);
      await opened.database.db.updateTable('envelopes').set({ locked_at: new Date(), lock_reason: 'recalled' }).where('id', '=', ids[2]!).execute();
      const missing = id();
      const asked = [ids[0]!, ids[1]!, missing, ids[2]!, ids[0]!];
      const results = await Promise.all(asked.map((envelopeId) => services.releases.release({ envelopeId, opener: recipient, openedAt, mode: 'applet', ip: null })));
      t.same(
        results.map((r) => (r.ok ? [r.envelope.id, r.envelope.subject, r.serverShare.toString('base64url')] : r.reason)),
        [[ids[0], 'together 0', uploads[0]!.serverShare], [ids[1], 'together 1', uploads[1]!.serverShare], 'unknown', 'locked', [ids[0], 'together 0', uploads[0]!.serverShare]],
      );
      await opened.database.db.updateTable('envelopes').set({ locked_at: new Date(), lock_reason: 'recalled' }).where('id', '=', ids[1]!).execute();
      const next = await Promise.all([ids[0]!, ids[1]!].map((envelopeId) => services.releases.release({ envelopeId, opener: recipient, openedAt, mode: 'applet', ip: null })));
      t.same(next.map((r) => r.ok || r.reason), [true, 'locked'], 'a lock holds for the next release at once');
    });

    t.test('an inline payload posted with Open is kept only when it matches the digest', async (t) => {
      const envelopeId = id();
      const bytes = randomBytes(100);
      const upload = sampleUpload('payload');
      upload.payload = { transport: 'inline', size: 100, digest: (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex') };
      await services.envelopes.store(principal, envelopeId, upload);
      const changed = Buffer.from(bytes);
      changed[5]! ^= 1;
      t.equal(await services.envelopes.keepInlinePayload(envelopeId, changed), 'mismatch');
      t.equal(await services.envelopes.keepInlinePayload(envelopeId, bytes.subarray(0, 99)), 'mismatch');
      t.equal(await services.envelopes.payload(envelopeId), null, 'nothing kept from a changed file');
      t.equal(await services.envelopes.keepInlinePayload(envelopeId, bytes), 'stored');
      t.equal(await services.envelopes.keepInlinePayload(envelopeId, bytes), 'already');
      t.same(await services.envelopes.payload(envelopeId), bytes);
      t.equal(await services.envelopes.keepInlinePayload(id(), bytes), 'unknown');
    });
  });
}
