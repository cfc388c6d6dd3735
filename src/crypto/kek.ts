import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Key-encryption keys (KEKs) wrap every stored server share. They live outside the database
 * (environment or a key file), so a stolen database or backup holds only wrapped shares.
 * Keys are numbered; the highest number wraps new shares, older ones still unwrap until
 * `waxseal kek rewrap` has moved every share to the current version.
 */
export interface KeyRing {
  readonly currentVersion: number;
  readonly versions: readonly number[];
  wrap(envelopeId: string, share: Uint8Array): { wrapped: Buffer; version: number };
  unwrap(envelopeId: string, wrapped: Uint8Array, version: number): Buffer;
}

export class KeyRingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyRingError';
  }
}

const NONCE = 12;
const TAG = 16;

export function createKeyRing(keys: ReadonlyMap<number, Buffer>): KeyRing {
  if (keys.size === 0) throw new KeyRingError('the key ring is empty');
  for (const [v, k] of keys) {
    if (!Number.isInteger(v) || v < 1) throw new KeyRingError(`key version ${v} is not a positive whole number`);
    if (k.length !== 32) throw new KeyRingError(`key version ${v} is not 32 bytes`);
  }
  // KeyObjects are made once; building one from raw bytes on every wrap is measurable at upload rates.
  const keyObjects = new Map<number, KeyObject>([...keys].map(([v, k]) => [v, createSecretKey(k)]));
  const versions = [...keys.keys()].sort((a, b) => a - b);
  const currentVersion = versions[versions.length - 1]!;
  // The AAD ties a wrapped share to its envelope and KEK version: a wrapped share copied
  // onto another envelope's row does not unwrap.
  const aad = (envelopeId: string, version: number) => Buffer.from(`waxseal/share/v1|${envelopeId}|${version}`, 'utf8');
  return {
    currentVersion,
    versions,
    wrap(envelopeId, share) {
      const key = keyObjects.get(currentVersion)!;
      const nonce = randomBytes(NONCE);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(aad(envelopeId, currentVersion));
      const body = Buffer.concat([cipher.update(share), cipher.final()]);
      return { wrapped: Buffer.concat([nonce, body, cipher.getAuthTag()]), version: currentVersion };
    },
    unwrap(envelopeId, wrapped, version) {
      const key = keyObjects.get(version);
      if (!key) throw new KeyRingError(`key version ${version} is not in the key ring`);
      if (wrapped.length < NONCE + TAG) throw new KeyRingError('wrapped share is too short');
      const buf = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength);
      const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, NONCE));
      decipher.setAAD(aad(envelopeId, version));
      decipher.setAuthTag(buf.subarray(buf.length - TAG));
      try {
        return Buffer.concat([decipher.update(buf.subarray(NONCE, buf.length - TAG)), decipher.final()]);
      } catch {
        throw new KeyRingError(`the share of envelope ${envelopeId} does not unwrap with key version ${version}`);
      }
    },
  };
}

/** Text form shared by WAXSEAL_KEK and the key file: `1:<base64>,2:<base64>`. */
export function parseKeyList(text: string, source: string): Map<number, Buffer> {
  const keys = new Map<number, Buffer>();
  for (const part of text.split(/[,\s]+/).filter(Boolean)) {
    const m = /^(\d+):([A-Za-z0-9+/_-]+={0,2})$/.exec(part);
    if (!m) throw new KeyRingError(`${source}: expected entries like 1:<base64 of 32 bytes>`);
    const version = Number(m[1]);
    const key = Buffer.from(m[2]!, m[2]!.includes('-') || m[2]!.includes('_') ? 'base64url' : 'base64');
    if (key.length !== 32) throw new KeyRingError(`${source}: key ${version} must be 32 bytes, got ${key.length}`);
    if (keys.has(version)) throw new KeyRingError(`${source}: key ${version} appears twice`);
    keys.set(version, key);
  }
  if (keys.size === 0) throw new KeyRingError(`${source}: no keys`);
  return keys;
}

export function formatKeyList(keys: ReadonlyMap<number, Buffer>): string {
  return [...keys.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([v, k]) => `${v}:${k.toString('base64')}`)
    .join(',');
}

export type KekSource = { source: 'env'; value: string } | { source: 'file'; path: string; create: boolean };

/**
 * Loads the key ring. With `create` (the embedded default) a missing file is created with one
 * fresh key, readable only by this user; `created` tells the caller to say so at start.
 */
export async function loadKeyRing(src: KekSource): Promise<{ ring: KeyRing; created: boolean }> {
  if (src.source === 'env') return { ring: createKeyRing(parseKeyList(src.value, 'WAXSEAL_KEK')), created: false };
  let text: string;
  try {
    text = await fs.readFile(src.path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !src.create) {
      throw new KeyRingError(`cannot read the key file ${src.path}: ${(err as Error).message}`);
    }
    const keys = new Map([[1, randomBytes(32)]]);
    await writeKeyFile(src.path, keys, true);
    return { ring: createKeyRing(keys), created: true };
  }
  return { ring: createKeyRing(parseKeyList(text.trim(), src.path)), created: false };
}

/** Adds the next key version to a key file (rotation step 1; `rewrap` is step 2). */
export async function addKeyToFile(filePath: string): Promise<number> {
  let text: string;
  try {
    text = await fs.readFile(filePath, 'utf8');
  } catch (err) {
    throw new KeyRingError(`cannot read the key file ${filePath}: ${(err as Error).message}`);
  }
  const keys = parseKeyList(text.trim(), filePath);
  const next = Math.max(...keys.keys()) + 1;
  keys.set(next, randomBytes(32));
  await writeKeyFile(filePath, keys, false);
  return next;
}

async function writeKeyFile(filePath: string, keys: ReadonlyMap<number, Buffer>, exclusive: boolean): Promise<void> {
  await fs.mkdir(path.dirname(filePath), { recursive: true });
  const tmp = `${filePath}.${process.pid}.tmp`;
  await fs.writeFile(tmp, formatKeyList(keys) + '\n', { mode: 0o600, flag: 'wx' });
  if (exclusive) {
    // Two first starts at once must not each create a different key: link fails if one exists.
    try {
      await fs.link(tmp, filePath);
    } finally {
      await fs.unlink(tmp);
    }
  } else {
    await fs.rename(tmp, filePath);
  }
}
