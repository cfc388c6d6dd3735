import type { Insertable, Kysely } from 'kysely';
import type { DB, EnvelopesTable } from '../../db/schema.ts';
import { insertEnvelopes } from './envelope-repository.ts';

/**
 * Coalesces envelope inserts that arrive in the same turn of the event loop into one
 * multi-row INSERT. Gateways upload in bursts; one statement for many rows saves a round trip
 * and a commit per upload, which is most of an upload's cost. Each caller still learns whether
 * its own row was inserted (false: the id was taken), exactly as with a single-row insert.
 */
export interface InsertBatcher {
  insert(row: Insertable<EnvelopesTable>): Promise<boolean>;
}

interface Pending {
  row: Insertable<EnvelopesTable>;
  resolve: (inserted: boolean) => void;
  reject: (err: unknown) => void;
}

export function createInsertBatcher(db: Kysely<DB>, opts: { maxBatch?: number } = {}): InsertBatcher {
  const maxBatch = opts.maxBatch ?? 100;
  let queue: Pending[] = [];
  let scheduled = false;

  async function flush(batch: Pending[]): Promise<void> {
    // Two uploads of one id in the same batch: only the first goes into the statement; the
    // others are answered "taken", and the service then compares them with the stored row.
    const first = new Map<string, Pending>();
    const repeats: Pending[] = [];
    for (const p of batch) {
      if (first.has(p.row.id)) repeats.push(p);
      else first.set(p.row.id, p);
    }
    try {
      const inserted = new Set(await insertEnvelopes(db, [...first.values()].map((p) => p.row)));
      for (const [id, p] of first) p.resolve(inserted.has(id));
      for (const p of repeats) p.resolve(false);
    } catch (err) {
      if (first.size === 1 && repeats.length === 0) {
        first.values().next().value!.reject(err);
        return;
      }
      // One bad row must not fail its neighbours: retry each on its own, so every caller
      // gets its own row's answer or error.
      for (const p of batch) {
        insertEnvelopes(db, [p.row]).then((ids) => p.resolve(ids.length > 0), p.reject);
      }
    }
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      while (queue.length > 0) {
        const batch = queue.slice(0, maxBatch);
        queue = queue.slice(maxBatch);
        void flush(batch);
      }
    });
  }

  return {
    insert(row) {
      return new Promise<boolean>((resolve, reject) => {
        queue.push({ row, resolve, reject });
        schedule();
      });
    },
  };
}
