import type { Kysely } from 'kysely';
import type { i18n } from 'i18next';
import type { FastifyBaseLogger } from 'fastify';
import type { DB } from '../../db/schema.ts';
import type { EnvelopeService } from '../envelopes/envelope-service.ts';
import type { MailService } from '../mail/mail-service.ts';
import { decideRelease, type Decision, type Opener } from './release-rules.ts';
import { buildReadReceipt } from './read-receipt.ts';
import * as repo from './release-repository.ts';
import { createRowBatcher } from '../../db/row-batcher.ts';

export type ReleaseMode = 'applet' | 'server';

export interface ReleaseRequest {
  envelopeId: string;
  opener: Opener & { accountId?: string | null };
  /** when this opening began (the click on "Open") */
  openedAt: Date;
  mode: ReleaseMode;
  ip: string | null;
}

export type Release = (Decision & { ok: false }) | (Decision & { ok: true; serverShare: Buffer });

export interface ReleaseService {
  /** The decision alone, recording nothing: which page to show before anything is released. */
  check(envelopeId: string, opener: Opener, openedAt: Date): Promise<Decision>;
  /**
   * The single release point: decides, records the attempt (who, when, from where, which mode,
   * result), and on success returns the unwrapped server share and, the first time this
   * recipient opens the envelope, sends the sender's read receipt when the envelope asks for one.
   */
  release(request: ReleaseRequest): Promise<Release>;
  /** Records an opening that failed after the release (the envelope did not decrypt). */
  recordTampered(request: Omit<ReleaseRequest, 'openedAt'>): Promise<void>;
  events(envelopeId: string): ReturnType<typeof repo.listReleaseEvents>;
  openings(envelopeId: string): ReturnType<typeof repo.listOpenings>;
}

export function createReleaseService(deps: {
  db: Kysely<DB>;
  envelopes: EnvelopeService;
  mail: MailService;
  i18n: i18n;
  now?: () => Date;
  log?: FastifyBaseLogger;
}): ReleaseService {
  const { db, envelopes } = deps;
  const now = deps.now ?? (() => new Date());
  // Release records from concurrent openings share one INSERT (and one commit). The audit chain
  // takes them in a moment later (src/domain/audit/audit-service.ts, catchUp).
  const records = createRowBatcher((rows: Parameters<typeof repo.insertReleaseEvents>[1]) => repo.insertReleaseEvents(db, rows));
  // (envelope, address) pairs this process has seen opened: a repeat opening skips the write
  // that only the first one needs. Losing this memo (a restart, another node) only costs that
  // write again; the database decides "first" either way.
  const knownOpenings = new Set<string>();
  const KNOWN_OPENINGS_LIMIT = 100_000;

  async function sendReceipt(decision: Decision & { ok: true }, address: string, at: Date): Promise<void> {
    try {
      await deps.mail.send(buildReadReceipt({ i18n: deps.i18n }, decision.envelope, address, at));
      await repo.markReceiptSent(db, decision.envelope.id, address, now());
    } catch (err) {
      // The opening itself succeeded; a receipt that could not go is logged, and the opening
      // row without receipt_sent_at says it is owed.
      deps.log?.error({ err, envelopeId: decision.envelope.id }, 'read receipt not sent');
    }
  }

  return {
    async check(envelopeId, opener, openedAt) {
      return decideRelease(await envelopes.get(envelopeId), opener, openedAt, now());
    },

    async release(request) {
      const at = now();
      const found = await envelopes.getWithShare(request.envelopeId);
      const decision = decideRelease(found?.envelope ?? null, request.opener, request.openedAt, at);
      await records.add({
        envelope_id: request.envelopeId,
        account_id: request.opener.session?.accountId ?? null,
        address: decision.ok ? decision.address : null,
        at,
        ip: request.ip,
        mode: request.mode,
        result: decision.ok ? 'released' : decision.reason,
      });
      if (!decision.ok || !found) return decision.ok ? { ok: false, reason: 'unknown', envelope: null } : decision;
      const key = `${decision.envelope.id}\0${decision.address}`;
      if (decision.address !== null && !knownOpenings.has(key)) {
        const first = await repo.recordFirstOpening(db, {
          envelope_id: decision.envelope.id,
          address: decision.address,
          account_id: request.opener.session?.accountId ?? null,
          first_opened_at: at,
        });
        if (knownOpenings.size >= KNOWN_OPENINGS_LIMIT) knownOpenings.clear();
        knownOpenings.add(key);
        if (first && decision.envelope.flags.sendReturnReceipt) await sendReceipt(decision, decision.address, at);
      }
      return { ...decision, serverShare: found.serverShare };
    },

    async recordTampered(request) {
      await records.add({ envelope_id: request.envelopeId, account_id: request.opener.session?.accountId ?? null, address: null, at: now(), ip: request.ip, mode: request.mode, result: 'tampered' });
    },

    events: (envelopeId) => repo.listReleaseEvents(db, envelopeId),
    openings: (envelopeId) => repo.listOpenings(db, envelopeId),
  };
}
