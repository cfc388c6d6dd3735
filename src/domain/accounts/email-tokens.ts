import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { issueToken, parseToken, secretMatches } from '../../crypto/tokens.ts';
import * as repo from './token-repository.ts';
import type { TokenPurpose } from './token-repository.ts';

export type { TokenPurpose } from './token-repository.ts';

/** `wxv_ID.SECRET` verifies an address, `wxr_ID.SECRET` resets a passphrase. */
export const EMAIL_TOKEN_PREFIX: Readonly<Record<TokenPurpose, string>> = Object.freeze({ verify: 'wxv', reset: 'wxr' });

/**
 * How long a mailed token works. A verification mail may wait in a mailbox over a night; a reset
 * token is a key to the account, so it lives only as long as someone needs to read the mail.
 */
export const EMAIL_TOKEN_LIFETIME_MS: Readonly<Record<TokenPurpose, number>> = Object.freeze({
  verify: 24 * 3600_000,
  reset: 30 * 60_000,
});

export interface TokenSubject {
  id: string;
  accountId: string;
  address: string;
}

export type TokenCheck = { ok: true; token: TokenSubject } | { ok: false; reason: 'invalid' | 'expired' | 'used' };

const NO_HASH = new Uint8Array(32);

export async function issueEmailToken(db: Kysely<DB>, purpose: TokenPurpose, accountId: string, address: string, at: Date): Promise<string> {
  const issued = issueToken(EMAIL_TOKEN_PREFIX[purpose]);
  await repo.insertToken(db, {
    id: issued.id,
    purpose,
    accountId,
    address,
    secretHash: issued.secretHash,
    at,
    expiresAt: new Date(at.getTime() + EMAIL_TOKEN_LIFETIME_MS[purpose]),
  });
  return issued.token;
}

/**
 * What a token is worth now, without spending it. Pasted codes arrive with stray spaces and
 * line breaks from mail clients, so whitespace is ignored.
 */
export async function checkEmailToken(db: Kysely<DB>, purpose: TokenPurpose, token: string, at: Date): Promise<TokenCheck> {
  const parsed = parseToken(EMAIL_TOKEN_PREFIX[purpose], token.replace(/\s+/g, ''));
  if (!parsed) return { ok: false, reason: 'invalid' };
  const row = await repo.findToken(db, parsed.id);
  const matches = secretMatches(parsed.secret, row?.secret_hash ?? NO_HASH);
  if (!row || !matches || row.purpose !== purpose) return { ok: false, reason: 'invalid' };
  if (row.used_at !== null) return { ok: false, reason: 'used' };
  if (row.expires_at.getTime() <= at.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, token: { id: row.id, accountId: row.account_id, address: row.address } };
}

/** Checks and spends a token in one step; of two requests racing with it, one wins. */
export async function consumeEmailToken(db: Kysely<DB>, purpose: TokenPurpose, token: string, at: Date): Promise<TokenCheck> {
  const check = await checkEmailToken(db, purpose, token, at);
  if (!check.ok) return check;
  return (await repo.markTokenUsed(db, check.token.id, at)) ? check : { ok: false, reason: 'used' };
}
