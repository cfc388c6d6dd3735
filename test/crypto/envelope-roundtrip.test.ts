import t from 'tap';
import { randomBytes } from 'node:crypto';
import {
  DEFAULT_RECORD_SIZE,
  ENVELOPE_HEADER_LENGTH,
  generateEnvelopeKeys,
  openEnvelope,
  parseEnvelopeHeader,
  sealEnvelope,
  type EnvelopeAlgorithm,
} from '../../src/crypto/envelope-crypto.ts';

const algorithms: EnvelopeAlgorithm[] = ['aes-256-gcm', 'aes-192-gcm'];

t.test('constants', async (t) => {
  t.equal(ENVELOPE_HEADER_LENGTH, 26);
  t.equal(DEFAULT_RECORD_SIZE, 65536);
});

t.test('generateEnvelopeKeys: fresh random values of the right lengths', async (t) => {
  const a = generateEnvelopeKeys();
  const b = generateEnvelopeKeys();
  t.equal(a.envelopeId.length, 16);
  t.equal(a.serverShare.length, 32);
  t.equal(a.envelopeSecret.length, 32);
  t.notSame(Buffer.from(a.serverShare), Buffer.from(a.envelopeSecret));
  t.notSame(Buffer.from(a.envelopeId), Buffer.from(b.envelopeId));
  t.notSame(Buffer.from(a.serverShare), Buffer.from(b.serverShare));
});

for (const algorithm of algorithms) {
  t.test(`${algorithm}: round trips around record boundaries`, async (t) => {
    const recordSize = 1024;
    for (const size of [0, 1, recordSize - 1, recordSize, recordSize + 1, 3 * recordSize, 3 * recordSize + 17]) {
      const keys = generateEnvelopeKeys();
      const plaintext = randomBytes(size);
      const sealed = await sealEnvelope({ ...keys, algorithm, recordSize }, plaintext);
      const records = Math.max(1, Math.ceil(size / recordSize));
      t.equal(sealed.length, 26 + size + 16 * records, `${size} bytes: ${records} record(s), no extra empty one`);
      t.same(parseEnvelopeHeader(sealed), { version: 1, algorithm, recordSize, envelopeId: keys.envelopeId });
      const opened = await openEnvelope({ ...keys, expectedEnvelopeId: keys.envelopeId }, sealed);
      t.ok(Buffer.from(opened).equals(plaintext), `${size} bytes: opens to the same bytes`);
    }
  });

  t.test(`${algorithm}: a 3 MB random message at the default record size`, async (t) => {
    const keys = generateEnvelopeKeys();
    const plaintext = randomBytes(3 * 1024 * 1024 + 5);
    const sealed = await sealEnvelope({ ...keys, algorithm }, plaintext);
    t.equal(sealed.length, 26 + plaintext.length + 16 * 49);
    t.equal(parseEnvelopeHeader(sealed).recordSize, DEFAULT_RECORD_SIZE);
    t.ok(Buffer.from(await openEnvelope(keys, sealed)).equals(plaintext));
  });
}

t.test('sealing is deterministic and does not touch its inputs', async (t) => {
  const keys = generateEnvelopeKeys();
  const copy = { envelopeId: keys.envelopeId.slice(), serverShare: keys.serverShare.slice(), envelopeSecret: keys.envelopeSecret.slice() };
  const plaintext = randomBytes(2000);
  const before = Buffer.from(plaintext);
  const a = await sealEnvelope({ ...keys, recordSize: 1024 }, plaintext);
  const b = await sealEnvelope({ ...keys, recordSize: 1024 }, plaintext);
  t.ok(Buffer.from(a).equals(b));
  t.same(keys, copy, 'keys are not wiped or changed');
  t.ok(plaintext.equals(before));
  await openEnvelope(keys, a);
  t.same(keys, copy, 'opening leaves the keys alone too');
});

t.test('the algorithm defaults to AES-256-GCM', async (t) => {
  const sealed = await sealEnvelope(generateEnvelopeKeys(), new Uint8Array(1));
  t.equal(parseEnvelopeHeader(sealed).algorithm, 'aes-256-gcm');
  t.equal(sealed[5], 0x01);
});

t.test('views with an offset: a Buffer slice in, an envelope inside a larger buffer', async (t) => {
  const keys = generateEnvelopeKeys();
  const plaintext = randomBytes(5000).subarray(7, 4007);
  const sealed = await sealEnvelope({ ...keys, recordSize: 1024 }, plaintext);
  const padded = new Uint8Array(sealed.length + 100);
  padded.set(sealed, 50);
  const view = padded.subarray(50, 50 + sealed.length);
  t.equal(parseEnvelopeHeader(view).recordSize, 1024);
  t.ok(Buffer.from(await openEnvelope(keys, view)).equals(plaintext));
});

t.test('parseEnvelopeHeader returns a copy of the id', async (t) => {
  const keys = generateEnvelopeKeys();
  const sealed = await sealEnvelope(keys, new Uint8Array(0));
  const header = parseEnvelopeHeader(sealed);
  header.envelopeId.fill(0);
  t.ok(Buffer.from(sealed.subarray(10, 26)).equals(keys.envelopeId));
});

t.test('every record size from 1 KiB to 1 MiB round-trips', async (t) => {
  const keys = generateEnvelopeKeys();
  const plaintext = randomBytes(2 * 1048576 + 3);
  for (let recordSize = 1024; recordSize <= 1048576; recordSize *= 2) {
    const sealed = await sealEnvelope({ ...keys, recordSize }, plaintext);
    t.ok(Buffer.from(await openEnvelope(keys, sealed)).equals(plaintext), `record size ${recordSize}`);
  }
});
