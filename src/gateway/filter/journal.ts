import { createHash } from 'node:crypto';
import { closeSync, fdatasync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';

/**
 * The gateway's memory of what it already did with a message, kept on disk so it survives a
 * crash. The MTA hands the same message again (same bytes, same envelope) whenever the gateway
 * did not answer 250; the journal lets the gateway (1) know since when the message has been
 * waiting, for the profile's queue timeout, and (2) skip parts it already handed back, so a
 * gateway killed after handing a part back but before answering does not deliver it twice.
 *
 * One line of JSON per event, appended; a "done" line is on disk (fdatasync) before the gateway
 * answers the MTA. Entries older than `keepMs` are dropped when the journal is compacted: at
 * start, and from time to time while it runs.
 */
export interface Journal {
  /** When this message was first seen (now, if never). */
  firstSeen(key: string): Date;
  /** Whether this part of this message was already handed back (every part of a finished one). */
  done(key: string, part: string): boolean;
  /** Whether the message was finished: handed again, it needs nothing more (its 250 was lost). */
  isFinished(key: string): boolean;
  /** Records that this part was handed back; durable (on disk) when the promise resolves. */
  markDone(key: string, part: string): Promise<void>;
  /** Records that the message is finished (every part handed back, or a failure notice sent). */
  finish(key: string): void;
  /** Messages seen but not finished: the ones waiting for the key service. */
  waiting(): number;
  /**
   * Rewrites the file with what is still worth keeping and forgets older entries, unless a
   * durable write is under way (then false: try again later). Runs by itself every
   * `compactEveryMs` once the file holds more lines than a rewrite would.
   */
  compact(): boolean;
  /** Closes the file (again does nothing); a message still in hand then fails, and the MTA retries it. */
  close(): void;
}

/** The key of one delivery attempt: the same message to the same envelope gives the same key. */
export function messageKey(raw: Uint8Array, sender: string, recipients: readonly string[]): string {
  const h = createHash('sha256');
  h.update(`${sender}\n${[...recipients].sort().join(',')}\n`);
  h.update(raw);
  return h.digest('base64url');
}

/** A message not finished yet: since when, and the parts already handed back. */
interface Entry {
  seen: number;
  parts: Set<string>;
}

// A finished message is remembered by its key and the minute it was first seen, nothing more:
// ~90 bytes instead of ~390 for an entry with its set of parts, and a gateway keeps every
// message of the last 14 days (a million messages a day would otherwise hold ~5 GB).
const MINUTE = 60_000;

type Line = { k: string; e: 'seen'; t: number } | { k: string; e: 'done'; p: string; t: number } | { k: string; e: 'finished'; t: number };

export function openJournal(dir: string, opts: { now?: () => Date; keepMs?: number; compactEveryMs?: number } = {}): Journal {
  const now = opts.now ?? (() => new Date());
  const keepMs = opts.keepMs ?? 14 * 24 * 3600 * 1000;
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'journal.ndjson');
  const entries = new Map<string, Entry>();
  const finished = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = '';
  }
  for (const row of text.split('\n')) {
    if (!row) continue;
    let line: Line;
    try {
      line = JSON.parse(row) as Line;
    } catch {
      // A line cut off by a crash mid-write: everything before it is intact.
      continue;
    }
    if (finished.has(line.k)) continue;
    const entry = entries.get(line.k) ?? { seen: line.t, parts: new Set<string>() };
    if (line.e === 'finished') {
      entries.delete(line.k);
      finished.set(line.k, Math.floor(entry.seen / MINUTE));
      continue;
    }
    entries.set(line.k, entry);
    if (line.e === 'done') entry.parts.add(line.p);
  }
  // Compact: forget what is older than keepMs, and rewrite the rest atomically (write, fsync,
  // rename). Returns how many lines the new file holds.
  const rewrite = (): number => {
    const cutoff = now().getTime() - keepMs;
    for (const [k, e] of entries) if (e.seen < cutoff) entries.delete(k);
    for (const [k, minute] of finished) if (minute * MINUTE < cutoff) finished.delete(k);
    const compacted: string[] = [];
    for (const [k, e] of entries) {
      compacted.push(JSON.stringify({ k, e: 'seen', t: e.seen }));
      for (const p of e.parts) compacted.push(JSON.stringify({ k, e: 'done', p, t: e.seen }));
    }
    // One line for a finished message: it is read back as first seen then.
    for (const [k, minute] of finished) compacted.push(JSON.stringify({ k, e: 'finished', t: minute * MINUTE }));
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, compacted.length ? `${compacted.join('\n')}\n` : '');
    const tmpFd = openSync(tmp, 'r');
    fsyncSync(tmpFd);
    closeSync(tmpFd);
    renameSync(tmp, file);
    return compacted.length;
  };
  let keptLines = rewrite();
  let appendedLines = 0;

  // Only "done" must be on disk before the gateway answers: it is what keeps a part from going
  // out twice. A lost "seen" (the machine failing, or the process killed in the same turn of the
  // event loop) only restarts the queue timeout; a lost "finished" only leaves a stale "waiting"
  // count. So those two wait in memory and go with the next write: the next "done" line, or the
  // end of the current turn, so the lines of a message are one write instead of three.
  // Opened once for appending: reopening the file for every line cost more than the write.
  // The descriptor lives until the next compaction, which swaps it for the new file's.
  let fd = openSync(file, 'a');
  let closed = false;
  let pending = '';
  let flushScheduled = false;
  // After a write that failed part-way, the file ends in a piece of a line: the next write
  // starts with a line end, so that piece stays a line of its own (skipped when read back)
  // instead of spoiling the line written after it.
  let cutLine = false;
  const flushPending = () => {
    flushScheduled = false;
    if (closed || pending === '') return;
    const bytes = Buffer.from(cutLine ? `\n${pending}` : pending);
    let written = 0;
    try {
      while (written < bytes.length) written += writeSync(fd, bytes, written);
    } catch (err) {
      // The lines stay pending for the next write; a "done" line's caller hears of the error.
      if (written > 0) cutLine = true;
      throw err;
    }
    pending = '';
    cutLine = false;
  };
  // At the end of a turn no caller is waiting to hear of a failure (a full disk): the lines wait
  // for the next write, whose caller does hear of it.
  const flushLater = () => {
    try {
      flushPending();
    } catch {
      // kept in `pending`; see above
    }
  };
  const append = (line: Line) => {
    // Closed while a message was still in hand (a stop that timed out): its caller fails, and
    // the MTA keeps the message, rather than the line landing in whatever file reused the number.
    if (closed) throw new Error('the journal is closed');
    pending += `${JSON.stringify(line)}\n`;
    appendedLines += 1;
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushLater);
    }
  };
  const datasync = promisify(fdatasync);
  // A "done" line is written at once (in the page cache it survives the process being killed),
  // then made durable by a group commit: every line written while one fdatasync runs is flushed
  // by the next, so many messages share a flush and the event loop never waits on the disk.
  let waiting: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  let syncing = false;
  const sync = async (): Promise<void> => {
    syncing = true;
    try {
      while (waiting.length > 0) {
        const batch = waiting;
        waiting = [];
        try {
          if (closed) throw new Error('the journal is closed');
          await datasync(fd);
          for (const w of batch) w.resolve();
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
      }
    } finally {
      syncing = false;
      if (closed) closeSync(fd);
    }
  };
  const appendDurably = (line: Line): Promise<void> => {
    append(line);
    flushPending();
    return new Promise<void>((resolve, reject) => {
      waiting.push({ resolve, reject });
      if (!syncing) void sync();
    });
  };

  const entryFor = (key: string): Entry => {
    let entry = entries.get(key);
    if (!entry) {
      entry = { seen: now().getTime(), parts: new Set() };
      entries.set(key, entry);
      append({ k: key, e: 'seen', t: entry.seen });
    }
    return entry;
  };

  // A gateway runs for months: without this its file and its memory of finished messages
  // would grow until the next start. Only between durable writes: a "done" line written but not
  // yet acknowledged is not in `entries` yet, and would be left out of the new file. Lines still
  // pending are in `entries` already (they are written there as they are appended).
  const compact = (): boolean => {
    if (closed || syncing || waiting.length > 0) return false;
    try {
      keptLines = rewrite();
    } catch {
      // A full disk: the old file stays, whole, and is tried again next time.
      return false;
    }
    const previous = fd;
    fd = openSync(file, 'a');
    closeSync(previous);
    pending = '';
    cutLine = false;
    appendedLines = 0;
    return true;
  };
  const timer = setInterval(() => {
    if (appendedLines > Math.max(keptLines, 1000)) compact();
  }, opts.compactEveryMs ?? 3600 * 1000);
  timer.unref();

  return {
    firstSeen(key) {
      const minute = finished.get(key);
      return new Date(minute === undefined ? entryFor(key).seen : minute * MINUTE);
    },
    done: (key, part) => finished.has(key) || (entries.get(key)?.parts.has(part) ?? false),
    isFinished: (key) => finished.has(key),
    async markDone(key, part) {
      if (finished.has(key)) return;
      const entry = entryFor(key);
      if (entry.parts.has(part)) return;
      await appendDurably({ k: key, e: 'done', p: part, t: now().getTime() });
      entry.parts.add(part);
    },
    finish(key) {
      if (finished.has(key)) return;
      const entry = entryFor(key);
      append({ k: key, e: 'finished', t: now().getTime() });
      entries.delete(key);
      finished.set(key, Math.floor(entry.seen / MINUTE));
    },
    waiting: () => entries.size,
    compact,
    close() {
      if (closed) return;
      clearInterval(timer);
      flushLater();
      closed = true;
      // A flush still running keeps the descriptor until it ends (the sync loop closes it then),
      // so its number cannot be reused under it.
      if (!syncing) closeSync(fd);
    },
  };
}
