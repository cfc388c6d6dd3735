import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { isForgotten, secondsUntilAllowed, THROTTLE_POLICIES, waitSchedule, type ThrottleScope } from './throttle-policy.ts';
import * as repo from './throttle-repository.ts';

export interface ThrottleKey {
  scope: ThrottleScope;
  key: string;
}

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfter: number };

export interface Throttle {
  /**
   * Counts one attempt under every key, unless one of them still makes the caller wait: then
   * nothing is counted and the longest wait comes back. The attempt is counted before the
   * caller does the expensive part (argon2, mail), so a burst of parallel requests, on one node
   * or several, cannot all slip through before the first failure is recorded.
   */
  attempt(keys: readonly ThrottleKey[]): Promise<ThrottleVerdict>;
  /**
   * The attempt was not a failure: counters in `clear` start from zero (the account's owner
   * proved who they are), counters in `takeBack` forget this one attempt (a network's count of
   * failures must not grow with its successful sign-ins: offices share one address).
   */
  succeeded(opts: { clear?: readonly ThrottleKey[]; takeBack?: readonly ThrottleKey[] }): Promise<void>;
  /** Seconds until an attempt under these keys would be allowed, without counting one. */
  wait(keys: readonly ThrottleKey[]): Promise<number>;
}

/** Seconds until none of these counters makes an attempt wait. */
function longestWait(counters: readonly { scope: string; attempts: number; last_at: Date }[], at: Date): number {
  let retryAfter = 0;
  for (const row of counters) {
    retryAfter = Math.max(retryAfter, secondsUntilAllowed(THROTTLE_POLICIES[row.scope as ThrottleScope], { attempts: row.attempts, lastAt: row.last_at }, at));
  }
  return retryAfter;
}

/** Idle counters are deleted every this many attempts made through one process. */
const PURGE_EVERY = 500;

/** Attempt counters kept in the database, so every node of the service sees the same ones. */
export function createThrottle(deps: { db: Kysely<DB>; now?: () => Date }): Throttle {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  let attempts = 0;
  const schedules = Object.fromEntries(Object.entries(THROTTLE_POLICIES).map(([scope, policy]) => [scope, waitSchedule(policy)])) as Record<ThrottleScope, number[]>;

  async function purge(at: Date) {
    for (const [scope, policy] of Object.entries(THROTTLE_POLICIES)) {
      await repo.deleteIdleCounters(db, scope, new Date(at.getTime() - policy.forgetAfterSeconds * 1000));
    }
  }

  return {
    async attempt(keys) {
      if (keys.length === 0) return { allowed: true };
      const at = now();
      if (++attempts % PURGE_EVERY === 0) await purge(at);
      const fast = await repo.countAttempt(
        db,
        keys.map((k) => ({ ...k, waits: schedules[k.scope], forgetSeconds: THROTTLE_POLICIES[k.scope].forgetAfterSeconds })),
        at,
      );
      if (fast.counted) return { allowed: true };
      if (!fast.missing) {
        // countAttempt and secondsUntilAllowed make the same comparison; were they ever to differ,
        // a refused attempt must still say to wait rather than "try again in 0 seconds".
        return { allowed: false, retryAfter: Math.max(1, longestWait(fast.counters, at)) };
      }
      // A counter does not exist yet: create it under a lock, in a transaction.
      return db.transaction().execute(async (tx) => {
        const rows = await repo.lockCounters(tx, keys, at);
        const retryAfter = longestWait(rows, at);
        if (retryAfter > 0) return { allowed: false, retryAfter };
        await repo.setCounters(
          tx,
          rows.map((row) => ({ scope: row.scope, key: row.key, attempts: isForgotten(THROTTLE_POLICIES[row.scope as ThrottleScope], row.last_at, at) ? 1 : row.attempts + 1 })),
          at,
        );
        return { allowed: true };
      });
    },
    async succeeded(opts) {
      await repo.settleCounters(db, { clear: opts.clear ?? [], takeBack: opts.takeBack ?? [] });
    },
    async wait(keys) {
      const at = now();
      return longestWait(await repo.readCounters(db, keys), at);
    },
  };
}
