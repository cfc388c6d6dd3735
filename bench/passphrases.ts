import argon2 from 'argon2';
import { createPassphraseHasher, DEFAULT_ARGON2_PARAMS } from '../src/crypto/passphrases.ts';

export interface VerifyBenchResult {
  /** Verifications the caller keeps outstanding, as a burst of logins would. */
  callers: number;
  maxConcurrent: number;
  rawPerSecond: number;
  hasherPerSecond: number;
  /** hasherPerSecond / rawPerSecond: what the PHC parsing, NFC and the concurrency bound cost. */
  ratio: number;
}

/**
 * Passphrase verifications per second at the default parameters: raw argon2.verify (which lets
 * every call onto libuv's pool at once) beside hasher.verify (bounded to maxConcurrent), each for
 * `seconds`, with the same number of callers waiting. On a 2-core machine the bound costs little
 * throughput, and leaves pool threads free for fs, dns and zlib.
 */
export async function benchVerifies(seconds: number, opts: { callers?: number; maxConcurrent?: number } = {}): Promise<VerifyBenchResult> {
  const callers = opts.callers ?? 8;
  const maxConcurrent = opts.maxConcurrent ?? 2;
  const hasher = createPassphraseHasher({ maxConcurrent, params: DEFAULT_ARGON2_PARAMS });
  const passphrase = 'a passphrase of ordinary length';
  const stored = await hasher.hash(passphrase);

  const rate = async (verify: () => Promise<unknown>) => {
    await verify(); // warm-up
    const end = performance.now() + seconds * 1000;
    let count = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (performance.now() < end) {
          await verify();
          count++;
        }
      }),
    );
    return count / ((performance.now() - t0) / 1000);
  };

  const rawPerSecond = await rate(() => argon2.verify(stored, passphrase));
  const hasherPerSecond = await rate(() => hasher.verify(stored, passphrase));
  return { callers, maxConcurrent, rawPerSecond, hasherPerSecond, ratio: hasherPerSecond / rawPerSecond };
}
