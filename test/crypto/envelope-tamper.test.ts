import t from 'tap';
import { randomBytes } from 'node:crypto';
import {
  EnvelopeAuthError,
  EnvelopeFormatError,
  generateEnvelopeKeys,
  openEnvelope,
  parseEnvelopeHeader,
  sealEnvelope,
  type EnvelopeKeys,
} from '../../src/crypto/envelope-crypto.ts';

// Four records of 1024, 1024, 1024 and 428 plaintext bytes.
const RECORD = 1024;
const STRIDE = RECORD + 16;
const keys = generateEnvelopeKeys();
const plaintext = randomBytes(3 * RECORD + 428);
const sealed = Buffer.from(await sealEnvelope({ ...keys, recordSize: RECORD }, plaintext));
const header = sealed.subarray(0, 26);
const record = (i: number) => sealed.subarray(26 + i * STRIDE, Math.min(26 + (i + 1) * STRIDE, sealed.length));
const records = [0, 1, 2, 3].map(record);

const open = (envelope: Uint8Array, k: Partial<EnvelopeKeys> & { expectedEnvelopeId?: Uint8Array } = {}) =>
  openEnvelope({ serverShare: keys.serverShare, envelopeSecret: keys.envelopeSecret, ...k }, envelope);

function flipped(at: number, bit = 0): Buffer {
  const b = Buffer.from(sealed);
  b[at]! ^= 1 << bit;
  return b;
}

function withHeaderByte(at: number, value: number): Buffer {
  const b = Buffer.from(sealed);
  b[at] = value;
  return b;
}

t.test('the untouched envelope opens (the baseline for everything below)', async (t) => {
  t.equal(records[3]!.length, 428 + 16);
  t.ok(Buffer.from(await open(sealed)).equals(plaintext));
});

t.test('tampering fails closed with EnvelopeAuthError', async (t) => {
  const cases: [string, Uint8Array, (Partial<EnvelopeKeys> & { expectedEnvelopeId?: Uint8Array })?][] = [
    ['flipped bit in the header id', flipped(10)],
    ['flipped bit in the last header byte', flipped(25, 7)],
    ['flipped bit in the first record body', flipped(26 + 5)],
    ['flipped bit in a middle record body', flipped(26 + STRIDE + 500, 3)],
    ['flipped bit in the final record body', flipped(26 + 3 * STRIDE)],
    ['flipped bit in a non-final tag', flipped(26 + STRIDE - 1, 6)],
    ['flipped bit in the final tag', flipped(sealed.length - 1)],
    ['dropped middle record', Buffer.concat([header, records[0]!, records[2]!, records[3]!])],
    ['dropped first record', Buffer.concat([header, records[1]!, records[2]!, records[3]!])],
    ['reordered records', Buffer.concat([header, records[1]!, records[0]!, records[2]!, records[3]!])],
    ['repeated record', Buffer.concat([header, records[0]!, records[1]!, records[1]!, records[2]!, records[3]!])],
    ['truncated at a record boundary (final record dropped)', sealed.subarray(0, 26 + 3 * STRIDE)],
    ['truncated to header and first record', sealed.subarray(0, 26 + STRIDE)],
    ['truncated mid-record', sealed.subarray(0, 26 + 2 * STRIDE + 700)],
    ['truncated inside the final tag', sealed.subarray(0, sealed.length - 1)],
    ['truncated leaving less than a tag after full records', sealed.subarray(0, 26 + 3 * STRIDE + 15)],
    ['one trailing byte appended', Buffer.concat([sealed, Buffer.of(0)])],
    ['a tag-length of trailing bytes appended', Buffer.concat([sealed, Buffer.alloc(16)])],
    ['a whole record of trailing bytes appended', Buffer.concat([sealed, randomBytes(STRIDE)])],
    ['the final record copied after itself', Buffer.concat([sealed, records[3]!])],
    ['header id replaced by another id', Buffer.concat([header.subarray(0, 10), randomBytes(16), sealed.subarray(26)])],
    ['algorithm byte switched to AES-192', withHeaderByte(5, 0x02)],
    ['record size changed to 2048', withHeaderByte(8, 0x08)],
    ['record size changed to 512 KiB', Buffer.concat([header.subarray(0, 6), Buffer.of(0, 8, 0, 0), sealed.subarray(10)])],
    ['wrong server share', sealed, { serverShare: randomBytes(32) }],
    ['wrong envelope secret', sealed, { envelopeSecret: randomBytes(32) }],
    ['share and secret swapped', sealed, { serverShare: keys.envelopeSecret, envelopeSecret: keys.serverShare }],
    ['the secret given as both halves', sealed, { serverShare: keys.envelopeSecret }],
    ['expectedEnvelopeId mismatch', sealed, { expectedEnvelopeId: randomBytes(16) }],
  ];
  for (const [name, envelope, k] of cases) {
    await t.rejects(open(envelope, k), EnvelopeAuthError, name);
  }
});

