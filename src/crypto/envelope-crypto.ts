import { importAeadKey, NONCE_LENGTH, TAG_LENGTH, type AeadKey } from './aead.ts';
import { concatBytes, constantTimeEqual, utf8Encode } from './bytes.ts';

/**
 * Envelope format version 1 (docs/envelope-format.md): a 26-byte header, then the message in
 * AES-GCM records under a content key derived from the server share and the envelope secret.
 * Isomorphic: WebCrypto and @noble/ciphers only, so the browser opens envelopes with this file.
 */

export type EnvelopeAlgorithm = 'aes-256-gcm' | 'aes-192-gcm';

export interface EnvelopeHeader {
  version: 1;
  algorithm: EnvelopeAlgorithm;
  recordSize: number;
  envelopeId: Uint8Array;
}

export interface EnvelopeKeys {
  envelopeId: Uint8Array;
  serverShare: Uint8Array;
  envelopeSecret: Uint8Array;
}

export interface SealParams extends EnvelopeKeys {
  algorithm?: EnvelopeAlgorithm;
  recordSize?: number;
}

export interface OpenParams {
  serverShare: Uint8Array;
  envelopeSecret: Uint8Array;
  expectedEnvelopeId?: Uint8Array;
  /** the algorithm the key service released the key for: a header naming another was changed */
  expectedAlgorithm?: EnvelopeAlgorithm;
}

export const ENVELOPE_HEADER_LENGTH = 26;
export const DEFAULT_RECORD_SIZE = 65536;
const MIN_RECORD_SIZE = 1024;
const MAX_RECORD_SIZE = 1048576;
const ID_LENGTH = 16;
const SHARE_LENGTH = 32;
const MAGIC = [0x57, 0x58, 0x53, 0x4c];
const VERSION = 1;
const ALGORITHMS: readonly { name: EnvelopeAlgorithm; byte: number; keyLength: number }[] = [
  { name: 'aes-256-gcm', byte: 0x01, keyLength: 32 },
  { name: 'aes-192-gcm', byte: 0x02, keyLength: 24 },
];
const CONTENT_KEY_SALT = utf8Encode('waxseal/v1/content-key');
// Enough records in flight to keep Node's crypto thread pool busy; small enough that the
// transient copies WebCrypto makes stay a few hundred KiB.
const RECORDS_IN_FLIGHT = 8;

export class EnvelopeFormatError extends Error {
  readonly code = 'envelope_format';
  constructor(message: string) {
    super(message);
    this.name = 'EnvelopeFormatError';
  }
}

export class EnvelopeAuthError extends Error {
  readonly code = 'envelope_auth';
  constructor(message: string) {
    super(message);
    this.name = 'EnvelopeAuthError';
  }
}

const TOO_SHORT = 'This file is too short to be a Waxseal envelope; it may have been cut off.';
const DAMAGED = 'This envelope could not be opened: it is damaged, was changed after it was sealed, or the key does not belong to it.';
const WRONG_ENVELOPE = 'This envelope is not the one that was expected: it belongs to a different message.';

export function generateEnvelopeKeys(): EnvelopeKeys {
  return {
    envelopeId: crypto.getRandomValues(new Uint8Array(ID_LENGTH)),
    serverShare: crypto.getRandomValues(new Uint8Array(SHARE_LENGTH)),
    envelopeSecret: crypto.getRandomValues(new Uint8Array(SHARE_LENGTH)),
  };
}

