import t from 'tap';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { addKeyToFile, createKeyRing, loadKeyRing, parseKeyList } from '../../src/crypto/kek.ts';

t.test('wrap and unwrap, bound to envelope id and version', async (t) => {
  const ring = createKeyRing(new Map([[1, randomBytes(32)]]));
  const share = randomBytes(32);
  const { wrapped, version } = ring.wrap('envelope-a', share);
  t.equal(version, 1);
  t.equal(wrapped.length, 12 + 32 + 16);
  t.same(ring.unwrap('envelope-a', wrapped, 1), share);
  t.throws(() => ring.unwrap('envelope-b', wrapped, 1), /does not unwrap/, 'a share moved to another envelope does not unwrap');
  t.throws(() => ring.unwrap('envelope-a', wrapped, 2), /not in the key ring/);
  const tampered = Buffer.from(wrapped);
  tampered[20]! ^= 1;
  t.throws(() => ring.unwrap('envelope-a', tampered, 1), /does not unwrap/);
  t.notSame(ring.wrap('envelope-a', share).wrapped, wrapped, 'fresh nonce each time');
});

t.test('the highest version wraps; older versions still unwrap', async (t) => {
  const k1 = randomBytes(32);
  const old = createKeyRing(new Map([[1, k1]]));
  const share = randomBytes(32);
  const w1 = old.wrap('e', share);
  const ring = createKeyRing(new Map([[1, k1], [2, randomBytes(32)]]));
  t.equal(ring.currentVersion, 2);
  t.same(ring.unwrap('e', w1.wrapped, 1), share);
  t.equal(ring.wrap('e', share).version, 2);
});

t.test('key lists are parsed strictly', async (t) => {
  const k = randomBytes(32).toString('base64');
  t.equal(parseKeyList(`1:${k},2:${k}`, 'X').size, 2);
  t.throws(() => parseKeyList('1:abc', 'WAXSEAL_KEK'), /WAXSEAL_KEK: key 1 must be 32 bytes/);
  t.throws(() => parseKeyList(`1:${k},1:${k}`, 'X'), /appears twice/);
  t.throws(() => parseKeyList('garbage', 'X'), /expected entries/);
  t.throws(() => createKeyRing(new Map()), /empty/);
});

t.test('the embedded default creates a private key file once', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-kek-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'kek.json');
  const first = await loadKeyRing({ source: 'file', path: file, create: true });
  t.equal(first.created, true);
  t.equal((await fs.stat(file)).mode & 0o777, 0o600);
  const second = await loadKeyRing({ source: 'file', path: file, create: true });
  t.equal(second.created, false);
  const w = first.ring.wrap('e', randomBytes(32));
  t.ok(second.ring.unwrap('e', w.wrapped, w.version), 'same key after reload');
  t.equal(await addKeyToFile(file), 2);
  const third = await loadKeyRing({ source: 'file', path: file, create: false });
  t.equal(third.ring.currentVersion, 2);
  await t.rejects(loadKeyRing({ source: 'file', path: path.join(dir, 'missing'), create: false }), /cannot read the key file/);
});