t.test('an envelope sealed under another id does not open under the expected one', async (t) => {
  const other = await sealEnvelope({ ...keys, envelopeId: randomBytes(16), recordSize: RECORD }, plaintext);
  await t.rejects(open(other, { expectedEnvelopeId: keys.envelopeId }), { name: 'EnvelopeAuthError', message: /not the one that was expected/ });
  t.ok(Buffer.from(await open(sealed, { expectedEnvelopeId: keys.envelopeId })).equals(plaintext), 'the matching id opens');
});

t.test('every single-bit flip anywhere fails, with one of the two envelope errors', async (t) => {
  // Header bits exhaustively; record bits sampled, since each record is authenticated the same way.
  const positions = [...Array(26).keys(), ...Array.from({ length: 64 }, () => 26 + Math.floor(Math.random() * (sealed.length - 26)))];
  let failures = 0;
  for (const at of positions) {
    for (let bit = 0; bit < 8; bit++) {
      const error = await open(flipped(at, bit)).then(
        () => null,
        (e: unknown) => e,
      );
      const expected = at >= 10 ? EnvelopeAuthError : undefined;
      if (!(error instanceof EnvelopeAuthError || error instanceof EnvelopeFormatError) || (expected && !(error instanceof expected))) failures++;
    }
  }
  t.equal(failures, 0, `${positions.length * 8} flips, all refused (id and body flips as auth errors)`);
});

t.test('format errors: short input, bad magic, version, algorithm, record size', async (t) => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty input', new Uint8Array(0), /too short/],
    ['header only', sealed.subarray(0, 26), /too short/],
    ['41 bytes', sealed.subarray(0, 41), /too short/],
    ['bad magic', withHeaderByte(0, 0x77), /not a Waxseal envelope/],
    ['magic of another format', Buffer.concat([Buffer.from('%PDF'), sealed.subarray(4)]), /not a Waxseal envelope/],
    ['version 0', withHeaderByte(4, 0x00), /format version/],
    ['version 2', withHeaderByte(4, 0x02), /format version/],
    ['algorithm 0', withHeaderByte(5, 0x00), /encryption method/],
    ['algorithm 3', withHeaderByte(5, 0x03), /encryption method/],
    ['record size 0', Buffer.concat([header.subarray(0, 6), Buffer.of(0, 0, 0, 0), sealed.subarray(10)]), /record size/],
    ['record size 512', withHeaderByte(8, 0x02), /record size/],
    ['record size 1000', Buffer.concat([header.subarray(0, 6), Buffer.of(0, 0, 0x03, 0xe8), sealed.subarray(10)]), /record size/],
    ['record size 1025', withHeaderByte(9, 0x01), /record size/],
    ['record size 2 MiB', Buffer.concat([header.subarray(0, 6), Buffer.of(0, 0x20, 0, 0), sealed.subarray(10)]), /record size/],
    ['record size 2^31', Buffer.concat([header.subarray(0, 6), Buffer.of(0x80, 0, 0, 0), sealed.subarray(10)]), /record size/],
  ];
  for (const [name, envelope, message] of cases) {
    await t.rejects(open(envelope), { name: 'EnvelopeFormatError', code: 'envelope_format', message }, name);
    if (envelope.length >= 42) t.throws(() => parseEnvelopeHeader(envelope), EnvelopeFormatError, `${name}: parseEnvelopeHeader agrees`);
  }
  t.throws(() => parseEnvelopeHeader(sealed.subarray(0, 25)), EnvelopeFormatError);
  t.equal(parseEnvelopeHeader(sealed.subarray(0, 26)).recordSize, RECORD, 'the header alone parses');
});

