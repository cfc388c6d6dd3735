import t from 'tap';
import { randomBytes } from 'node:crypto';
import { EnvelopeAuthError, EnvelopeFormatError, generateEnvelopeKeys, openEnvelopeStream, sealEnvelope, type EnvelopeAlgorithm } from '../../src/crypto/envelope-crypto.ts';
import { useAeadBackendForTesting } from '../../src/crypto/aead.ts';

// The reader opens a download as it arrives (src/reader/browser/reader.ts): these tests feed
// envelopes in pieces of every awkward size and check what is released along the way.
const RECORD = 1024;
const STRIDE = RECORD + 16;
const keys = generateEnvelopeKeys();
const params = { serverShare: keys.serverShare, envelopeSecret: keys.envelopeSecret, expectedEnvelopeId: keys.envelopeId };

/** `bytes` cut into pieces of the given sizes, in turn, as an async source. */
async function* pieces(bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield bytes.slice(at, at + size);
    at += size;
    // A real download: each piece comes on a later turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

for (const algorithm of ['aes-256-gcm', 'aes-192-gcm'] as EnvelopeAlgorithm[]) {
  t.test(`${algorithm}: any cut of the stream opens to the same bytes`, async (t) => {
    for (const size of [0, 1, RECORD, RECORD + 1, 5 * RECORD, 5 * RECORD + 300]) {
      const plaintext = randomBytes(size);
      const sealed = await sealEnvelope({ ...keys, algorithm, recordSize: RECORD }, plaintext);
      for (const sizes of [[1], [7, 3000], [STRIDE], [STRIDE + 1, STRIDE - 1], [26, 16, 100_000]]) {
        for (const expectedLength of [sealed.length, null, sealed.length - 100, sealed.length + 5000]) {
          const opened = await openEnvelopeStream(params, pieces(sealed, sizes), { expectedLength });
          t.ok(Buffer.from(opened).equals(plaintext), `${size} bytes in pieces of ${sizes.join('/')}, expected length ${expectedLength}`);
        }
      }
    }
  });
}

t.test('the AES-192 fallback of browsers opens a stream too', async (t) => {
  useAeadBackendForTesting('browser');
  t.teardown(() => useAeadBackendForTesting(null));
  const plaintext = randomBytes(4 * RECORD + 9);
  const sealed = await sealEnvelope({ ...keys, algorithm: 'aes-192-gcm', recordSize: RECORD }, plaintext);
  t.ok(Buffer.from(await openEnvelopeStream(params, pieces(sealed, [333]))).equals(plaintext));
});

t.test('the verified prefix grows record by record and is always what was sealed', async (t) => {
  const plaintext = randomBytes(6 * RECORD + 10);
  const sealed = await sealEnvelope({ ...keys, recordSize: RECORD }, plaintext);
  const prefixes: number[] = [];
  const opened = await openEnvelopeStream(params, pieces(sealed, [STRIDE]), {
    expectedLength: sealed.length,
    onVerified: (prefix) => {
      prefixes.push(prefix.length);
      t.ok(Buffer.from(prefix).equals(plaintext.subarray(0, prefix.length)), `the first ${prefix.length} bytes are the sealed ones`);
    },
  });
  t.ok(Buffer.from(opened).equals(plaintext));
  // A record is released only once a byte after it arrived: record 0 with the second piece.
  t.same(prefixes, [1, 2, 3, 4, 5, 6].map((n) => n * RECORD), 'one step per record, never the last record early');
});

t.test('a stream cut at a record boundary does not open, though its records authenticated', async (t) => {
  const plaintext = randomBytes(4 * RECORD + 100);
  const sealed = await sealEnvelope({ ...keys, recordSize: RECORD }, plaintext);
  let released = 0;
  const cut = sealed.subarray(0, 26 + 3 * STRIDE);
  await t.rejects(openEnvelopeStream(params, pieces(cut, [500]), { onVerified: (p) => (released = p.length) }), EnvelopeAuthError);
  t.equal(released, 2 * RECORD, 'only records known not to be the last were released');
});

t.test('a changed record late in the stream fails it, after the prefix before it', async (t) => {
  const plaintext = randomBytes(5 * RECORD);
  const sealed = Buffer.from(await sealEnvelope({ ...keys, recordSize: RECORD }, plaintext));
  sealed[26 + 3 * STRIDE + 10]! ^= 1;
  let last: Uint8Array | null = null;
  await t.rejects(openEnvelopeStream(params, pieces(sealed, [STRIDE]), { onVerified: (p) => (last = p) }), EnvelopeAuthError);
  t.ok(last, 'a prefix was released before the damage arrived');
  t.ok(last!.every((b) => b === 0), 'and its plaintext was wiped when the envelope failed');
});

t.test('the header is checked as soon as it is in: wrong envelope, not an envelope, too short', async (t) => {
  const sealed = await sealEnvelope({ ...keys, recordSize: RECORD }, randomBytes(3 * RECORD));
  const other = generateEnvelopeKeys();
  await t.rejects(openEnvelopeStream({ ...params, expectedEnvelopeId: other.envelopeId }, pieces(sealed, [64])), EnvelopeAuthError);
  const notOurs = Buffer.from(sealed);
  notOurs[0] = 0x41;
  await t.rejects(openEnvelopeStream(params, pieces(notOurs, [64])), { name: 'EnvelopeFormatError', message: /not a Waxseal envelope/ });
  await t.rejects(openEnvelopeStream(params, pieces(sealed.subarray(0, 30), [10])), EnvelopeFormatError);
  await t.rejects(openEnvelopeStream(params, pieces(new Uint8Array(0), [1])), EnvelopeFormatError);
  await t.rejects(openEnvelopeStream(params, ['not bytes' as unknown as Uint8Array]), TypeError);
});
