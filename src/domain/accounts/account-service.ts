import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { PassphraseHasher } from '../../crypto/passphrases.ts';
import type { PassphrasePolicy, PassphraseRefusal } from '../../crypto/passphrase-policy.ts';
import * as repo from './account-repository.ts';
import * as sessionRepo from './session-repository.ts';
import * as tokenRepo from './token-repository.ts';
import { addressKey, normaliseAddress } from './addresses.ts';
import type { AccountMailer } from './account-mail.ts';
import { consumeEmailToken, checkEmailToken, issueEmailToken, type TokenCheck } from './email-tokens.ts';
import type { SessionService, SessionStart, StartedSession } from './session-service.ts';
import type { Throttle, ThrottleKey } from './throttle.ts';

/** The counters a good passphrase settles: the account's cleared, the network's attempt taken back. */
type Settlement = { clear: ThrottleKey[]; takeBack: ThrottleKey[] };

export interface Account {
  id: string;
  name: string;
  /** The Personal Security Phrase, shown on recognised browsers before the passphrase field. */
  securityPhrase: string;
  locale: string | null;
}

export interface AccountAddress {
  address: string;
  verified: boolean;
  createdAt: Date;
}

export type AccountField = 'name' | 'email' | 'passphrase' | 'passphrase2' | 'securityPhrase' | 'current';
/** Per field, a reason code; pages turn it into words (`account:errors.<field>.<code>`). */
export type FieldErrors = Partial<Record<AccountField, string>>;

export type Refused = { ok: false; kind: 'invalid'; errors: FieldErrors } | { ok: false; kind: 'throttled'; retryAfter: number };
export type SignInResult = { ok: true; accountId: string } | { ok: false; kind: 'wrong' } | { ok: false; kind: 'throttled'; retryAfter: number };
/** A sign-in that was asked to open a session has it when it succeeds. */
export type SignInWithSession = { ok: true; accountId: string; started: StartedSession } | Exclude<SignInResult, { ok: true }>;
export type VerifyResult = { ok: true; accountId: string; address: string } | { ok: false; reason: 'invalid' | 'expired' | 'used' | 'taken' };
export type ResetResult = { ok: true; accountId: string } | { ok: false; kind: 'token'; reason: 'invalid' | 'expired' | 'used' } | { ok: false; kind: 'invalid'; errors: FieldErrors };

/** Where a request comes from, for throttling (see client-network.ts) and the list of sessions. */
export interface Origin {
  network: string;
}

export interface AccountService {
  get(accountId: string): Promise<Account | null>;
  /** Lower-case normalised, oldest first. */
  verifiedAddresses(accountId: string): Promise<string[]>;
  addresses(accountId: string): Promise<AccountAddress[]>;
  /**
   * Registration. Whether or not the address already belongs to an account, the outcome is the
   * same `{ ok: true }` after the same work (one argon2 hash, one mail): the mail itself tells
   * the owner of the mailbox which case it was.
   */
  register(input: { name: string; email: string; passphrase: string; passphrase2: string; securityPhrase: string; locale: string } & Origin): Promise<{ ok: true } | Refused>;
  /** Sends the verification mail again (or the "you already have an account" mail). Same outcome for every address. */
  resendVerification(input: { email: string; locale: string } & Origin): Promise<{ ok: true } | Refused>;
  /** Spends a verification token: the address now belongs to that account. */
  verifyAddress(token: string): Promise<VerifyResult>;
  signIn(input: { email: string; passphrase: string } & Origin): Promise<SignInResult>;
  /**
   * signIn, and on success a new session for the browser, opened in the same statement that
   * settles the throttle's counters (a sign-in pays for each round trip to the database).
   */
  signInWithSession(input: { email: string; passphrase: string; session: SessionStart } & Origin): Promise<SignInWithSession>;
  /** The passphrase again, for an account already signed in (High-security envelopes). */
  reauthenticate(input: { accountId: string; passphrase: string } & Origin): Promise<SignInResult>;
  /**
   * Starts a reset. The answer never depends on whether the address has an account; the mail
   * (when there is one to send) goes out after the answer, in `delivery`, so that neither the
   * answer nor its timing tells. Callers log a failed delivery; they do not await it.
   */
  requestReset(input: { email: string; locale: string } & Origin): Promise<{ ok: true; delivery: Promise<void> } | Refused>;
  /** Sets a new passphrase with a reset token and ends the account's sessions (all but `keepSessionId`). */
  resetPassphrase(input: { token: string; passphrase: string; passphrase2: string; keepSessionId?: string | null }): Promise<ResetResult>;
  /** Current passphrase, then the new one; ends every other session. */
  changePassphrase(input: { accountId: string; sessionId: string; current: string; passphrase: string; passphrase2: string } & Origin): Promise<{ ok: true } | Refused>;
  /** Claims another address (alias) and mails it a verification link. */
  addAddress(input: { accountId: string; email: string; locale: string } & Origin): Promise<{ ok: true; address: string } | Refused>;
  /** Withdraws a claim not yet verified. */
  removePendingAddress(accountId: string, address: string): Promise<boolean>;
  /** Resolves when every mail sent in the background so far has been sent or has failed (tests, shutdown). */
  settled(): Promise<void>;
}

