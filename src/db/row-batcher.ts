/**
 * Coalesces rows written in the same turn of the event loop into one multi-row statement: one
 * round trip and one commit for many requests, which is most of a small write's cost. Every
 * caller waits for the statement holding its row, so a caller never answers before its row is
 * stored. If the batch fails, each row is retried alone, so one bad row fails only its caller.
 */
export interface RowBatcher<T> {
  add(row: T): Promise<void>;
}

export function createRowBatcher<T>(write: (rows: T[]) => Promise<void>, opts: { maxBatch?: number } = {}): RowBatcher<T> {
  const maxBatch = opts.maxBatch ?? 200;
  let queue: { row: T; resolve: () => void; reject: (err: unknown) => void }[] = [];
  let scheduled = false;

  async function flush(batch: typeof queue): Promise<void> {
    try {
      await write(batch.map((p) => p.row));
      for (const p of batch) p.resolve();
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      for (const p of batch) write([p.row]).then(p.resolve, p.reject);
    }
  }

  return {
    add(row) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ row, resolve, reject });
        if (scheduled) return;
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          const all = queue;
          queue = [];
          for (let i = 0; i < all.length; i += maxBatch) void flush(all.slice(i, i + maxBatch));
        });
      });
    },
  };
}
