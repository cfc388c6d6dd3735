
/**
 * Internal AES-GCM backend of the envelope format. Not part of the public API: nonces and keys
 * appear here and nowhere on `envelope-crypto.ts`'s surface.
 *
 * In browsers WebCrypto does the work (native, constant-time). The only gap is AES-192, which
 * Chromium's WebCrypto refuses to import; there the pure-JS @noble/ciphers GCM takes over, so a
 * browser can open every envelope a profile may produce. In Node, node:crypto's AES-GCM is used
 * (see nodeCryptoModule for why).
 */

export const NONCE_LENGTH = 12;
export const TAG_LENGTH = 16;

export type AeadBackend = 'subtle' | 'noble' | 'node';

/** One AES-GCM key, imported once per envelope and used for all of its records. */
export interface AeadKey {
  readonly backend: AeadBackend;
  /** Writes ciphertext || 16-byte tag into `out`, which is exactly plaintext.length + 16 bytes. */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): Promise<void>;
  /**
   * Writes the plaintext into `out` (sealed.length - 16 bytes) and resolves true, or resolves
   * false without writing anything if the record does not authenticate.
   */
  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array, out: Uint8Array): Promise<boolean>;
}

/**
 * Test hook, never set by the product: 'browser' makes key import behave as in a browser
 * (WebCrypto, with the fallback for refused AES-192 keys) although Node is running; 'noble'
 * forces the pure-JS fallback for every key. null restores the normal choice.
 */
let backendForTesting: 'browser' | 'noble' | null = null;

export function useAeadBackendForTesting(mode: 'browser' | 'noble' | null): void {
  backendForTesting = mode;
}

export async function importAeadKey(raw: Uint8Array): Promise<AeadKey> {
  checkKeyLength(raw);
  if (backendForTesting === 'noble') return nobleAeadKey(raw);
  const nodeCrypto = backendForTesting === 'browser' ? null : nodeCryptoModule();
  if (nodeCrypto) return nodeAeadKey(raw, nodeCrypto);
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('raw', bufferSource(raw), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  } catch (err) {
    if (raw.length === 24) return nobleAeadKey(raw);
    throw err;
  }
  return subtleAeadKey(key);
}

function subtleAeadKey(key: CryptoKey): AeadKey {
  const params = (nonce: Uint8Array, aad: Uint8Array): AesGcmParams => ({
    name: 'AES-GCM',
    iv: bufferSource(nonce),
    additionalData: bufferSource(aad),
    tagLength: TAG_LENGTH * 8,
  });
  return {
    backend: 'subtle',
    async seal(nonce, aad, plaintext, out) {
      const sealed = await crypto.subtle.encrypt(params(nonce, aad), key, bufferSource(plaintext));
      out.set(new Uint8Array(sealed));
    },
    async open(nonce, aad, sealed, out) {
      let plain: ArrayBuffer;
      try {
        plain = await crypto.subtle.decrypt(params(nonce, aad), key, bufferSource(sealed));
      } catch {
        return false;
      }
      out.set(new Uint8Array(plain));
      return true;
    },
  };
}

type NodeCrypto = typeof import('node:crypto');

/**
 * In Node the same AES-GCM comes from node:crypto, reached without an import so this file still
 * loads unchanged in a browser. WebCrypto in Node runs each record as a thread-pool job with
 * two copies; for 64 KiB records that costs more than the cipher itself, and sealing 25 MB at
 * close to the machine's raw AES speed is what keeps a gateway's queue short. A test checks
 * that both backends write identical bytes.
 */
function nodeCryptoModule(): NodeCrypto | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return (proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined) ?? null;
}

export function nodeAeadKey(raw: Uint8Array, nodeCrypto: NodeCrypto): AeadKey {
  checkKeyLength(raw);
  const algorithm = `aes-${raw.length * 8}-gcm` as 'aes-256-gcm';
  const key = nodeCrypto.createSecretKey(raw);
  return {
    backend: 'node',
    async seal(nonce, aad, plaintext, out) {
      const cipher = nodeCrypto.createCipheriv(algorithm, key, nonce, { authTagLength: TAG_LENGTH });
      cipher.setAAD(aad);
      const body = cipher.update(plaintext);
      out.set(body, 0);
      const rest = cipher.final();
      out.set(rest, body.length);
      out.set(cipher.getAuthTag(), plaintext.length);
    },
    async open(nonce, aad, sealed, out) {
      const decipher = nodeCrypto.createDecipheriv(algorithm, key, nonce, { authTagLength: TAG_LENGTH });
      decipher.setAAD(aad);
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
      const body = decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH));
      try {
        decipher.final();
      } catch {
        // Unauthenticated plaintext never reaches `out`.
        body.fill(0);
        return false;
      }
      out.set(body);
      return true;
    },
  };
}

/** WebCrypto backend, exported so tests can compare it with the others directly. */
export async function subtleAeadKeyForTesting(raw: Uint8Array): Promise<AeadKey> {
  checkKeyLength(raw);
  return subtleAeadKey(await crypto.subtle.importKey('raw', bufferSource(raw), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']));
}

/**
 * The fallback backend, also exported so tests can compare it with WebCrypto directly. Loaded
 * on first use: building its AES tables costs the reader ~10 ms that most envelopes never need.
 */
export async function nobleAeadKey(raw: Uint8Array): Promise<AeadKey> {
  checkKeyLength(raw);
  // Own copy: the caller wipes its raw key once the import returns.
  const key = raw.slice();
  const { gcm } = await import('@noble/ciphers/aes.js');
  return {
    backend: 'noble',
    async seal(nonce, aad, plaintext, out) {
      out.set(gcm(key, nonce, aad).encrypt(plaintext));
    },
    async open(nonce, aad, sealed, out) {
      let plain: Uint8Array;
      try {
        plain = gcm(key, nonce, aad).decrypt(sealed);
      } catch {
        return false;
      }
      out.set(plain);
      return true;
    },
  };
}

function checkKeyLength(raw: Uint8Array): void {
  if (raw.length !== 16 && raw.length !== 24 && raw.length !== 32) throw new TypeError('an AES key must be 16, 24 or 32 bytes');
}

/**
 * WebCrypto refuses views of a SharedArrayBuffer; only those are copied, so ordinary input
 * (including Node Buffers) is passed through without an extra copy of a 25 MB message.
 */
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  if (typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer) return bytes.slice();
  return bytes as Uint8Array<ArrayBuffer>;
}
