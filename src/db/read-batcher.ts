/**
 * Coalesces reads by key asked in the same turn of the event loop into one statement
 * (`WHERE key = ANY(...)`): under load, one round trip serves many requests, and on a small
 * machine the round trip (a system call that wakes a PostgreSQL backend) is most of what a read
 * by primary key costs. A read never joins a statement already sent, so each caller sees the
 * database as of a moment after it asked, as a read of its own would. Keys asked twice in one
 * turn are read once. If the batch fails, each key is read alone, so one key that makes the
 * statement fail fails only its own caller.
 */
export interface ReadBatcher<K, R> {
  load(key: K): Promise<R | undefined>;
}

type Waiter<R> = { resolve: (row: R | undefined) => void; reject: (err: unknown) => void };

export function createReadBatcher<K, R>(
  read: (keys: K[]) => Promise<R[]>,
  keyOf: (row: R) => K,
  opts: { maxBatch?: number } = {},
): ReadBatcher<K, R> {
  const maxBatch = opts.maxBatch ?? 200;
  let queue = new Map<K, Waiter<R>[]>();
  let scheduled = false;

  async function readOne(key: K, waiters: Waiter<R>[]): Promise<void> {
    try {
      const row = (await read([key])).find((r) => keyOf(r) === key);
      for (const w of waiters) w.resolve(row);
    } catch (err) {
      for (const w of waiters) w.reject(err);
    }
  }

  async function flush(batch: [K, Waiter<R>[]][]): Promise<void> {
    if (batch.length === 1) return readOne(batch[0]![0], batch[0]![1]);
    let rows: R[];
    try {
      rows = await read(batch.map(([key]) => key));
    } catch {
      for (const [key, waiters] of batch) void readOne(key, waiters);
      return;
    }
    const byKey = new Map<K, R>();
    for (const row of rows) byKey.set(keyOf(row), row);
    for (const [key, waiters] of batch) for (const w of waiters) w.resolve(byKey.get(key));
  }

  return {
    load(key) {
      return new Promise<R | undefined>((resolve, reject) => {
        const waiters = queue.get(key);
        if (waiters) waiters.push({ resolve, reject });
        else queue.set(key, [{ resolve, reject }]);
        if (scheduled) return;
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          const all = [...queue];
          queue = new Map();
          for (let i = 0; i < all.length; i += maxBatch) void flush(all.slice(i, i + maxBatch));
        });
      });
    },
  };
}
