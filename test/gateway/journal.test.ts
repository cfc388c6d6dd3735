import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openJournal } from '../../src/gateway/filter/journal.ts';

t.test('the journal keeps what was done across a restart, and refuses to write once closed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'waxseal-journal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const journal = openJournal(dir);
  await Promise.all([journal.markDone('m1', 'sealed'), journal.markDone('m2', 'clear')]);
  journal.finish('m2');
  t.equal(journal.waiting(), 1);
  journal.close();
  journal.close();
  await t.rejects(journal.markDone('m3', 'clear'), /journal is closed/, 'a message still in hand fails (the MTA retries it)');
  t.notMatch(readFileSync(join(dir, 'journal.ndjson'), 'utf8'), /m3/, 'and nothing of it was written');

  const again = openJournal(dir);
  t.ok(again.done('m1', 'sealed'), 'done survives');
  t.ok(again.done('m2', 'clear'));
  t.notOk(again.done('m3', 'clear'));
  t.equal(again.waiting(), 1, 'm1 was never finished');
  again.close();
});
