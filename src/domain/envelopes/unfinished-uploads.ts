import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { createPeriodicJob } from '../periodic-job.ts';
import * as repo from './envelope-repository.ts';

export interface UnfinishedUploadSweep {
  /** Deletes the envelopes whose payload has not arrived a day after their key; returns how many. */
  sweep(): Promise<number>;
  /** Sweeps every `intervalMs` until stop(). */
  start(intervalMs?: number): void;
  stop(): Promise<void>;
}

/** A payload comes seconds after its key; a day leaves room for any clock and any retry. */
export const UNFINISHED_UPLOAD_AGE_MS = 24 * 3600 * 1000;
const BATCH = 500;

/**
 * A gateway sealing by reference stores the key first and the payload second. When the payload
 * upload fails, the gateway answers the MTA "try again later" and seals the message afresh at
 * the retry, under a new envelope: the first envelope was never handed back to the mail
 * system, so nobody has its file. Its row is not a message anyone sent (the message lists and
 * the read-by notices leave it out) and is deleted here once it is a day old.
 */
export function createUnfinishedUploadSweep(deps: { db: Kysely<DB>; now?: () => Date; log?: { error(obj: object, msg: string): void } }): UnfinishedUploadSweep {
  const now = deps.now ?? (() => new Date());
  async function sweep(): Promise<number> {
    let deleted = 0;
    for (;;) {
      const ids = await repo.deleteUnfinishedUploads(deps.db, new Date(now().getTime() - UNFINISHED_UPLOAD_AGE_MS), BATCH);
      deleted += ids.length;
      if (ids.length < BATCH) return deleted;
    }
  }
  const job = createPeriodicJob(sweep, (err) => deps.log?.error({ err }, 'sweep of unfinished uploads failed'));
  return { sweep, start: (intervalMs = 3600_000) => job.start(intervalMs), stop: () => job.stop() };
}
