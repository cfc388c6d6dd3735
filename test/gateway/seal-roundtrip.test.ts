import t from 'tap';
import { openEnvelope } from '../../src/crypto/envelope-crypto.ts';
import { createKeyServiceClient } from '../../src/gateway/key-client.ts';
import { sealMessage } from '../../src/gateway/seal.ts';
import { createI18n } from '../../src/i18n/create-i18n.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../../src/paths.ts';
import { buildCorpus, buildLargeMessage } from '../helpers/corpus.ts';
import { engines } from '../helpers/databases.ts';
import { parseEnvelopeMail } from '../helpers/envelope-file.ts';
import { listenKeyService, provisionProfile } from '../helpers/key-service.ts';

const LIMIT = 25 * 1024 * 1024;

/**
 * The promise of the format: every message comes back byte for byte from the two halves, the
 * server share as the key service stored it (unwrapped with the KEK) and the envelope secret
 * from the delivered securedoc.html, and from neither alone.
 */
for (const engine of engines()) {
  t.test(`round trip through the key service on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    const ks = await listenKeyService(opened);
    t.teardown(async () => {
      await ks.close();
      await opened.dispose();
    });
    const token = await provisionProfile(ks, 'Roundtrip', {
      payloadTransport: { inlineMaxBytes: 256 * 1024, referenceScheme: 'http', separateUrl: null },
    });
    const client = createKeyServiceClient({ url: ks.url, credential: token, attempts: 1 });
    const deps = { client, i18n: createI18n(LOCALES_DIR), views: VIEWS_DIR };
    const info = await client.getProfile();

    const corpus = [...buildCorpus(), { name: 'just under 25 MB', bytes: buildLargeMessage(LIMIT - 16 * 1024) }];
    t.ok(corpus.length >= 21, `corpus has ${corpus.length} messages`);
    for (const { name, bytes } of corpus) {
      const sealed = await sealMessage(bytes, deps, info);
      const file = await parseEnvelopeMail(sealed.envelope);
      t.equal(file.envelopeId, sealed.envelopeId, `${name}: the file names its envelope`);
      let payload: Uint8Array;
      if (file.inlinePayload) {
        t.equal(sealed.transport, 'inline');
        payload = file.inlinePayload;
      } else {
        t.equal(sealed.transport, 'reference', `${name}: large payload goes by reference`);
        t.equal(file.payloadUrl, `${ks.url}/payloads/${sealed.envelopeId}`);
        const res = await fetch(file.payloadUrl!);
        t.equal(res.status, 200);
        payload = new Uint8Array(await res.arrayBuffer());
      }
      const share = await ks.services.envelopes.serverShare(sealed.envelopeId);
      t.ok(share, `${name}: the key service holds the share`);
      const opened = await openEnvelope({ serverShare: share!, envelopeSecret: file.envelopeSecret }, payload);
      t.ok(Buffer.from(opened).equals(Buffer.from(bytes)), `${name}: recovered byte for byte (${bytes.length} bytes)`);
    }
  });
}
