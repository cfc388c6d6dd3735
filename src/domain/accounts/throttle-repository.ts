import { sql, type ExpressionBuilder, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../../db/schema.ts';

export interface CounterKey {
  scope: string;
  key: string;
}

const matching = (keys: readonly CounterKey[]) => (eb: ExpressionBuilder<DB, 'auth_throttle'>) =>
  eb.or(keys.map((k) => eb.and([eb('scope', '=', k.scope), eb('key', '=', k.key)])));

export interface CounterRule extends CounterKey {
  /** The wait in seconds after n counted attempts is waits[min(n, waits.length - 1)]. */
  waits: readonly number[];
  /** A counter idle this long counts from zero again. */
  forgetSeconds: number;
}

/**
 * One attempt on counters that all exist already (the usual case), in one statement, since a
 * sign-in pays for every round trip to the database: locks the counters in sorted order, so
 * that two requests sharing keys cannot deadlock; if none makes the caller wait, counts one
 * attempt under every key (a forgotten counter again from 1); and returns the counters as they
 * stood under the lock, with whether the attempt was counted. When a counter is missing nothing
 * is counted and `missing` is set: the caller then takes the path that creates counters
 * (lockCounters, setCounters), which handles two requests creating the same one.
 *
 * The waits come from the caller's policy as a table, so the policy's arithmetic stays in one
 * place (throttle-policy.ts); this statement only compares times.
 */
export async function countAttempt(db: Kysely<DB>, rules: readonly CounterRule[], now: Date) {
  const keys = sql.join(rules.map((r) => sql`(${r.scope}::text, ${r.key}::text, ${[...r.waits]}::float8[], ${r.forgetSeconds}::float8)`));
  const { rows } = await sql<{ counted: number; scope: string | null; attempts: number | null; last_at: Date | null }>`
    WITH k(scope, key, waits, forget) AS (VALUES ${keys}),
    locked AS (
      SELECT t.scope, t.key, t.attempts, t.last_at FROM auth_throttle t JOIN k ON t.scope = k.scope AND t.key = k.key
      ORDER BY t.scope COLLATE "C", t.key COLLATE "C" FOR UPDATE OF t
    ),
    judged AS (
      SELECT l.scope, l.key, l.attempts, l.last_at,
        l.last_at <= ${now}::timestamptz - make_interval(secs => k.forget) AS forgotten,
        k.waits[least(l.attempts, cardinality(k.waits) - 1) + 1] AS wait
      FROM locked l JOIN k ON l.scope = k.scope AND l.key = k.key
    ),
    counted AS (
      UPDATE auth_throttle AS t
      SET attempts = CASE WHEN j.forgotten THEN 1 ELSE j.attempts + 1 END, last_at = ${now}::timestamptz
      FROM judged j
      WHERE t.scope = j.scope AND t.key = j.key
        AND (SELECT count(*) FROM judged) = ${rules.length}
        AND NOT EXISTS (SELECT 1 FROM judged WHERE NOT forgotten AND wait > 0 AND last_at + make_interval(secs => wait) > ${now}::timestamptz)
      RETURNING t.scope
    )
    SELECT c.n::int AS counted, l.scope, l.attempts, l.last_at
    FROM (SELECT count(*) AS n FROM counted) c LEFT JOIN locked l ON true`.execute(db);
  const counters = rows.flatMap((r) => (r.scope !== null && r.attempts !== null && r.last_at !== null ? [{ scope: r.scope, attempts: r.attempts, last_at: r.last_at }] : []));
  return { counted: (rows[0]?.counted ?? 0) > 0, missing: counters.length < rules.length, counters };
}

/**
 * Makes sure every counter has a row and locks them all for the rest of the transaction, in one
 * statement: an upsert whose conflict branch changes nothing but takes the row lock, returning
 * each counter as it stands. Keys are sorted by code unit, as COLLATE "C" sorts them in the other
 * statements here, so two requests sharing keys lock them in the same order and cannot deadlock.
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
 * After a success: the counters in `clear` start from zero and those in `takeBack` lose one
 * attempt (never below zero). The rows are locked first, in the same order as countAttempt and
 * lockCounters take them: a settle that locked them in another order deadlocked with a
 * concurrent attempt on the same two counters (one person signing in from two tabs).
 *
 * Written as two common table expressions (throttle_locked, throttle_settled), so that the
 * statement that opens the session after a sign-in can settle in the same round trip.
 */
export function settleCtes(keys: CounterSettlement): RawBuilder<unknown> {
  const pairs = (list: readonly CounterKey[]) => (list.length ? sql.join(list.map((k) => sql`(${k.scope}::text, ${k.key}::text)`)) : sql`(NULL, NULL)`);
  return sql`throttle_locked AS (
      SELECT scope, key FROM auth_throttle WHERE (scope, key) IN (${pairs([...keys.clear, ...keys.takeBack])})
      ORDER BY scope COLLATE "C", key COLLATE "C" FOR UPDATE
    ),
    throttle_settled AS (
      UPDATE auth_throttle AS t
      SET attempts = CASE WHEN (t.scope, t.key) IN (${pairs(keys.clear)}) THEN 0 ELSE greatest(t.attempts - 1, 0) END
      FROM throttle_locked l WHERE t.scope = l.scope AND t.key = l.key
      RETURNING 1
    )`;
}

export interface CounterSettlement {
  clear: readonly CounterKey[];
  takeBack: readonly CounterKey[];
}

export async function settleCounters(db: Kysely<DB>, keys: CounterSettlement) {
  if (keys.clear.length === 0 && keys.takeBack.length === 0) return;
  await sql`WITH ${settleCtes(keys)} SELECT count(*) FROM throttle_settled`.execute(db);
}

export async function readCounters(db: Kysely<DB>, keys: readonly CounterKey[]) {
  if (keys.length === 0) return [];
  return db.selectFrom('auth_throttle').select(['scope', 'key', 'attempts', 'last_at']).where(matching(keys)).execute();
}

/** Removes counters idle for longer than `before`, which every policy has forgotten anyway. */
export async function deleteIdleCounters(db: Kysely<DB>, scope: string, before: Date) {
  await db.deleteFrom('auth_throttle').where('scope', '=', scope).where('last_at', '<', before).execute();
}
