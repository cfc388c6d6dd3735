import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';

export interface CounterKey {
  scope: string;
  key: string;
}

const matching = (keys: readonly CounterKey[]) => (eb: ExpressionBuilder<DB, 'auth_throttle'>) =>
  eb.or(keys.map((k) => eb.and([eb('scope', '=', k.scope), eb('key', '=', k.key)])));

/**
 * Makes sure every counter has a row and locks them all for the rest of the transaction, in one
 * statement: an upsert whose conflict branch changes nothing but takes the row lock, returning
 * each counter as it stands. Keys are sorted, so two requests sharing keys lock them in the same
 * order and cannot deadlock.
 */
export async function lockCounters(tx: Kysely<DB>, keys: readonly CounterKey[], now: Date) {
  const sorted = [...keys].sort((a, b) => (a.scope === b.scope ? (a.key < b.key ? -1 : 1) : a.scope < b.scope ? -1 : 1));
  return tx
    .insertInto('auth_throttle')
    .values(sorted.map((k) => ({ scope: k.scope, key: k.key, attempts: 0, last_at: now })))
    .onConflict((oc) => oc.columns(['scope', 'key']).doUpdateSet((eb) => ({ attempts: eb.ref('auth_throttle.attempts') })))
    .returning(['scope', 'key', 'attempts', 'last_at'])
    .execute();
}

/** Sets several counters in one statement (each to its own count, all to the same time). */
export async function setCounters(tx: Kysely<DB>, counters: readonly (CounterKey & { attempts: number })[], lastAt: Date) {
  if (counters.length === 0) return;
  const values = sql.join(counters.map((c) => sql`(${c.scope}, ${c.key}, ${c.attempts}::int)`));
  await sql`UPDATE auth_throttle AS t SET attempts = v.attempts, last_at = ${lastAt}
    FROM (VALUES ${values}) AS v(scope, key, attempts)
    WHERE t.scope = v.scope AND t.key = v.key`.execute(tx);
}

/**
 * After a success, in one statement: the counters in `clear` start from zero and those in
 * `takeBack` lose one attempt (never below zero). The rows are locked first, in the same order
 * as lockCounters takes them: a settle that locked them in another order deadlocked with a
 * concurrent attempt on the same two counters (one person signing in from two tabs).
 */
export async function settleCounters(db: Kysely<DB>, clear: readonly CounterKey[], takeBack: readonly CounterKey[]) {
  if (clear.length === 0 && takeBack.length === 0) return;
  const pairs = (keys: readonly CounterKey[]) => (keys.length ? sql.join(keys.map((k) => sql`(${k.scope}, ${k.key})`)) : sql`(NULL, NULL)`);
  await sql`WITH locked AS (
      SELECT scope, key FROM auth_throttle WHERE (scope, key) IN (${pairs([...clear, ...takeBack])}) ORDER BY scope, key FOR UPDATE
    )
    UPDATE auth_throttle AS t
    SET attempts = CASE WHEN (t.scope, t.key) IN (${pairs(clear)}) THEN 0 ELSE greatest(t.attempts - 1, 0) END
    FROM locked WHERE t.scope = locked.scope AND t.key = locked.key`.execute(db);
}

export async function readCounters(db: Kysely<DB>, keys: readonly CounterKey[]) {
  if (keys.length === 0) return [];
  return db.selectFrom('auth_throttle').select(['scope', 'key', 'attempts', 'last_at']).where(matching(keys)).execute();
}

/** Removes counters idle for longer than `before`, which every policy has forgotten anyway. */
export async function deleteIdleCounters(db: Kysely<DB>, scope: string, before: Date) {
  await db.deleteFrom('auth_throttle').where('scope', '=', scope).where('last_at', '<', before).execute();
}
