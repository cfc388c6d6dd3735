import { randomBytes, timingSafeEqual } from 'node:crypto';
import argon2 from 'argon2';

/**
 * Recipients' passphrases, stored as argon2id PHC strings:
 *
 *   $argon2id$v=19$m=19456,t=2,p=1$<salt, unpadded base64>$<hash, unpadded base64>
 *
 * The string is written here (argon2 is asked for the raw hash only), always with the parameters
 * in the canonical m,t,p order, so other stacks (libsodium, passlib, Go's x/crypto, PHP) can verify
 * it; argon2 0.45 writes m,p,t, which some of them refuse. Reading is tolerant of order, because
 * strings from elsewhere (or from a newer argon2 binding) may come in any order.
 *
 * Verification is bounded: argon2 runs on libuv's thread pool, which fs, dns and zlib share, so
 * a burst of logins must not occupy all of it (the key service sizes the pool from
 * HASH_CONCURRENCY at start, src/config.ts). Excess calls wait in FIFO order instead of failing;
 * shedding load is the job of the throttling in front of this.
 */

export interface Argon2Params {
  /** Memory in KiB. */
  readonly memoryCost: number;
  /** Passes over memory. */
  readonly timeCost: number;
  /** Lanes. */
  readonly parallelism: number;
}

export interface VerifyResult {
  ok: boolean;
  /** The stored string was made with other parameters (or is unreadable): store a fresh hash. */
  needsRehash: boolean;
}

export interface PassphraseHasher {
  hash(passphrase: string): Promise<string>;
  verify(stored: string, passphrase: string): Promise<VerifyResult>;
  /**
   * One verification against a fixed hash made with the current parameters, for an account that
   * does not exist, so that "no such account" costs the same time as "wrong passphrase". Always false.
   */
  dummyVerify(passphrase: string): Promise<false>;
  readonly params: Argon2Params;
  /** Hashes and verifications holding a slot now (never above maxConcurrent). */
  inFlight(): number;
  /** Calls waiting for a slot. */
  waiting(): number;
}

/** OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane (~25 ms a verification on this hardware). */
export const DEFAULT_ARGON2_PARAMS: Argon2Params = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1 });

const SALT_BYTES = 16;
const HASH_BYTES = 32;
const ARGON2_VERSION = 0x13;

/**
 * A hash of 32 random bytes (discarded) under DEFAULT_ARGON2_PARAMS, used by dummyVerify. Being a
 * constant, the first unknown-account login costs exactly one verification too; hashers with other
 * parameters make their own once, lazily.
 */
const DEFAULT_DUMMY_HASH =
  '$argon2id$v=19$m=19456,t=2,p=1$tsovKprAXzrz23nEelMGEQ$lo6FQlwO1pvilWtwEw5uPBJQnl5P1IrtdlrQ3guKGdc';

/**
 * Sanity bounds for parameters read from a stored string, so that a corrupted or hostile row
 * cannot make one verification allocate gigabytes or spin for minutes. Far above anything
 * this service writes.
 */
const MAX_MEMORY_KIB = 1024 * 1024;
const MAX_TIME_COST = 64;
const MAX_PARALLELISM = 64;

export function createPassphraseHasher(opts: { maxConcurrent?: number; params?: Argon2Params } = {}): PassphraseHasher {
  const params: Argon2Params = Object.freeze({ ...(opts.params ?? DEFAULT_ARGON2_PARAMS) });
  checkParams(params);
  const limiter = createLimiter(opts.maxConcurrent ?? 2);
  let dummyHash: Promise<string> | null = sameParams(params, DEFAULT_ARGON2_PARAMS) ? Promise.resolve(DEFAULT_DUMMY_HASH) : null;

  async function hash(passphrase: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const digest = await limiter.run(() =>
      argon2.hash(normalise(passphrase), { ...params, type: argon2.argon2id, version: ARGON2_VERSION, hashLength: HASH_BYTES, salt, raw: true }),
    );
    return formatPhc({ id: 'argon2id', version: ARGON2_VERSION, params, salt, hash: digest });
  }

  async function verify(stored: string, passphrase: string): Promise<VerifyResult> {
    const parsed = parsePhc(stored);
    // Unreadable: not a match, and the caller should replace it if the account ever gets in another way.
    if (!parsed) return { ok: false, needsRehash: true };
    const needsRehash =
      parsed.id !== 'argon2id' ||
      parsed.version !== ARGON2_VERSION ||
      !sameParams(parsed.params, params) ||
      parsed.salt.length !== SALT_BYTES ||
      parsed.hash.length !== HASH_BYTES;
    let actual: Buffer;
    try {
      actual = await limiter.run(() =>
        argon2.hash(normalise(passphrase), {
          ...parsed.params,
          type: TYPES[parsed.id],
          version: parsed.version,
          hashLength: parsed.hash.length,
          salt: parsed.salt,
          raw: true,
        }),
      );
    } catch {
      // argon2 refused the parameters (e.g. m below 8·p): as unreadable.
      return { ok: false, needsRehash: true };
    }
    return { ok: timingSafeEqual(actual, parsed.hash), needsRehash };
  }

  async function dummyVerify(passphrase: string): Promise<false> {
    if (!dummyHash) {
      const made = hash(randomBytes(32).toString('base64'));
      dummyHash = made;
      // A failure is retried on the next call rather than remembered.
      made.catch(() => {
        if (dummyHash === made) dummyHash = null;
      });
    }
    await verify(await dummyHash, passphrase);
    return false;
  }

  return { hash, verify, dummyVerify, params, inFlight: limiter.inFlight, waiting: limiter.waiting };
}

