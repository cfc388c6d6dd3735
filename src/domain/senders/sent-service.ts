import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { DomainError } from '../errors.ts';
import * as repo from './sent-repository.ts';
import type { OrgScope } from './sent-repository.ts';

export type { OrgScope } from './sent-repository.ts';

export interface SentRecipient {
  address: string;
  field: 'to' | 'cc' | 'bcc';
  openedAt: Date | null;
}

export interface SentMessage {
  id: string;
  subject: string | null;
  sentAt: Date;
  expiresAt: Date | null;
  readBy: Date | null;
  locked: { at: Date; reason: string } | null;
  recipients: SentRecipient[];
}

export interface SentService {
  /** What the account's verified addresses sent, newest first; `q` searches subject and recipients. */
  list(accountId: string, opts: { q?: string | null; page?: number }): Promise<{ messages: SentMessage[]; page: number; more: boolean }>;
  /** One message, or null: a message the account did not send is as absent as one that does not exist. */
  get(accountId: string, id: string): Promise<SentMessage | null>;
  lock(accountId: string, id: string, reason: string): Promise<void>;
  unlock(accountId: string, id: string): Promise<void>;
  /** Sets, changes or removes (null) the expiration and read-by dates. */
  setDates(accountId: string, id: string, dates: { expiresAt: Date | null; readBy: Date | null }): Promise<void>;
}

/**
 * The lock for an organisation's administrators: every message of the organisation, or for a
 * delegated administrator those of the profiles their role names. A message out of scope is as
 * absent as one that does not exist.
 */
export interface OrgMessageService {
  list(scope: OrgScope, opts: { q?: string | null; page?: number }): Promise<{ messages: (SentMessage & { sender: string })[]; page: number; more: boolean }>;
  lock(scope: OrgScope, id: string, reason: string, actor: string): Promise<void>;
  unlock(scope: OrgScope, id: string, actor: string): Promise<void>;
}

export const SENT_PAGE_SIZE = 20;
export const MAX_LOCK_REASON = 500;

/**
 * A sender's view of what they sent, and the controls the release point obeys: lock (with a
 * reason recipients see), unlock, expiration and read-by dates. Every change is in the database,
 * so it holds at the next opening attempt on every node, and is an audit record.
 */
export function createOrgMessageService(deps: { db: Kysely<DB>; audit: AuditService; now?: () => Date }): OrgMessageService {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  async function owned(scope: OrgScope, id: string) {
    const row = await repo.findInOrg(db, scope, id);
    if (!row) throw new DomainError('not_found', 'there is no such message in this organisation');
    return row;
  }
  return {
    async list(scope, opts) {
      const page = Math.max(1, Math.floor(opts.page ?? 1));
      const q = opts.q?.trim().slice(0, 200) || null;
      const { rows, more } = await repo.listInOrg(db, scope, { q, offset: (page - 1) * SENT_PAGE_SIZE, limit: SENT_PAGE_SIZE });
      const messages = await toMessages(db, rows);
      return { messages: messages.map((m, i) => ({ ...m, sender: rows[i]!.sender })), page, more };
    },
    async lock(scope, id, reason, actor) {
      const text = checkReason(reason);
      const row = await owned(scope, id);
      await repo.setLock(db, id, { at: now(), reason: text });
      await deps.audit.record({ orgId: row.org_id, actor, action: 'envelope.lock', subject: id, detail: { reason: text } });
    },
    async unlock(scope, id, actor) {
      const row = await owned(scope, id);
      await repo.setLock(db, id, null);
      await deps.audit.record({ orgId: row.org_id, actor, action: 'envelope.unlock', subject: id, detail: {} });
    },
  };
}

function checkReason(reason: string): string {
  const text = reason.replace(/\s+/g, ' ').trim();
  if (text.length === 0 || text.length > MAX_LOCK_REASON) throw new DomainError('invalid', `the reason must be 1 to ${MAX_LOCK_REASON} characters`);
  return text;
}

async function toMessages(db: Kysely<DB>, rows: repo.SentRow[]): Promise<SentMessage[]> {
  const openings = await repo.openingsOf(db, rows.map((r) => r.id));
  return rows.map((r) => {
    const opened = new Map(openings.filter((o) => o.envelope_id === r.id).map((o) => [o.address, o.first_opened_at]));
    const recipients = (['to', 'cc', 'bcc'] as const).flatMap((field) => r[`recipients_${field}`].map((address) => ({ address, field, openedAt: opened.get(address) ?? null })));
    return {
      id: r.id,
      subject: r.subject,
      sentAt: r.created_at,
      expiresAt: r.expires_at,
      readBy: r.read_by,
      locked: r.locked_at ? { at: r.locked_at, reason: r.lock_reason ?? '' } : null,
      recipients,
    };
  });
}

export function createSentService(deps: { db: Kysely<DB>; accounts: Pick<AccountService, 'verifiedAddresses'>; audit: AuditService; now?: () => Date }): SentService {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());

  async function owned(accountId: string, id: string) {
    const senders = await deps.accounts.verifiedAddresses(accountId);
    const row = senders.length > 0 ? await repo.findSent(db, senders, id) : null;
    if (!row) throw new DomainError('not_found', 'there is no such message among the ones you sent');
    return row;
  }

  const record = (row: { org_id: string; id: string }, accountId: string, action: string, detail: Record<string, unknown>) =>
    deps.audit.record({ orgId: row.org_id, actor: `account:${accountId}`, action, subject: row.id, detail });

  return {
    async list(accountId, opts) {
      const senders = await deps.accounts.verifiedAddresses(accountId);
      const page = Math.max(1, Math.floor(opts.page ?? 1));
      if (senders.length === 0) return { messages: [], page, more: false };
      const q = opts.q?.trim().slice(0, 200) || null;
      const { rows, more } = await repo.listSent(db, senders, { q, offset: (page - 1) * SENT_PAGE_SIZE, limit: SENT_PAGE_SIZE });
      return { messages: await toMessages(db, rows), page, more };
    },
    async get(accountId, id) {
      const senders = await deps.accounts.verifiedAddresses(accountId);
      const row = senders.length > 0 ? await repo.findSent(db, senders, id) : null;
      return row ? (await toMessages(db, [row]))[0]! : null;
    },
    async lock(accountId, id, reason) {
      const text = checkReason(reason);
      const row = await owned(accountId, id);
      await repo.setLock(db, id, { at: now(), reason: text });
      await record(row, accountId, 'envelope.lock', { reason: text });
    },
    async unlock(accountId, id) {
      const row = await owned(accountId, id);
      await repo.setLock(db, id, null);
      await record(row, accountId, 'envelope.unlock', {});
    },
    async setDates(accountId, id, dates) {
      const row = await owned(accountId, id);
      for (const d of [dates.expiresAt, dates.readBy]) if (d && Number.isNaN(d.getTime())) throw new DomainError('invalid', 'not a date');
      const iso = (d: Date | null) => d?.toISOString() ?? null;
      const readByChanged = iso(row.read_by) !== iso(dates.readBy);
      await repo.setDates(db, id, dates, readByChanged);
      await record(row, accountId, 'envelope.dates', { expiresAt: iso(dates.expiresAt), readBy: iso(dates.readBy), before: { expiresAt: iso(row.expires_at), readBy: iso(row.read_by) } });
    },
  };
}
