import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { issueToken, parseToken, secretMatches } from '../../crypto/tokens.ts';
import * as repo from './session-repository.ts';
import type { CounterSettlement } from './throttle-repository.ts';
import { createReadBatcher } from '../../db/read-batcher.ts';

/**
 * The session cookie. `__Host-` makes the browser refuse it unless it is Secure, has Path=/ and
 * no Domain, so no sibling subdomain can set or overwrite it (no session fixation through a
 * neighbour), and it never travels over plain HTTP.
 */
export const SESSION_COOKIE = '__Host-waxseal-session';

/** Cookie values look like `wxs_<id>.<secret>`; the id finds the row, the secret proves it. */
export const SESSION_TOKEN_PREFIX = 'wxs';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Every session lifetime in one place. A session ends when it has not been used for `idle`, or
 * `absolute` after it began, whichever comes first. "Remember me on this computer" trades a
 * longer life for a persistent cookie; High-security envelopes still ask for the passphrase.
 */
export const SESSION_LIMITS = Object.freeze({
  idleMs: 30 * MINUTE,
  absoluteMs: 12 * HOUR,
  rememberedIdleMs: 30 * DAY,
  rememberedAbsoluteMs: 90 * DAY,
  /** last_seen_at is written at most this often: one write per request would cost more than it tells. */
  touchEveryMs: MINUTE,
});

export interface SessionInfo {
  id: string;
  accountId: string;
  createdAt: Date;
  /** When the passphrase was last typed in this session (sign-in or re-authentication). */
  passphraseAt: Date;
  remember: boolean;
}

export interface SessionListEntry {
  id: string;
  createdAt: Date;
  lastSeenAt: Date;
  userAgent: string | null;
  ip: string | null;
  remember: boolean;
}

export interface CookieOptions {
  path: '/';
  secure: true;
  httpOnly: true;
  sameSite: 'lax';
  expires?: Date;
}

/** What a new session records of the browser that opens it. */
export interface SessionStart {
  remember: boolean;
  userAgent?: string | null;
  ip?: string | null;
}

/** A new session and its cookie's value (shown once). */
export interface StartedSession {
  session: SessionInfo;
  cookie: string;
}

export interface SessionService {
  /**
   * Begins a session (always a fresh id: no fixation). `cookie` is the cookie's value, shown
   * once. With `settle`, a sign-in's throttle counters are settled in the same statement.
   */
  create(accountId: string, opts: SessionStart & { settle?: CounterSettlement }): Promise<StartedSession>;
  /** The live session a cookie value stands for: hash checked in constant time, timeouts, revocation. */
  fromCookie(value: string | undefined): Promise<SessionInfo | null>;
  /** fromCookie, with the account's verified addresses read in the same statement. */
  withAddresses(value: string | undefined): Promise<{ session: SessionInfo; addresses: string[] } | null>;
  /** The passphrase was typed again in this session (High-security opening). */
  passphraseTyped(sessionId: string): Promise<SessionInfo | null>;
  /** The account's live sessions, most recently used first. */
  list(accountId: string): Promise<SessionListEntry[]>;
  /** Ends one session of the account; false when it was not a live session of that account. */
  revoke(accountId: string, sessionId: string): Promise<boolean>;
  /** Ends every session of the account except `except`; returns how many ended. */
  revokeAll(accountId: string, opts?: { except?: string | null }): Promise<number>;
  /** The attributes of the session cookie: persistent only when remembered. */
  cookieOptions(session: SessionInfo): CookieOptions;
}

/** The largest User-Agent kept for the list of sessions; the rest says nothing to a person. */
const MAX_USER_AGENT = 256;
// A stand-in hash compared when the id is unknown, so both cases cost one hash and one compare.
const NO_HASH = new Uint8Array(32);

/** Idle and absolute limits for a session of this kind. */
export function sessionLimits(remember: boolean): { idleMs: number; absoluteMs: number } {
  return remember
    ? { idleMs: SESSION_LIMITS.rememberedIdleMs, absoluteMs: SESSION_LIMITS.rememberedAbsoluteMs }
    : { idleMs: SESSION_LIMITS.idleMs, absoluteMs: SESSION_LIMITS.absoluteMs };
}