export interface AccountServiceDeps {
  db: Kysely<DB>;
  hasher: PassphraseHasher;
  policy: PassphrasePolicy;
  throttle: Throttle;
  sessions: SessionService;
  mailer: AccountMailer;
  now?: () => Date;
}

const MAX_NAME = 200;
const MAX_SECURITY_PHRASE = 200;
const CONTROL = /[\p{Cc}\p{Cf}]/u;
const UNIQUE_VIOLATION = '23505';
/**
 * A registration whose address was never verified is deleted after this long (at the next
 * registration). Long enough to ask for the mail again days later; each mail's code itself
 * lasts only EMAIL_TOKEN_LIFETIME_MS.verify.
 */
export const UNVERIFIED_ACCOUNT_LIFETIME_MS = 7 * 24 * 3600_000;

const accountKey = (id: string): ThrottleKey => ({ scope: 'passphrase-account', key: `account:${id}` });
const passphraseNetwork = (network: string): ThrottleKey => ({ scope: 'passphrase-network', key: network });
const mailKeys = (address: string, network: string): ThrottleKey[] => [
  { scope: 'mail-address', key: addressKey(address) },
  { scope: 'mail-network', key: network },
];

function checkName(name: string): string | null {
  const trimmed = name.trim();
  if (trimmed === '') return 'required';
  if ([...trimmed].length > MAX_NAME || CONTROL.test(trimmed)) return 'invalid';
  return null;
}

