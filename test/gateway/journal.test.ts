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

t.test('a running journal compacts: old entries leave the file and memory, new ones stay, in-flight writes hold it off', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'waxseal-journal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const day = 24 * 3600 * 1000;
  let clock = Date.parse('2026-11-01T00:00:00Z');
  const journal = openJournal(dir, { now: () => new Date(clock), keepMs: 7 * day });
  await journal.markDone('old', 'clear');
  journal.finish('old');
  clock += 8 * day;
  await journal.markDone('new', 'sealed');
  journal.finish('new');
  journal.firstSeen('waiting');

  const inFlight = journal.markDone('late', 'clear');
  t.notOk(journal.compact(), 'not while a "done" line waits for the disk');
  await inFlight;
  t.ok(journal.compact(), 'once it is on disk');
  const file = () => readFileSync(join(dir, 'journal.ndjson'), 'utf8');
  t.notMatch(file(), /"old"/, 'the entry older than keepMs left the file');
  t.notOk(journal.done('old', 'clear'), 'and memory');
  t.match(file(), /"k":"late","e":"done"/, 'the write acknowledged just before is kept');

  // Written after the swap: lands in the new file.
  await journal.markDone('after', 'tls');
  journal.finish('waiting');
  await new Promise((resolve) => setImmediate(resolve));
  journal.close();
  const again = openJournal(dir, { now: () => new Date(clock), keepMs: 7 * day });
  t.ok(again.done('new', 'sealed'), 'kept across compaction and restart');
  t.ok(again.done('late', 'clear'));
  t.ok(again.done('after', 'tls'), 'a line written after compaction survives');
  t.equal(again.waiting(), 2, '"late" and "after" were never finished; "waiting" was');
  again.close();
});

t.test('a finished message is kept as its key and first minute only, done in every part, across compaction and restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'waxseal-journal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const clock = Date.parse('2026-11-01T10:20:30Z');
  const journal = openJournal(dir, { now: () => new Date(clock) });
  await journal.markDone('notified', 'notice');
  journal.finish('notified');
  journal.firstSeen('waiting');
  t.ok(journal.isFinished('notified'));
  t.notOk(journal.isFinished('waiting'));
  t.ok(journal.done('notified', 'sealed'), 'a finished message needs no part again, not even one it never handed back');
  t.notOk(journal.done('waiting', 'sealed'));
  t.equal(journal.waiting(), 1);
  await journal.markDone('notified', 'clear');
  journal.finish('notified');
  t.ok(journal.compact());
  const lines = readFileSync(join(dir, 'journal.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { k: string; e: string; t: number });
  t.same(lines.filter((l) => l.k === 'notified'), [{ k: 'notified', e: 'finished', t: Date.parse('2026-11-01T10:20:00Z') }], 'one line for it, nothing written after it finished');
  journal.close();
  const again = openJournal(dir, { now: () => new Date(clock) });
  t.ok(again.isFinished('notified'), 'still finished after a restart');
  t.same(again.firstSeen('notified'), new Date('2026-11-01T10:20:00Z'), 'first seen, to the minute');
  t.equal(again.waiting(), 1, '"waiting" still waits');
  again.close();
});
