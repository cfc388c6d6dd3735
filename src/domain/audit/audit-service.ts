import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { createRowBatcher } from '../../db/row-batcher.ts';
import { createPeriodicJob } from '../periodic-job.ts';
import { chainHash, GENESIS } from './audit-chain.ts';
import * as repo from './audit-repository.ts';

// Release attempts chained per transaction: one lock and one round trip per thousand.
const CHAIN_BATCH = 1000;

export type AuditVerdict =
  | { ok: true; records: number; head: string }
  | { ok: false; records: number; seq: number; problem: string };

export interface AuditService {
  /** Appends one record; resolves once it is stored (records from one turn share a transaction). */
  record(entry: Omit<repo.NewAuditEntry, 'at'> & { at?: Date }): Promise<void>;
  /** Appends within a transaction the caller already holds (its own rows and the audit commit together). */
  appendWithin(tx: Kysely<DB>, entries: readonly repo.NewAuditEntry[]): Promise<void>;
  /** Brings release attempts written so far into the chain; returns how many it added. */
  catchUp(): Promise<number>;
  /** Runs catchUp every `intervalMs` until stop() (the key service does, on every node). */
  start(intervalMs?: number): void;
  stop(): Promise<void>;
  list(filter: repo.AuditFilter): Promise<repo.StoredAuditEntry[]>;
  /** Recomputes the whole chain from the first record; names the first record that does not fit. */
  verify(opts?: { pageSize?: number }): Promise<AuditVerdict>;
}

export function createAuditService(deps: { db: Kysely<DB>; now?: () => Date; log?: { error(obj: object, msg: string): void } }): AuditService {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  const batch = createRowBatcher((entries: repo.NewAuditEntry[]) => db.transaction().execute((tx) => repo.appendEntries(tx, entries)));

  const job = createPeriodicJob(
    () => catchUp(),
    (err) => deps.log?.error({ err }, 'audit chain catch-up failed; retrying'),
  );

  async function catchUp(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await db.transaction().execute((tx) => repo.chainReleaseEvents(tx, CHAIN_BATCH));
      total += n;
      if (n < CHAIN_BATCH) return total;
    }
  }

  return {
    record: (entry) => batch.add({ ...entry, at: entry.at ?? now() }),
    appendWithin: (tx, entries) => repo.appendEntries(tx, entries),
    catchUp,
    start: (intervalMs = 1000) => job.start(intervalMs),
    stop: () => job.stop(),
    async list(filter) {
      await catchUp();
      return repo.listEntries(db, filter);
    },

    async verify(opts = {}) {
      // Release attempts not yet chained are chained first, so the verdict covers them too.
      await catchUp();
      const pageSize = opts.pageSize ?? 1000;
      let previous: Uint8Array = GENESIS;
      let expectedSeq = 1;
      let records = 0;
      for (;;) {
        const page = await repo.readAfter(db, expectedSeq - 1, pageSize);
        if (page.length === 0) break;
        for (const entry of page) {
          if (entry.seq !== expectedSeq) return { ok: false, records, seq: expectedSeq, problem: `record ${expectedSeq} is missing (the next one is ${entry.seq})` };
          const hash = chainHash(previous, entry);
          if (Buffer.compare(Buffer.from(hash), Buffer.from(entry.hash)) !== 0) {
            return { ok: false, records, seq: entry.seq, problem: `record ${entry.seq} was changed: its content does not give its hash` };
          }
          previous = hash;
          expectedSeq += 1;
          records += 1;
        }
      }
      const head = await repo.readHead(db);
      if (head.seq !== records) return { ok: false, records, seq: records + 1, problem: `the chain ends at record ${records} but ${head.seq} were written: records were removed from the end` };
      if (Buffer.compare(Buffer.from(head.hash), Buffer.from(previous)) !== 0) return { ok: false, records, seq: records, problem: 'the last record does not match the recorded head' };
      return { ok: true, records, head: Buffer.from(previous).toString('hex') };
    },
  };
}