export function createAccountService(deps: AccountServiceDeps): AccountService {
  const { db, hasher, policy, throttle, sessions, mailer } = deps;
  const now = deps.now ?? (() => new Date());
  const background = new Set<Promise<void>>();

  const track = (work: () => Promise<void>): Promise<void> => {
    const p = work();
    background.add(p);
    const done = () => void background.delete(p);
    p.then(done, done);
    return p;
  };

  /** Errors of a new passphrase (and its repetition); empty when acceptable. */
  function newPassphraseErrors(passphrase: string, passphrase2: string, context: { email?: string; name?: string }): FieldErrors {
    const errors: FieldErrors = {};
    const verdict = policy.check(passphrase, context);
    if (!verdict.ok) errors.passphrase = verdict.reason satisfies PassphraseRefusal;
    else if (passphrase !== passphrase2) errors.passphrase2 = 'mismatch';
    return errors;
  }

  /**
   * One passphrase check behind the throttle. `account` null means nobody has this address:
   * the same counters are fed and argon2 runs once on a stand-in hash, so the answer and its
   * timing are those of a wrong passphrase. `settle` settles the counters after a good one (a
   * sign-in does it in the statement that opens its session).
   */
  async function checkPassphrase(
    account: { id: string; passphrase_hash: string } | null,
    key: ThrottleKey,
    passphrase: string,
    network: string,
    settle: (accountId: string, keys: Settlement) => Promise<void> = (_, keys) => throttle.succeeded(keys),
  ): Promise<SignInResult> {
    const keys = [key, passphraseNetwork(network)];
    const verdict = await throttle.attempt(keys);
    if (!verdict.allowed) return { ok: false, kind: 'throttled', retryAfter: verdict.retryAfter };
    if (!account) {
      await hasher.dummyVerify(passphrase);
      return { ok: false, kind: 'wrong' };
    }
    const result = await hasher.verify(account.passphrase_hash, passphrase);
    if (!result.ok) return { ok: false, kind: 'wrong' };
    await settle(account.id, { clear: [key], takeBack: [passphraseNetwork(network)] });
    if (result.needsRehash) {
      // The parameters moved on since this hash was made; only now is the passphrase at hand.
      const fresh = await hasher.hash(passphrase);
      await repo.setPassphraseHash(db, account.id, fresh, { at: now(), expected: account.passphrase_hash, changed: false });
    }
    return { ok: true, accountId: account.id };
  }

  async function signIn(input: { email: string; passphrase: string } & Origin, settle?: (accountId: string, keys: Settlement) => Promise<void>): Promise<SignInResult> {
    const address = normaliseAddress(input.email);
    const account = address ? await repo.findAccountByVerifiedAddress(db, address) : undefined;
    const key: ThrottleKey = account ? accountKey(account.id) : { scope: 'passphrase-account', key: `address:${addressKey(input.email)}` };
    return checkPassphrase(account ?? null, key, input.passphrase, input.network, settle);
  }

  /** The mail a resend asks for: a fresh link for the newest pending claim, or "it is taken". */
  async function sendVerification(address: string, locale: string): Promise<void> {
    const owner = await repo.findVerifiedOwner(db, address);
    if (owner !== null) {
      await mailer.send({ kind: 'exists', to: address, locale, alias: false });
      return;
    }
    const claim = await repo.findNewestPendingClaim(db, address);
    if (!claim) return;
    const alias = (await repo.listVerifiedAddresses(db, claim.id)).length > 0;
    const token = await issueEmailToken(db, 'verify', claim.id, address, now());
    await mailer.send({ kind: 'verify', to: address, locale, name: claim.name, token, alias });
  }

  return {
    async get(accountId) {
      const row = await repo.findAccount(db, accountId);
      return row ? { id: row.id, name: row.name, securityPhrase: row.security_phrase, locale: row.locale } : null;
    },
    verifiedAddresses: (accountId) => repo.listVerifiedAddresses(db, accountId),
    async addresses(accountId) {
      return (await repo.listAddresses(db, accountId)).map((r) => ({ address: r.address, verified: r.verified_at !== null, createdAt: r.created_at }));
    },

    async register(input) {
      const address = normaliseAddress(input.email);
      const errors: FieldErrors = {};
      const nameError = checkName(input.name);
      if (nameError) errors.name = nameError;
      if (!address) errors.email = 'invalid';
      Object.assign(errors, newPassphraseErrors(input.passphrase, input.passphrase2, { email: address ?? undefined, name: input.name }));
      const phrase = input.securityPhrase.trim();
      if (phrase === '') errors.securityPhrase = 'required';
      else if ([...phrase].length > MAX_SECURITY_PHRASE || CONTROL.test(phrase)) errors.securityPhrase = 'invalid';
      else if (phrase.normalize('NFC').toLowerCase() === input.passphrase.normalize('NFC').toLowerCase()) errors.securityPhrase = 'is_passphrase';
      if (!address || Object.keys(errors).length > 0) return { ok: false, kind: 'invalid', errors };

      const verdict = await throttle.attempt(mailKeys(address, input.network));
      if (!verdict.allowed) return { ok: false, kind: 'throttled', retryAfter: verdict.retryAfter };
      // Hashed in both cases, so a taken address answers as slowly as a free one.
      const hash = await hasher.hash(input.passphrase);
      const owner = await repo.findVerifiedOwner(db, address);
      if (owner !== null) {
        await mailer.send({ kind: 'exists', to: address, locale: input.locale, alias: false });
        return { ok: true };
      }
      const at = now();
      // Housekeeping where it is cheap and related: stale registrations and long-dead codes.
      await repo.deleteUnverifiedAccounts(db, new Date(at.getTime() - UNVERIFIED_ACCOUNT_LIFETIME_MS));
      await tokenRepo.deleteExpiredTokens(db, new Date(at.getTime() - UNVERIFIED_ACCOUNT_LIFETIME_MS));
      const { token, name } = await db.transaction().execute(async (tx) => {
        const id = await repo.insertAccount(tx, { name: input.name.trim(), passphraseHash: hash, securityPhrase: phrase, locale: input.locale, at });
        await repo.insertPendingAddress(tx, id, address, at);
        return { token: await issueEmailToken(tx, 'verify', id, address, at), name: input.name.trim() };
      });
      await mailer.send({ kind: 'verify', to: address, locale: input.locale, name, token, alias: false });
      return { ok: true };
    },

    async resendVerification(input) {
      const address = normaliseAddress(input.email);
      if (!address) return { ok: false, kind: 'invalid', errors: { email: 'invalid' } };
      const verdict = await throttle.attempt(mailKeys(address, input.network));
      if (!verdict.allowed) return { ok: false, kind: 'throttled', retryAfter: verdict.retryAfter };
      await sendVerification(address, input.locale);
      return { ok: true };
    },

    async verifyAddress(token) {
      try {
        return await db.transaction().execute(async (tx): Promise<VerifyResult> => {
          const at = now();
          const peek = await checkEmailToken(tx, 'verify', token, at);
          if (!peek.ok) return peek;
          // Claims first, token second: every verification of one address takes the same locks
          // in the same order, so two racing ones queue instead of deadlocking.
          await repo.lockClaims(tx, peek.token.address);
          const check = await consumeEmailToken(tx, 'verify', token, at);
          if (!check.ok) return check;
          const { accountId, address } = check.token;
          const owner = await repo.findVerifiedOwner(tx, address);
          if (owner === accountId) return { ok: true, accountId, address };
          if (owner !== null) return { ok: false, reason: 'taken' };
          // The claim may have been withdrawn since the mail went out.
          if (!(await repo.markVerified(tx, accountId, address, at))) return { ok: false, reason: 'invalid' };
          await repo.dropOtherClaims(tx, address, accountId);
          return { ok: true, accountId, address };
        });
      } catch (err) {
        // Two accounts verifying one address at the same moment: the unique index decides.
        if ((err as { code?: unknown }).code === UNIQUE_VIOLATION) return { ok: false, reason: 'taken' };
        throw err;
      }
    },

    signIn: (input) => signIn(input),

    async signInWithSession(input) {
      let started: StartedSession | undefined;
      const result = await signIn(input, async (accountId, settle) => {
        started = await sessions.create(accountId, { ...input.session, settle });
      });
      return result.ok ? { ...result, started: started! } : result;
    },

    async reauthenticate(input) {
      const account = await repo.findPassphraseHash(db, input.accountId);
      return checkPassphrase(account ?? null, accountKey(input.accountId), input.passphrase, input.network);
    },

    async requestReset(input) {
      const address = normaliseAddress(input.email);
      if (!address) return { ok: false, kind: 'invalid', errors: { email: 'invalid' } };
      const verdict = await throttle.attempt(mailKeys(address, input.network));
      if (!verdict.allowed) return { ok: false, kind: 'throttled', retryAfter: verdict.retryAfter };
      const delivery = track(async () => {
        const account = await repo.findAccountByVerifiedAddress(db, address);
        if (!account) return;
        const token = await issueEmailToken(db, 'reset', account.id, address, now());
        await mailer.send({ kind: 'reset', to: address, locale: input.locale, name: account.name, token });
      });
      return { ok: true, delivery };
    },

    async resetPassphrase(input) {
      const at = now();
      const check: TokenCheck = await checkEmailToken(db, 'reset', input.token, at);
      if (!check.ok) return { ok: false, kind: 'token', reason: check.reason };
      const account = await repo.findAccount(db, check.token.accountId);
      if (!account) return { ok: false, kind: 'token', reason: 'invalid' };
      const errors = newPassphraseErrors(input.passphrase, input.passphrase2, { email: check.token.address, name: account.name });
      if (Object.keys(errors).length > 0) return { ok: false, kind: 'invalid', errors };
      const hash = await hasher.hash(input.passphrase);
      const done = await db.transaction().execute(async (tx): Promise<ResetResult> => {
        const spent = await consumeEmailToken(tx, 'reset', input.token, at);
        if (!spent.ok) return { ok: false, kind: 'token', reason: spent.reason };
        await repo.setPassphraseHash(tx, account.id, hash, { at, changed: true });
        await tokenRepo.markAccountTokensUsed(tx, account.id, 'reset', at);
        await sessionRepo.revokeSessions(tx, account.id, input.keepSessionId ?? null, at);
        return { ok: true, accountId: account.id };
      });
      // Whoever reads the mailbox is the owner: what an attacker did to the account's counter no longer matters.
      if (done.ok) await throttle.succeeded({ clear: [accountKey(account.id)] });
      return done;
    },

    async changePassphrase(input) {
      const account = await repo.findAccount(db, input.accountId);
      const stored = await repo.findPassphraseHash(db, input.accountId);
      if (!account || !stored) return { ok: false, kind: 'invalid', errors: { current: 'wrong' } };
      const [primary] = await repo.listVerifiedAddresses(db, input.accountId);
      const errors = newPassphraseErrors(input.passphrase, input.passphrase2, { email: primary, name: account.name });
      if (Object.keys(errors).length > 0) return { ok: false, kind: 'invalid', errors };
      const checked = await checkPassphrase(stored, accountKey(input.accountId), input.current, input.network);
      if (!checked.ok) return checked.kind === 'throttled' ? checked : { ok: false, kind: 'invalid', errors: { current: 'wrong' } };
      const hash = await hasher.hash(input.passphrase);
      const at = now();
      await db.transaction().execute(async (tx) => {
        await repo.setPassphraseHash(tx, input.accountId, hash, { at, changed: true });
        await tokenRepo.markAccountTokensUsed(tx, input.accountId, 'reset', at);
        await sessionRepo.revokeSessions(tx, input.accountId, input.sessionId, at);
      });
      return { ok: true };
    },

    async addAddress(input) {
      const address = normaliseAddress(input.email);
      if (!address) return { ok: false, kind: 'invalid', errors: { email: 'invalid' } };
      const own = await repo.findAddress(db, input.accountId, address);
      if (own?.verified_at) return { ok: false, kind: 'invalid', errors: { email: 'already_yours' } };
      const verdict = await throttle.attempt(mailKeys(address, input.network));
      if (!verdict.allowed) return { ok: false, kind: 'throttled', retryAfter: verdict.retryAfter };
      // Taken by another account: the same answer as a free address (no enumeration by signed-in
      // strangers); the mail tells the mailbox's owner that nothing changed.
      const owner = await repo.findVerifiedOwner(db, address);
      if (owner !== null) {
        await mailer.send({ kind: 'exists', to: address, locale: input.locale, alias: true });
        return { ok: true, address };
      }
      const at = now();
      await repo.insertPendingAddress(db, input.accountId, address, at);
      const account = await repo.findAccount(db, input.accountId);
      const token = await issueEmailToken(db, 'verify', input.accountId, address, at);
      await mailer.send({ kind: 'verify', to: address, locale: input.locale, name: account?.name ?? '', token, alias: true });
      return { ok: true, address };
    },

    removePendingAddress: (accountId, address) => repo.deletePendingAddress(db, accountId, address.toLowerCase()),

    async settled() {
      while (background.size > 0) await Promise.allSettled([...background]);
    },
  };
}