t.test('errors are for people: distinct format messages, codes, no key material', async (t) => {
  const messages = new Set<string>();
  for (const bad of [sealed.subarray(0, 30), withHeaderByte(0, 0), withHeaderByte(4, 9), withHeaderByte(5, 9), withHeaderByte(9, 1)]) {
    const e = await open(bad).catch((e: unknown) => e);
    t.ok(e instanceof EnvelopeFormatError);
    messages.add((e as Error).message);
  }
  t.equal(messages.size, 5, 'each format problem has its own message');
  const auth = await open(flipped(100)).catch((e: unknown) => e);
  t.ok(auth instanceof EnvelopeAuthError);
  t.ok(auth instanceof Error);
  t.equal((auth as EnvelopeAuthError).code, 'envelope_auth');
  t.equal((auth as EnvelopeAuthError).name, 'EnvelopeAuthError');
  t.match((auth as Error).message, /damaged|changed/);
  const secrets = [keys.serverShare, keys.envelopeSecret].map((k) => Buffer.from(k));
  for (const m of [...messages, (auth as Error).message]) {
    t.notOk(/[0-9a-f]{16}/i.test(m), 'no hex in the message');
    for (const s of secrets) t.notOk(m.includes(s.toString('base64url')) || m.includes(s.toString('hex')));
  }
});

t.test('input validation: TypeError with a clear message', async (t) => {
  const good = { ...keys };
  const sealCases: [string, Parameters<typeof sealEnvelope>[0], unknown, RegExp][] = [
    ['short id', { ...good, envelopeId: randomBytes(15) }, plaintext, /envelopeId must be a Uint8Array of 16 bytes/],
    ['short share', { ...good, serverShare: randomBytes(31) }, plaintext, /serverShare must be a Uint8Array of 32 bytes/],
    ['long secret', { ...good, envelopeSecret: randomBytes(33) }, plaintext, /envelopeSecret must be a Uint8Array of 32 bytes/],
    ['id as a string', { ...good, envelopeId: 'x'.repeat(16) as unknown as Uint8Array }, plaintext, /envelopeId/],
    ['unknown algorithm', { ...good, algorithm: 'aes-128-gcm' as 'aes-256-gcm' }, plaintext, /algorithm must be one of aes-256-gcm, aes-192-gcm/],
    ['record size 1000', { ...good, recordSize: 1000 }, plaintext, /recordSize must be a power of two/],
    ['record size 512', { ...good, recordSize: 512 }, plaintext, /recordSize/],
    ['record size 2 MiB', { ...good, recordSize: 2 * 1048576 }, plaintext, /recordSize/],
    ['record size 1024.5', { ...good, recordSize: 1024.5 }, plaintext, /recordSize/],
    ['plaintext as a string', good, 'hello', /plaintext must be a Uint8Array/],
  ];
  for (const [name, params, input, message] of sealCases) {
    await t.rejects(sealEnvelope(params, input as Uint8Array), { name: 'TypeError', message }, name);
  }
  await t.rejects(openEnvelope({ ...good, serverShare: randomBytes(16) }, sealed), { name: 'TypeError', message: /serverShare/ });
  await t.rejects(openEnvelope({ ...good, envelopeSecret: new Uint8Array(0) }, sealed), { name: 'TypeError', message: /envelopeSecret/ });
  await t.rejects(openEnvelope({ ...good, expectedEnvelopeId: randomBytes(8) }, sealed), { name: 'TypeError', message: /expectedEnvelopeId/ });
  await t.rejects(openEnvelope(good, 'WXSL' as unknown as Uint8Array), { name: 'TypeError', message: /envelope must be a Uint8Array/ });
  t.throws(() => parseEnvelopeHeader([1, 2, 3] as unknown as Uint8Array), TypeError);
});
