import type { ExpressionBuilder, Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';

export interface CounterKey {
  scope: string;
  key: string;
}

const matching = (keys: readonly CounterKey[]) => (eb: ExpressionBuilder<DB, 'auth_throttle'>) =>
  eb.or(keys.map((k) => eb.and([eb('scope', '=', k.scope), eb('key', '=', k.key)])));

/**
 * Makes sure every counter has a row, then locks them all for the rest of the transaction.
 * Keys are locked in one order (sorted) so two requests sharing keys cannot deadlock.
 */
export async function lockCounters(tx: Kysely<DB>, keys: readonly CounterKey[], now: Date) {
  const sorted = [...keys].sort((a, b) => (a.scope === b.scope ? (a.key < b.key ? -1 : 1) : a.scope < b.scope ? -1 : 1));
  await tx
    .insertInto('auth_throttle')
    .values(sorted.map((k) => ({ scope: k.scope, key: k.key, attempts: 0, last_at: now })))
    .onConflict((oc) => oc.columns(['scope', 'key']).doNothing())
    .execute();
  return tx
    .selectFrom('auth_throttle')
    .select(['scope', 'key', 'attempts', 'last_at'])
    .where(matching(sorted))
    .orderBy('scope')
    .orderBy('key')
    .forUpdate()
    .execute();
}

export async function setCounter(tx: Kysely<DB>, key: CounterKey, attempts: number, lastAt: Date) {
  await tx.updateTable('auth_throttle').set({ attempts, last_at: lastAt }).where('scope', '=', key.scope).where('key', '=', key.key).execute();
}

export async function deleteCounters(db: Kysely<DB>, keys: readonly CounterKey[]) {
  if (keys.length === 0) return;
  await db.deleteFrom('auth_throttle').where(matching(keys)).execute();
}

/** Takes back one attempt (it turned out not to be a failure); never below zero. */
export async function decrementCounters(db: Kysely<DB>, keys: readonly CounterKey[]) {
  if (keys.length === 0) return;
  await db
    .updateTable('auth_throttle')
    .set((eb) => ({ attempts: eb.fn('greatest', [eb('attempts', '-', 1), eb.lit(0)]) }))
    .where(matching(keys))
    .execute();
}

export async function readCounters(db: Kysely<DB>, keys: readonly CounterKey[]) {
  if (keys.length === 0) return [];
  return db.selectFrom('auth_throttle').select(['scope', 'key', 'attempts', 'last_at']).where(matching(keys)).execute();
}

/** Removes counters idle for longer than `before`, which every policy has forgotten anyway. */
export async function deleteIdleCounters(db: Kysely<DB>, scope: string, before: Date) {
  await db.deleteFrom('auth_throttle').where('scope', '=', scope).where('last_at', '<', before).execute();
}
