/**
 * How fast each kind of attempt may be repeated. Every counter gives a few attempts freely, then
 * makes each further one wait twice as long as the one before, up to a cap; a counter left alone
 * for `forgetAfterSeconds` starts afresh. docs/accounts.md explains the choice of numbers.
 *
 * The per-account cap is low on purpose: anyone may type wrong passphrases for someone else's
 * address, so whatever that counter does to the attacker it also does to the owner. Heavy
 * delays belong on the counters only the attacker feeds: their own network.
 */
export interface ThrottlePolicy {
  /** Attempts allowed before any wait. */
  readonly free: number;
  /** The first wait, after the free attempts are used. */
  readonly baseSeconds: number;
  /** No wait is longer than this. */
  readonly capSeconds: number;
  /** A counter whose last attempt is this old counts from zero again. */
  readonly forgetAfterSeconds: number;
}

export const THROTTLE_POLICIES = {
  /** Passphrase checks (sign-in, re-authentication, change) against one account. */
  'passphrase-account': { free: 5, baseSeconds: 1, capSeconds: 60, forgetAfterSeconds: 3600 },
  /** Passphrase checks from one network (IPv4 address or IPv6 /64), whatever the account. */
  'passphrase-network': { free: 20, baseSeconds: 1, capSeconds: 1800, forgetAfterSeconds: 6 * 3600 },
  /** Mail (verification, reset) sent to one address. */
  'mail-address': { free: 3, baseSeconds: 30, capSeconds: 900, forgetAfterSeconds: 24 * 3600 },
  /** Mail asked for from one network. */
  'mail-network': { free: 10, baseSeconds: 30, capSeconds: 3600, forgetAfterSeconds: 24 * 3600 },
} as const satisfies Record<string, ThrottlePolicy>;

export type ThrottleScope = keyof typeof THROTTLE_POLICIES;

/** The wait in seconds that `attempts` counted attempts impose on the next one. */
export function waitAfter(policy: ThrottlePolicy, attempts: number): number {
  if (attempts < policy.free) return 0;
  // 2^k overflows to Infinity for huge k; min() still gives the cap.
  return Math.min(policy.capSeconds, policy.baseSeconds * 2 ** (attempts - policy.free));
}

/**
 * waitAfter as a table, for the database to look up: entry n is the wait after n attempts, and
 * the last entry (the cap) stands for every count beyond it.
 */
export function waitSchedule(policy: ThrottlePolicy): number[] {
  const waits = [waitAfter(policy, 0)];
  while (waits[waits.length - 1]! < policy.capSeconds) waits.push(waitAfter(policy, waits.length));
  return waits;
}

/** Whether the counter has been idle long enough to start afresh. */
export function isForgotten(policy: ThrottlePolicy, lastAt: Date, now: Date): boolean {
  return now.getTime() - lastAt.getTime() >= policy.forgetAfterSeconds * 1000;
}

/** Whole seconds until the next attempt is allowed; 0 when it is allowed now. */
export function secondsUntilAllowed(policy: ThrottlePolicy, counter: { attempts: number; lastAt: Date }, now: Date): number {
  if (isForgotten(policy, counter.lastAt, now)) return 0;
  const wait = waitAfter(policy, counter.attempts);
  // A free attempt waits for nothing. (Without this, a concurrent request that stamped the
  // counter a moment "later" than this one's clock reading made a free attempt wait a second.)
  if (wait === 0) return 0;
  const allowedAt = counter.lastAt.getTime() + wait * 1000;
  return Math.max(0, Math.ceil((allowedAt - now.getTime()) / 1000));
}