function isLive(row: { remember: boolean; created_at: Date; last_seen_at: Date }, at: Date): boolean {
  const limits = sessionLimits(row.remember);
  const t = at.getTime();
  return t - row.last_seen_at.getTime() < limits.idleMs && t - row.created_at.getTime() < limits.absoluteMs;
}

export function sessionCookieOptions(session: Pick<SessionInfo, 'remember' | 'createdAt'>): CookieOptions {
  const base = { path: '/', secure: true, httpOnly: true, sameSite: 'lax' } as const;
  // A remembered session's cookie outlives the browser; it expires when the session must.
  return session.remember ? { ...base, expires: new Date(session.createdAt.getTime() + SESSION_LIMITS.rememberedAbsoluteMs) } : base;
}

export function createSessionService(deps: { db: Kysely<DB>; now?: () => Date }): SessionService {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  const withAddresses = createReadBatcher((ids: string[]) => repo.findSessionsWithAddresses(db, ids), (row) => row.id);

  const toInfo = (row: { id: string; account_id: string; created_at: Date; passphrase_at: Date; remember: boolean }): SessionInfo => ({
    id: row.id,
    accountId: row.account_id,
    createdAt: row.created_at,
    passphraseAt: row.passphrase_at,
    remember: row.remember,
  });

  async function live(id: string, secret: string | null): Promise<SessionInfo | null> {
    return accept(await repo.findSessionForAuth(db, id), secret);
  }

  async function accept(row: Awaited<ReturnType<typeof repo.findSessionForAuth>>, secret: string | null): Promise<SessionInfo | null> {
    const matches = secret === null ? row !== undefined : secretMatches(secret, row?.secret_hash ?? NO_HASH);
    const at = now();
    if (!row || !matches || row.revoked_at !== null || !isLive(row, at)) return null;
    if (at.getTime() - row.last_seen_at.getTime() >= SESSION_LIMITS.touchEveryMs) await repo.touchSession(db, row.id, at);
    return toInfo(row);
  }

  return {
    async create(accountId, opts) {
      const at = now();
      const issued = issueToken(SESSION_TOKEN_PREFIX);
      const userAgent = opts.userAgent ? opts.userAgent.slice(0, MAX_USER_AGENT) : null;
      // With housekeeping where it is cheap: the account's own dead sessions go in the same statement.
      await repo.insertSession(
        db,
        { id: issued.id, accountId, secretHash: issued.secretHash, remember: opts.remember, at, passphraseAt: at, userAgent, ip: opts.ip ?? null },
        { idleBefore: new Date(at.getTime() - SESSION_LIMITS.rememberedIdleMs), createdBefore: new Date(at.getTime() - SESSION_LIMITS.rememberedAbsoluteMs) },
        opts.settle,
      );
      return { session: { id: issued.id, accountId, createdAt: at, passphraseAt: at, remember: opts.remember }, cookie: issued.token };
    },
    async fromCookie(value) {
      if (typeof value !== 'string') return null;
      const parsed = parseToken(SESSION_TOKEN_PREFIX, value);
      return parsed ? live(parsed.id, parsed.secret) : null;
    },
    async withAddresses(value) {
      if (typeof value !== 'string') return null;
      const parsed = parseToken(SESSION_TOKEN_PREFIX, value);
      if (!parsed) return null;
      const row = await withAddresses.load(parsed.id);
      const session = await accept(row, parsed.secret);
      return session && row ? { session, addresses: row.addresses } : null;
    },
    async passphraseTyped(sessionId) {
      // Checked first: typing the passphrase must not revive a session that already ended.
      const current = await live(sessionId, null);
      if (!current) return null;
      const at = now();
      await repo.setPassphraseAt(db, sessionId, at);
      return { ...current, passphraseAt: at };
    },
    async list(accountId) {
      const at = now();
      return (await repo.listLiveSessions(db, accountId))
        .filter((row) => isLive(row, at))
        .map((row) => ({ id: row.id, createdAt: row.created_at, lastSeenAt: row.last_seen_at, userAgent: row.user_agent, ip: row.ip, remember: row.remember }));
    },
    revoke: (accountId, sessionId) => repo.revokeSession(db, accountId, sessionId, now()),
    revokeAll: (accountId, opts) => repo.revokeSessions(db, accountId, opts?.except ?? null, now()),
    cookieOptions: sessionCookieOptions,
  };
}
