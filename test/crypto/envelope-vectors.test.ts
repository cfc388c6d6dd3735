import t from 'tap';
import { createDecipheriv, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { openEnvelope, parseEnvelopeHeader, sealEnvelope } from '../../src/crypto/envelope-crypto.ts';
import { useAeadBackendForTesting } from '../../src/crypto/aead.ts';
import { buildVectors, nonce, vectorsMarkdown, type EnvelopeVector } from '../vectors/generate.ts';

const file = JSON.parse(readFileSync(new URL('../vectors/envelope-v1.json', import.meta.url), 'utf8')) as { vectors: EnvelopeVector[] };
const vectors = file.vectors;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

function inputs(v: EnvelopeVector) {
  return { envelopeId: bytes(v.envelopeId), serverShare: bytes(v.serverShare), envelopeSecret: bytes(v.envelopeSecret), algorithm: v.algorithm, recordSize: v.recordSize };
}

t.test('the vectors file has the cases the format document promises', async (t) => {
  const names = vectors.map((v) => v.name);
  t.same(names, ['empty', 'hello', 'multi', 'exact', 'aes192', 'aes192-multi']);
  t.equal(Buffer.from(vectors.find((v) => v.name === 'hello')!.plaintext, 'hex').toString('ascii'), 'Hello, Waxseal.\r\n');
  const exact = vectors.find((v) => v.name === 'exact')!;
  t.equal(exact.envelope.length / 2, 26 + 2048 + 2 * 16, 'exact multiple: two records, no extra empty one');
});

t.test('the vectors file is what the generator produces (not stale)', async (t) => {
  t.same(buildVectors(), vectors);
});

for (const v of vectors) {
  t.test(`vector ${v.name}`, async (t) => {
    const sealed = await sealEnvelope(inputs(v), bytes(v.plaintext));
    t.equal(hex(sealed), v.envelope, 'sealEnvelope reproduces the envelope');

    const opened = await openEnvelope({ serverShare: bytes(v.serverShare), envelopeSecret: bytes(v.envelopeSecret), expectedEnvelopeId: bytes(v.envelopeId) }, bytes(v.envelope));
    t.equal(hex(opened), v.plaintext, 'openEnvelope recovers the plaintext');

    const header = parseEnvelopeHeader(bytes(v.envelope));
    t.same({ ...header, envelopeId: hex(header.envelopeId) }, { version: 1, algorithm: v.algorithm, recordSize: v.recordSize, envelopeId: v.envelopeId });

    // The document's spec, applied with node:crypto alone, opens record 0 of what the code sealed.
    const env = Buffer.from(v.envelope, 'hex');
    const headerBytes = env.subarray(0, 26);
    const ikm = Buffer.concat([Buffer.from(v.serverShare, 'hex'), Buffer.from(v.envelopeSecret, 'hex')]);
    const key = Buffer.from(hkdfSync('sha256', ikm, Buffer.from('waxseal/v1/content-key'), headerBytes, v.algorithm === 'aes-256-gcm' ? 32 : 24));
    t.equal(key.toString('hex'), v.contentKey, 'independent HKDF gives the documented content key');
    const plain = Buffer.from(v.plaintext, 'hex');
    const records = Math.max(1, Math.ceil(plain.length / v.recordSize));
    const first = env.subarray(26, 26 + Math.min(v.recordSize, plain.length) + 16);
    const decipher = createDecipheriv(v.algorithm, key, nonce(0, records === 1));
    decipher.setAAD(headerBytes);
    decipher.setAuthTag(first.subarray(first.length - 16));
    const record0 = Buffer.concat([decipher.update(first.subarray(0, first.length - 16)), decipher.final()]);
    t.equal(record0.toString('hex'), plain.subarray(0, v.recordSize).toString('hex'), 'independent AES-GCM decrypts record 0');
  });
}

for (const backend of ['noble', 'browser'] as const) {
  t.test(`the ${backend === 'noble' ? '@noble/ciphers fallback' : 'WebCrypto (browser) path'} seals and opens every vector identically`, async (t) => {
    useAeadBackendForTesting(backend);
    t.teardown(() => useAeadBackendForTesting(null));
    for (const v of vectors) {
      t.equal(hex(await sealEnvelope(inputs(v), bytes(v.plaintext))), v.envelope, `${v.name}: seal`);
      t.equal(hex(await openEnvelope({ serverShare: bytes(v.serverShare), envelopeSecret: bytes(v.envelopeSecret) }, bytes(v.envelope))), v.plaintext, `${v.name}: open`);
    }
  });
}

t.test('docs/envelope-format.md lists exactly these vectors', async (t) => {
  const doc = readFileSync(new URL('../../docs/envelope-format.md', import.meta.url), 'utf8');
  t.ok(doc.includes(vectorsMarkdown(vectors)), 'the generated appendix is current');
  for (const v of vectors) t.ok(doc.replace(/\s+/g, '').includes(v.envelope), `${v.name}: envelope hex is in the document`);
});