export async function sealEnvelope(params: SealParams, plaintext: Uint8Array): Promise<Uint8Array> {
  const algorithm = ALGORITHMS.find((a) => a.name === (params.algorithm ?? 'aes-256-gcm'));
  if (!algorithm) throw new TypeError(`algorithm must be one of ${ALGORITHMS.map((a) => a.name).join(', ')}`);
  const recordSize = params.recordSize ?? DEFAULT_RECORD_SIZE;
  if (!isValidRecordSize(recordSize)) throw new TypeError('recordSize must be a power of two from 1024 to 1048576');
  checkBytes('envelopeId', params.envelopeId, ID_LENGTH);
  checkKeys(params);
  if (!(plaintext instanceof Uint8Array)) throw new TypeError('plaintext must be a Uint8Array');

  const header = new Uint8Array(ENVELOPE_HEADER_LENGTH);
  header.set(MAGIC, 0);
  header[4] = VERSION;
  header[5] = algorithm.byte;
  new DataView(header.buffer).setUint32(6, recordSize);
  header.set(params.envelopeId, 10);

  const key = await deriveContentKey(params, header, algorithm.keyLength);
  const records = Math.max(1, Math.ceil(plaintext.length / recordSize));
  // One allocation for the whole envelope; records are written into views of it.
  const out = new Uint8Array(ENVELOPE_HEADER_LENGTH + plaintext.length + records * TAG_LENGTH);
  out.set(header, 0);
  await forEachRecord(records, async (i) => {
    const start = i * recordSize;
    const length = Math.min(recordSize, plaintext.length - start);
    const at = ENVELOPE_HEADER_LENGTH + i * (recordSize + TAG_LENGTH);
    await key.seal(recordNonce(i, i === records - 1), header, plaintext.subarray(start, start + length), out.subarray(at, at + length + TAG_LENGTH));
    return true;
  });
  return out;
}

export async function openEnvelope(params: OpenParams, envelope: Uint8Array): Promise<Uint8Array> {
  if (!(envelope instanceof Uint8Array)) throw new TypeError('envelope must be a Uint8Array');
  return openEnvelopeStream(params, [envelope], { expectedLength: envelope.length });
}

export interface StreamOptions {
  /** the envelope's length when known (a Content-Length): the buffers are allocated once */
  expectedLength?: number | null;
  /**
   * Called after each step with the plaintext authenticated so far (a view that later steps may
   * replace, so copy what must outlive the call). Records are authenticated one by one and bound
   * to their position, so this prefix is exactly what the sender sealed; whether the message
   * ends there is known only when the whole envelope has opened.
   */
  onVerified?: (prefix: Uint8Array) => void;
}

/**
 * Opens an envelope while it arrives (the reader decrypts a download as it comes in). A record
 * is opened as soon as a byte after it has arrived, which proves it is not the last one; the
 * last record, sealed with its own flag, is opened when the input ends, so a cut-off envelope
 * never opens. Resolves with the whole plaintext, or rejects as openEnvelope does; on failure
 * every plaintext byte written so far is zeroed.
 */
