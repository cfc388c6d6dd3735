import t from 'tap';
import { createReadBatcher } from '../../src/db/read-batcher.ts';

interface Row {
  id: number;
  name: string;
}

const table = new Map<number, Row>([1, 2, 3, 4, 5].map((id) => [id, { id, name: `row ${id}` }]));

t.test('keys asked in one turn share one read; each caller gets its own row, or undefined', async (t) => {
  const reads: number[][] = [];
  const batcher = createReadBatcher(async (ids: number[]) => {
    reads.push(ids);
    // Rows come back in any order, as a database returns them.
    return ids.map((id) => table.get(id)).filter((r): r is Row => r !== undefined).reverse();
  }, (row) => row.id);
  const rows = await Promise.all([3, 1, 99, 3].map((id) => batcher.load(id)));
  t.same(rows, [table.get(3), table.get(1), undefined, table.get(3)]);
  t.same(reads, [[3, 1, 99]], 'one read, a key asked twice read once');
  t.same(await batcher.load(2), table.get(2));
  t.same(reads.at(-1), [2], 'a later key goes in a read of its own');
});

t.test('a key that makes the batch fail fails only its own caller', async (t) => {
  const batcher = createReadBatcher(async (ids: number[]) => {
    if (ids.includes(13)) throw new Error('bad key');
    return ids.map((id) => table.get(id)!).filter(Boolean);
  }, (row) => row.id);
  const results = await Promise.allSettled([1, 13, 2].map((id) => batcher.load(id)));
  t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  t.same(results[0], { status: 'fulfilled', value: table.get(1) });
  t.match(results[1], { status: 'rejected', reason: { message: 'bad key' } });
});

t.test('batches are capped', async (t) => {
  const sizes: number[] = [];
  const batcher = createReadBatcher(async (ids: number[]) => {
    sizes.push(ids.length);
    return [];
  }, (row: Row) => row.id, { maxBatch: 2 });
  await Promise.all([1, 2, 3, 4, 5].map((id) => batcher.load(id)));
  t.same(sizes, [2, 2, 1]);
});
