import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import { engines } from '../helpers/databases.ts';
import { sampleUpload, servicesWithGateway } from '../helpers/services.ts';
import { UNFINISHED_UPLOAD_AGE_MS } from '../../src/domain/envelopes/unfinished-uploads.ts';

const id = () => randomBytes(16).toString('base64url');

for (const engine of engines()) {
  t.test(`envelopes whose payload never arrived, on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    t.teardown(() => opened.dispose());
    // The rows' created_at is the database's clock; the services' clock starts there and moves on.
    const start = Date.now();
    let clock = start;
    const { services, principal, orgId } = await servicesWithGateway(t.teardown.bind(t), opened, { now: () => new Date(clock) });
    const payload = randomBytes(2000);
    const byReference = (subject: string) => ({
      ...sampleUpload(subject),
      readBy: new Date(clock + 3600_000).toISOString(),
      payload: { transport: 'reference' as const, digest: createHash('sha256').update(payload).digest('hex'), size: payload.length },
    });

    // A gateway stored the key, then failed to upload the payload and sealed the message again
    // under a new envelope at the retry, this time completely.
    const unfinished = id();
    await services.envelopes.store(principal, unfinished, byReference('figures'));
    const retried = id();
    await services.envelopes.store(principal, retried, byReference('figures'));
    await services.envelopes.storePayload(principal, retried, payload);
    const inline = id();
    await services.envelopes.store(principal, inline, { ...sampleUpload('inline, never opened'), readBy: new Date(clock + 3600_000).toISOString() });

    const listed = await services.orgMessages.list({ orgId, profileIds: null }, {});
    t.same(listed.messages.map((m) => m.id).sort(), [retried, inline].sort(), 'the message list shows what went out, not the unfinished upload');

    clock += 2 * 3600_000;
    await services.readBy.sweep();
    const notices = (await services.mail.listOutbox(100)).filter((m) => m.kind === 'receipt');
    t.equal(notices.length, 2, 'read-by notices for the two envelopes that went out, none for the unfinished one');

    t.equal(await services.unfinishedUploads.sweep(), 0, 'nothing is deleted before it is a day old');
    t.ok(await services.envelopes.get(unfinished));
    clock = start + UNFINISHED_UPLOAD_AGE_MS + 60_000;
    t.equal(await services.unfinishedUploads.sweep(), 1, 'a day later the unfinished upload goes');
    t.equal(await services.envelopes.get(unfinished), null);
    t.ok(await services.envelopes.get(retried), 'the envelope that went out stays');
    t.ok(await services.envelopes.get(inline), 'so does an inline one whose payload the recipient has not posted yet');
  });
}