export async function openEnvelopeStream(params: OpenParams, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options: StreamOptions = {}): Promise<Uint8Array> {
  checkKeys(params);
  if (params.expectedEnvelopeId !== undefined) checkBytes('expectedEnvelopeId', params.expectedEnvelopeId, ID_LENGTH);
  const expected = options.expectedLength && options.expectedLength > 0 ? options.expectedLength : 0;
  let input: Uint8Array = new Uint8Array(0);
  let received = 0;
  let out: Uint8Array = new Uint8Array(0);
  let opener: RecordOpener | null = null;
  let opened = 0;
  try {
    for await (const chunk of chunks) {
      if (!(chunk instanceof Uint8Array)) throw new TypeError('envelope must be a Uint8Array');
      if (received === 0 && chunk.length === expected) {
        input = chunk; // the whole envelope in one piece: read it where it is
      } else {
        if (received + chunk.length > input.length) input = grown(input, received, Math.max(received + chunk.length, expected, input.length * 2));
        input.set(chunk, received);
      }
      received += chunk.length;
      // The header is read once a whole tag's worth follows it: anything shorter is cut off.
      if (!opener && received >= ENVELOPE_HEADER_LENGTH + TAG_LENGTH) opener = await startOpening(params, input);
      if (!opener) continue;
      // Records followed by at least one more byte are certainly not the last.
      const ready = Math.floor((received - ENVELOPE_HEADER_LENGTH - 1) / opener.stride);
      if (ready <= opened) continue;
      out = plaintextRoom(out, opened * opener.recordSize, ready * opener.recordSize, opener.plaintextBound(expected));
      if (!(await opener.open(input, out, opened, ready, -1, 0))) throw new EnvelopeAuthError(DAMAGED);
      opened = ready;
      options.onVerified?.(out.subarray(0, opened * opener.recordSize));
    }
    if (!opener) throw new EnvelopeFormatError(TOO_SHORT);
    const body = received - ENVELOPE_HEADER_LENGTH;
    // Every record but the last is exactly `stride` bytes; the last is whatever remains.
    const finalIndex = Math.ceil(body / opener.stride) - 1;
    const finalLength = body - finalIndex * opener.stride;
    // Cut inside a tag: nothing left that could authenticate, and the cause is the same as a bad tag.
    if (finalLength < TAG_LENGTH) throw new EnvelopeAuthError(DAMAGED);
    const length = body - (finalIndex + 1) * TAG_LENGTH;
    out = plaintextRoom(out, opened * opener.recordSize, length, length);
    if (!(await opener.open(input, out, opened, finalIndex + 1, finalIndex, finalLength))) throw new EnvelopeAuthError(DAMAGED);
    return out.length === length ? out : out.subarray(0, length);
  } catch (err) {
    // Records that did authenticate are plaintext: do not leave them for the collector.
    out.fill(0);
    throw err;
  }
}

interface RecordOpener {
  recordSize: number;
  stride: number;
  /** the most plaintext an envelope of `length` bytes can hold */
  plaintextBound(length: number): number;
  /** opens records [from, to) of `input` into `out`; record `finalIndex` is `finalLength` bytes and flagged last */
  open(input: Uint8Array, out: Uint8Array, from: number, to: number, finalIndex: number, finalLength: number): Promise<boolean>;
}

async function startOpening(params: OpenParams, input: Uint8Array): Promise<RecordOpener> {
  const parsed = parseEnvelopeHeader(input);
  if (params.expectedEnvelopeId && !constantTimeEqual(parsed.envelopeId, params.expectedEnvelopeId)) {
    throw new EnvelopeAuthError(WRONG_ENVELOPE);
  }
  if (params.expectedAlgorithm && params.expectedAlgorithm !== parsed.algorithm) throw new EnvelopeAuthError(DAMAGED);
  const { recordSize } = parsed;
  const stride = recordSize + TAG_LENGTH;
  const header = input.slice(0, ENVELOPE_HEADER_LENGTH);
  const key = await deriveContentKey(params, header, algorithmOf(parsed.algorithm).keyLength);
  return {
    recordSize,
    stride,
    plaintextBound: (length) => (length > ENVELOPE_HEADER_LENGTH ? Math.max(0, length - ENVELOPE_HEADER_LENGTH - Math.ceil((length - ENVELOPE_HEADER_LENGTH) / stride) * TAG_LENGTH) : 0),
    open: (source, out, from, to, finalIndex, finalLength) =>
      forEachRecord(to - from, (n) => {
        const i = from + n;
        const final = i === finalIndex;
        const at = ENVELOPE_HEADER_LENGTH + i * stride;
        const sealed = source.subarray(at, at + (final ? finalLength : stride));
        const plainAt = i * recordSize;
        return key.open(recordNonce(i, final), header, sealed, out.subarray(plainAt, plainAt + sealed.length - TAG_LENGTH));
      }),
  };
}

/** A copy of the first `used` bytes of `bytes` in a buffer of `size` bytes. */
function grown(bytes: Uint8Array, used: number, size: number): Uint8Array {
  const next = new Uint8Array(size);
  next.set(bytes.subarray(0, used));
  return next;
}

/**
 * `out` if it has room for `needed` bytes, or a larger buffer holding its first `used` (the old
 * one zeroed): `hint` bytes when that is enough (the expected size), else twice as many.
 */