/**
 * NFC, so that "café" typed as one code point (macOS, most keyboards) or as e + combining acute
 * (some Linux input methods, copy-paste from some PDFs) is the same passphrase. NFC rather than
 * NFKC: compatibility folding would merge characters a user may have chosen on purpose.
 */
function normalise(passphrase: string): string {
  return passphrase.normalize('NFC');
}

const TYPES = { argon2d: argon2.argon2d, argon2i: argon2.argon2i, argon2id: argon2.argon2id } as const;
type Argon2Id = keyof typeof TYPES;

export interface ParsedPhc {
  id: Argon2Id;
  version: number;
  params: Argon2Params;
  salt: Buffer;
  hash: Buffer;
}

function sameParams(a: Argon2Params, b: Argon2Params): boolean {
  return a.memoryCost === b.memoryCost && a.timeCost === b.timeCost && a.parallelism === b.parallelism;
}

function checkParams(p: Argon2Params): void {
  const ok =
    Number.isInteger(p.memoryCost) && Number.isInteger(p.timeCost) && Number.isInteger(p.parallelism) &&
    p.parallelism >= 1 && p.parallelism <= MAX_PARALLELISM &&
    p.timeCost >= 1 && p.timeCost <= MAX_TIME_COST &&
    p.memoryCost >= 8 * p.parallelism && p.memoryCost <= MAX_MEMORY_KIB;
  if (!ok) throw new RangeError(`argon2 parameters out of range: ${JSON.stringify(p)}`);
}

/** Canonical PHC form: `$id$v=19$m=..,t=..,p=..$salt$hash`, unpadded standard base64. */
export function formatPhc(p: ParsedPhc): string {
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
  return `$${p.id}$v=${p.version}$m=${p.params.memoryCost},t=${p.params.timeCost},p=${p.params.parallelism}$${b64(p.salt)}$${b64(p.hash)}`;
}

/**
 * Strict reader of argon2 PHC strings. Parameters m, t and p must each appear exactly once, in any
 * order; other parameters (keyid, data) are refused since nothing here writes them. A missing
 * `v=` means version 16, as the reference implementation reads it. Returns null for anything else.
 */
export function parsePhc(stored: string): ParsedPhc | null {
  if (typeof stored !== 'string' || stored.length > 512) return null;
  const fields = stored.split('$');
  // ['', id, (v=..), params, salt, hash]
  if (fields[0] !== '' || (fields.length !== 5 && fields.length !== 6)) return null;
  const id = fields[1]!;
  if (!Object.hasOwn(TYPES, id)) return null;
  let version = 0x10;
  let i = 2;
  if (fields.length === 6) {
    const v = /^v=(\d{1,3})$/.exec(fields[2]!);
    if (!v) return null;
    version = Number(v[1]);
    if (version !== 0x10 && version !== 0x13) return null;
    i = 3;
  }
  const seen = new Map<string, number>();
  for (const pair of fields[i]!.split(',')) {
    const kv = /^([mtp])=(0|[1-9]\d{0,9})$/.exec(pair);
    if (!kv || seen.has(kv[1]!)) return null;
    seen.set(kv[1]!, Number(kv[2]));
  }
  const memoryCost = seen.get('m');
  const timeCost = seen.get('t');
  const parallelism = seen.get('p');
  if (memoryCost === undefined || timeCost === undefined || parallelism === undefined) return null;
  const params = { memoryCost, timeCost, parallelism };
  try {
    checkParams(params);
  } catch {
    return null;
  }
  const salt = decodeB64(fields[i + 1]!);
  const hash = decodeB64(fields[i + 2]!);
  // argon2's own minimums: 8-byte salt, 4-byte output.
  if (!salt || !hash || salt.length < 8 || hash.length < 4 || hash.length > 128) return null;
  return { id: id as Argon2Id, version, params, salt, hash };
}

/** Unpadded standard base64, refusing anything that would not re-encode to the same text. */
function decodeB64(s: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]+$/.test(s)) return null;
  const bytes = Buffer.from(s, 'base64');
  return bytes.toString('base64').replace(/=+$/, '') === s ? bytes : null;
}

export interface Limiter {
  run<T>(fn: () => Promise<T>): Promise<T>;
  inFlight(): number;
  waiting(): number;
}

/**
 * A counting semaphore with a FIFO queue. A finishing task hands its slot straight to the oldest
 * waiter, so a newcomer can never overtake a queued call (which, under a guessing burst, would
 * leave genuine logins waiting without bound).
 */
export function createLimiter(maxConcurrent: number): Limiter {
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError('maxConcurrent must be a positive integer');
  type Waiter = { wake: () => void; next: Waiter | null };
  let active = 0;
  let queued = 0;
  let head: Waiter | null = null;
  let tail: Waiter | null = null;

  function acquire(): Promise<void> | null {
    if (active < maxConcurrent) {
      active++;
      return null;
    }
    return new Promise<void>((wake) => {
      const w: Waiter = { wake, next: null };
      if (tail) tail.next = w;
      else head = w;
      tail = w;
      queued++;
    });
  }

  function release(): void {
    const w = head;
    if (!w) {
      active--;
      return;
    }
    head = w.next;
    if (!head) tail = null;
    queued--;
    w.wake(); // the slot passes on; `active` is unchanged
  }

  async function run<T>(fn: () => Promise<T>): Promise<T> {
    const wait = acquire();
    if (wait) await wait;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  return { run, inFlight: () => active, waiting: () => queued };
}
