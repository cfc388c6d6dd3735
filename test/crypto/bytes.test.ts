import t from 'tap';
import { randomBytes } from 'node:crypto';
import { base64urlDecode, base64urlEncode, concatBytes, constantTimeEqual, utf8Decode, utf8Encode } from '../../src/crypto/bytes.ts';

t.test('concatBytes', async (t) => {
  t.same([...concatBytes()], []);
  t.same([...concatBytes(Uint8Array.of(1, 2), new Uint8Array(0), Buffer.from([3]).subarray(0, 1))], [1, 2, 3]);
  const a = Uint8Array.of(9);
  const joined = concatBytes(a);
  joined[0] = 0;
  t.equal(a[0], 9, 'always a fresh copy');
});

t.test('base64url agrees with Node for every length up to 100', async (t) => {
  let mismatches = 0;
  for (let n = 0; n <= 100; n++) {
    const b = randomBytes(n);
    const text = base64urlEncode(b);
    if (text !== b.toString('base64url') || !Buffer.from(base64urlDecode(text)).equals(b)) mismatches++;
  }
  t.equal(mismatches, 0);
  t.equal(base64urlEncode(Uint8Array.of(0xfb, 0xff, 0xbf)), '-_-_');
});

t.test('base64url decoding is strict', async (t) => {
  for (const bad of ['A', 'AAAAA', 'AA==', 'AA AA', '+/+/', 'AB', 'AAB', 'é']) {
    t.throws(() => base64urlDecode(bad), TypeError, JSON.stringify(bad));
  }
  t.same([...base64urlDecode('')], []);
  t.same([...base64urlDecode('AA')], [0]);
  t.same([...base64urlDecode('AAE')], [0, 1]);
});

t.test('constantTimeEqual', async (t) => {
  t.equal(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3)), true);
  t.equal(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4)), false);
  t.equal(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3)), false);
  t.equal(constantTimeEqual(new Uint8Array(0), new Uint8Array(0)), true);
});

t.test('utf8', async (t) => {
  t.same([...utf8Encode('waxseal/v1')], [...Buffer.from('waxseal/v1')]);
  t.equal(utf8Decode(utf8Encode('Grüße, 封筒 ✉')), 'Grüße, 封筒 ✉');
  t.throws(() => utf8Decode(Uint8Array.of(0xc3, 0x28)), TypeError, 'invalid UTF-8 is refused, not replaced');
});
