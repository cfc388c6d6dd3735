import t from 'tap';
import { createRowBatcher } from '../../src/db/row-batcher.ts';

t.test('rows added in one tick share one write; each caller waits for its own row', async (t) => {
  const writes: number[][] = [];
  const batcher = createRowBatcher(async (rows: number[]) => {
    writes.push(rows);
  });
  await Promise.all([1, 2, 3].map((n) => batcher.add(n)));
  await batcher.add(4);
  t.same(writes, [[1, 2, 3], [4]]);
});

t.test('one bad row fails only its own caller', async (t) => {
  const stored: number[] = [];
  const batcher = createRowBatcher(async (rows: number[]) => {
    if (rows.includes(13)) throw new Error('bad row');
    stored.push(...rows);
  });
  const results = await Promise.allSettled([1, 13, 2].map((n) => batcher.add(n)));
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  t.same(stored.sort(), [1, 2]);
});

t.test('batches are capped', async (t) => {
  const sizes: number[] = [];
  const batcher = createRowBatcher(async (rows: number[]) => {
    sizes.push(rows.length);
  }, { maxBatch: 2 });
  await Promise.all([1, 2, 3, 4, 5].map((n) => batcher.add(n)));
  t.same(sizes, [2, 2, 1]);
});
