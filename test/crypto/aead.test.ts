import t from 'tap';
import { randomBytes } from 'node:crypto';
import nodeCrypto from 'node:crypto';
import { importAeadKey, nobleAeadKey, nodeAeadKey, subtleAeadKeyForTesting, useAeadBackendForTesting, type AeadKey } from '../../src/crypto/aead.ts';
import { generateEnvelopeKeys, openEnvelope, sealEnvelope } from '../../src/crypto/envelope-crypto.ts';

async function sealWith(key: AeadKey, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<Buffer> {
  const out = new Uint8Array(plaintext.length + 16);
  await key.seal(nonce, aad, plaintext, out);
  return Buffer.from(out);
}

for (const keyLength of [24, 32]) {
  t.test(`AES-${keyLength * 8}-GCM: node:crypto, WebCrypto and @noble/ciphers give identical bytes`, async (t) => {
    const raw = randomBytes(keyLength);
    const subtle = await subtleAeadKeyForTesting(raw);
    const noble = await nobleAeadKey(raw);
    const node = nodeAeadKey(raw, nodeCrypto);
    t.equal((await importAeadKey(raw)).backend, 'node', 'Node uses node:crypto');
    t.equal(subtle.backend, 'subtle', "Node's WebCrypto takes this key itself");
    t.equal(noble.backend, 'noble');
    for (const size of [0, 1, 15, 16, 17, 1024, 65536, 100_003]) {
      const nonce = randomBytes(12);
      const aad = randomBytes(26);
      const plaintext = randomBytes(size);
      const a = await sealWith(subtle, nonce, aad, plaintext);
      const b = await sealWith(noble, nonce, aad, plaintext);
      t.ok(a.equals(b), `${size} bytes: same ciphertext and tag`);
      const c = await sealWith(node, nonce, aad, plaintext);
      t.ok(c.equals(a), `${size} bytes: node:crypto writes the same bytes`);
      const viaNode = new Uint8Array(size);
      t.equal(await node.open(nonce, aad, b, viaNode), true, `${size} bytes: node:crypto opens what noble sealed`);
      t.ok(Buffer.from(viaNode).equals(plaintext));
      const back = new Uint8Array(size);
      t.equal(await noble.open(nonce, aad, a, back), true, `${size} bytes: noble opens what WebCrypto sealed`);
      t.ok(Buffer.from(back).equals(plaintext));
      t.equal(await subtle.open(nonce, aad, b, back), true, `${size} bytes: WebCrypto opens what noble sealed`);
      t.ok(Buffer.from(back).equals(plaintext));
      const bad = Buffer.from(a);
      bad[bad.length - 1]! ^= 1;
      t.equal(await subtle.open(nonce, aad, bad, back), false, 'WebCrypto: a bad tag is false, not a throw');
      t.equal(await noble.open(nonce, aad, bad, back), false, 'noble: a bad tag is false, not a throw');
      const untouched = new Uint8Array(size).fill(7);
      t.equal(await node.open(nonce, aad, bad, untouched), false, 'node:crypto: a bad tag is false, not a throw');
      t.ok(untouched.every((x) => x === 7), 'and unauthenticated plaintext is never written');
    }
  });
}

t.test('when WebCrypto refuses a 192-bit key, as Chromium does, the fallback takes over', async (t) => {
  const subtle = crypto.subtle;
  const original = subtle.importKey.bind(subtle);
  const chromiumLike = (format: string, keyData: unknown, algorithm: unknown, extractable: boolean, usages: KeyUsage[]) => {
    const name = typeof algorithm === 'string' ? algorithm : (algorithm as { name: string }).name;
    if (name === 'AES-GCM' && (keyData as Uint8Array).length === 24) return Promise.reject(new DOMException('192-bit AES keys are not supported', 'OperationError'));
    return original(format as 'raw', keyData as Uint8Array<ArrayBuffer>, algorithm as AlgorithmIdentifier, extractable, usages);
  };
  Object.defineProperty(subtle, 'importKey', { value: chromiumLike, configurable: true, writable: true });
  useAeadBackendForTesting('browser');
  t.teardown(() => {
    delete (subtle as unknown as Record<string, unknown>).importKey;
    useAeadBackendForTesting(null);
  });

  t.equal((await importAeadKey(randomBytes(24))).backend, 'noble');
  t.equal((await importAeadKey(randomBytes(32))).backend, 'subtle');

  const keys = generateEnvelopeKeys();
  const plaintext = randomBytes(3000);
  const sealed = await sealEnvelope({ ...keys, algorithm: 'aes-192-gcm', recordSize: 1024 }, plaintext);
  t.ok(Buffer.from(await openEnvelope(keys, sealed)).equals(plaintext), 'an AES-192 envelope round-trips in a "Chromium"');
});

t.test('keys of impossible lengths are refused by both backends', async (t) => {
  await t.rejects(importAeadKey(randomBytes(20)), TypeError);
  await t.rejects(nobleAeadKey(randomBytes(31)), TypeError);
});

t.test('only a refused 192-bit key falls back; any other refusal propagates', async (t) => {
  const subtle = crypto.subtle;
  const refuseAll = () => Promise.reject(new DOMException('refused', 'NotSupportedError'));
  Object.defineProperty(subtle, 'importKey', { value: refuseAll, configurable: true, writable: true });
  useAeadBackendForTesting('browser');
  t.teardown(() => {
    delete (subtle as unknown as Record<string, unknown>).importKey;
    useAeadBackendForTesting(null);
  });
  await t.rejects(importAeadKey(randomBytes(32)), { name: 'NotSupportedError' });
  t.equal((await importAeadKey(randomBytes(24))).backend, 'noble');
});

t.test('the test hook forces a backend choice, and can be undone', async (t) => {
  useAeadBackendForTesting('noble');
  t.equal((await importAeadKey(randomBytes(32))).backend, 'noble');
  t.equal((await importAeadKey(randomBytes(24))).backend, 'noble');
  useAeadBackendForTesting('browser');
  t.equal((await importAeadKey(randomBytes(24))).backend, 'subtle', "Node's WebCrypto accepts AES-192");
  useAeadBackendForTesting(null);
  t.equal((await importAeadKey(randomBytes(24))).backend, 'node');
});

t.test('envelopes sealed by one backend open with the other', async (t) => {
  for (const algorithm of ['aes-256-gcm', 'aes-192-gcm'] as const) {
    const keys = generateEnvelopeKeys();
    const plaintext = randomBytes(5000);
    const params = { ...keys, algorithm, recordSize: 1024 };
    const byNode = await sealEnvelope(params, plaintext);
    useAeadBackendForTesting('browser');
    const bySubtle = await sealEnvelope(params, plaintext);
    const openedBySubtle = await openEnvelope(keys, byNode);
    useAeadBackendForTesting('noble');
    const byNoble = await sealEnvelope(params, plaintext);
    const openedByNoble = await openEnvelope(keys, bySubtle);
    useAeadBackendForTesting(null);
    t.ok(Buffer.from(byNoble).equals(bySubtle) && Buffer.from(byNode).equals(bySubtle), `${algorithm}: identical envelopes from all three`);
    t.ok(Buffer.from(openedByNoble).equals(plaintext), `${algorithm}: noble opens a WebCrypto envelope`);
    t.ok(Buffer.from(openedBySubtle).equals(plaintext), `${algorithm}: WebCrypto opens a node:crypto envelope`);
    t.ok(Buffer.from(await openEnvelope(keys, byNoble)).equals(plaintext), `${algorithm}: node:crypto opens a noble envelope`);
  }
});