function plaintextRoom(out: Uint8Array, used: number, needed: number, hint: number): Uint8Array {
  if (out.length >= needed) return out;
  const next = grown(out, used, hint >= needed ? hint : Math.max(needed, out.length * 2));
  out.fill(0);
  return next;
}

export function parseEnvelopeHeader(bytes: Uint8Array): EnvelopeHeader {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('envelope must be a Uint8Array');
  if (bytes.length < ENVELOPE_HEADER_LENGTH) throw new EnvelopeFormatError(TOO_SHORT);
  if (MAGIC.some((b, i) => bytes[i] !== b)) throw new EnvelopeFormatError('This file is not a Waxseal envelope.');
  if (bytes[4] !== VERSION) {
    throw new EnvelopeFormatError('This envelope uses a format version that this version of Waxseal cannot read.');
  }
  const algorithm = ALGORITHMS.find((a) => a.byte === bytes[5]);
  if (!algorithm) {
    throw new EnvelopeFormatError('This envelope uses an encryption method that this version of Waxseal does not support.');
  }
  const recordSize = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(6);
  if (!isValidRecordSize(recordSize)) throw new EnvelopeFormatError('This envelope is damaged: its header gives an impossible record size.');
  return { version: VERSION, algorithm: algorithm.name, recordSize, envelopeId: bytes.slice(10, ENVELOPE_HEADER_LENGTH) };
}

function algorithmOf(name: EnvelopeAlgorithm) {
  return ALGORITHMS.find((a) => a.name === name)!;
}

function isValidRecordSize(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_RECORD_SIZE && n <= MAX_RECORD_SIZE && (n & (n - 1)) === 0;
}

function checkBytes(name: string, value: unknown, length: number): void {
  if (!(value instanceof Uint8Array) || value.length !== length) throw new TypeError(`${name} must be a Uint8Array of ${length} bytes`);
}

function checkKeys(params: { serverShare: Uint8Array; envelopeSecret: Uint8Array }): void {
  checkBytes('serverShare', params.serverShare, SHARE_LENGTH);
  checkBytes('envelopeSecret', params.envelopeSecret, SHARE_LENGTH);
}

/**
 * HKDF-SHA256 over both halves, with the header as info: a key derived for one header (id,
 * version, algorithm, record size) is useless under any other.
 */
async function deriveContentKey(keys: { serverShare: Uint8Array; envelopeSecret: Uint8Array }, header: Uint8Array<ArrayBuffer>, keyLength: number): Promise<AeadKey> {
  const ikm = concatBytes(keys.serverShare, keys.envelopeSecret);
  let raw: Uint8Array | undefined;
  try {
    const base = await crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
    raw = new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: CONTENT_KEY_SALT, info: header }, base, keyLength * 8));
    return await importAeadKey(raw);
  } finally {
    ikm.fill(0);
    raw?.fill(0);
  }
}

/** 88-bit big-endian record index, then 0x01 on the final record and 0x00 on every other. */
function recordNonce(index: number, final: boolean): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(NONCE_LENGTH);
  const view = new DataView(nonce.buffer);
  view.setUint32(3, Math.floor(index / 0x1_0000_0000));
  view.setUint32(7, index >>> 0);
  nonce[11] = final ? 1 : 0;
  return nonce;
}

/**
 * Runs `work` for records 0..count-1 with a few in flight at once; stops starting new ones after
 * the first false. Each worker catches its own failure, so no rejection is ever left unhandled
 * while others are still running.
 */
async function forEachRecord(count: number, work: (index: number) => Promise<boolean>): Promise<boolean> {
  let next = 0;
  let ok = true;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (ok && !failure && next < count) {
      const index = next++;
      try {
        if (!(await work(index))) ok = false;
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(RECORDS_IN_FLIGHT, count) }, worker));
  if (failure) throw failure.error;
  return ok;
}
