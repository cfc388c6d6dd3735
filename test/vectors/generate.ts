/**
 * Regenerates test/vectors/envelope-v1.json and the vector appendix of docs/envelope-format.md:
 *   npx node test/vectors/generate.ts
 *
 * Deliberately a second, independent implementation of format v1 written from the document
 * with node:crypto only (hkdfSync, createCipheriv), sharing no code with src/crypto: the tests
 * then show the production code and this reading of the spec agree byte for byte.
 */
import { createCipheriv, createHash, hkdfSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface EnvelopeVector {
  name: string;
  description: string;
  envelopeId: string;
  serverShare: string;
  envelopeSecret: string;
  algorithm: 'aes-256-gcm' | 'aes-192-gcm';
  recordSize: number;
  plaintext: string;
  contentKey: string;
  envelope: string;
}

const HEADER_LENGTH = 26;

/** Fixed, reproducible "random" inputs: SHA-256 of a label, cut to length. */
function fixed(label: string, length: number): Buffer {
  return createHash('sha256').update(`waxseal test vector ${label}`).digest().subarray(0, length);
}

function pattern(length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = i % 251;
  return b;
}

export function header(algorithm: EnvelopeVector['algorithm'], recordSize: number, envelopeId: Buffer): Buffer {
  const h = Buffer.alloc(HEADER_LENGTH);
  h.write('WXSL', 0, 'ascii');
  h[4] = 0x01;
  h[5] = algorithm === 'aes-256-gcm' ? 0x01 : 0x02;
  h.writeUInt32BE(recordSize, 6);
  envelopeId.copy(h, 10);
  return h;
}

export function contentKey(serverShare: Buffer, envelopeSecret: Buffer, headerBytes: Buffer, algorithm: EnvelopeVector['algorithm']): Buffer {
  const length = algorithm === 'aes-256-gcm' ? 32 : 24;
  return Buffer.from(hkdfSync('sha256', Buffer.concat([serverShare, envelopeSecret]), Buffer.from('waxseal/v1/content-key', 'utf8'), headerBytes, length));
}

export function nonce(index: number, final: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 3);
  n[11] = final ? 0x01 : 0x00;
  return n;
}

function seal(algorithm: EnvelopeVector['algorithm'], key: Buffer, headerBytes: Buffer, recordSize: number, plaintext: Buffer): Buffer {
  const parts = [headerBytes];
  const count = plaintext.length === 0 ? 1 : Math.ceil(plaintext.length / recordSize);
  for (let i = 0; i < count; i++) {
    const cipher = createCipheriv(algorithm, key, nonce(i, i === count - 1));
    cipher.setAAD(headerBytes);
    parts.push(cipher.update(plaintext.subarray(i * recordSize, (i + 1) * recordSize)), cipher.final(), cipher.getAuthTag());
  }
  return Buffer.concat(parts);
}

function vector(name: string, description: string, algorithm: EnvelopeVector['algorithm'], recordSize: number, plaintext: Buffer): EnvelopeVector {
  const id = fixed(`${name} id`, 16);
  const share = fixed(`${name} share`, 32);
  const secret = fixed(`${name} secret`, 32);
  const h = header(algorithm, recordSize, id);
  const key = contentKey(share, secret, h, algorithm);
  return {
    name,
    description,
    envelopeId: id.toString('hex'),
    serverShare: share.toString('hex'),
    envelopeSecret: secret.toString('hex'),
    algorithm,
    recordSize,
    plaintext: plaintext.toString('hex'),
    contentKey: key.toString('hex'),
    envelope: seal(algorithm, key, h, recordSize, plaintext).toString('hex'),
  };
}

export function buildVectors(): EnvelopeVector[] {
  return [
    vector('empty', 'Empty plaintext: exactly one empty final record.', 'aes-256-gcm', 65536, Buffer.alloc(0)),
    vector('hello', 'Short ASCII text in one final record.', 'aes-256-gcm', 65536, Buffer.from('Hello, Waxseal.\r\n', 'ascii')),
    vector('multi', '2500 bytes (byte i = i mod 251), record size 1024: records of 1024, 1024 and 452 bytes.', 'aes-256-gcm', 1024, pattern(2500)),
    vector('exact', '2048 bytes (byte i = i mod 251), record size 1024: two full records, the second final, no empty record.', 'aes-256-gcm', 1024, pattern(2048)),
    vector('aes192', 'AES-192-GCM, short ASCII text in one final record.', 'aes-192-gcm', 65536, Buffer.from('Hello, Waxseal.\r\n', 'ascii')),
    vector('aes192-multi', 'AES-192-GCM, 1500 bytes (byte i = i mod 251), record size 1024: records of 1024 and 476 bytes.', 'aes-192-gcm', 1024, pattern(1500)),
  ];
}

function wrap(hex: string): string {
  return hex.match(/.{1,64}/g)?.join('\n') ?? '';
}

export function vectorsMarkdown(vectors: readonly EnvelopeVector[]): string {
  return vectors
    .map((v) =>
      [
        `### ${v.name}`,
        '',
        v.description,
        '',
        `- algorithm: \`${v.algorithm}\`, record size: ${v.recordSize}`,
        `- envelopeId: \`${v.envelopeId}\``,
        `- serverShare: \`${v.serverShare}\``,
        `- envelopeSecret: \`${v.envelopeSecret}\``,
        `- content key: \`${v.contentKey}\``,
        '',
        `plaintext (${v.plaintext.length / 2} bytes):`,
        '',
        '```',
        v.plaintext === '' ? '(empty)' : wrap(v.plaintext),
        '```',
        '',
        `envelope (${v.envelope.length / 2} bytes):`,
        '',
        '```',
        wrap(v.envelope),
        '```',
      ].join('\n'),
    )
    .join('\n\n');
}

export const BEGIN_MARK = '<!-- vectors:begin (generated by test/vectors/generate.ts) -->';
export const END_MARK = '<!-- vectors:end -->';

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const vectors = buildVectors();
  const jsonPath = fileURLToPath(new URL('envelope-v1.json', import.meta.url));
  writeFileSync(jsonPath, `${JSON.stringify({ format: 'waxseal envelope v1', vectors }, null, 2)}\n`);
  const docPath = fileURLToPath(new URL('../../docs/envelope-format.md', import.meta.url));
  const doc = readFileSync(docPath, 'utf8');
  const start = doc.indexOf(BEGIN_MARK);
  const end = doc.indexOf(END_MARK);
  if (start < 0 || end < start) throw new Error(`docs/envelope-format.md lacks the ${BEGIN_MARK} … ${END_MARK} markers`);
  writeFileSync(docPath, `${doc.slice(0, start + BEGIN_MARK.length)}\n\n${vectorsMarkdown(vectors)}\n\n${doc.slice(end)}`);
  console.log(`wrote ${vectors.length} vectors to ${jsonPath} and ${docPath}`);
}
