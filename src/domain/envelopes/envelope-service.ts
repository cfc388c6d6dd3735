import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { KeyRing } from '../../crypto/kek.ts';
import { bytesEqual } from '../../crypto/tokens.ts';
import { isLocale } from '../../i18n/locales.ts';
import { DomainError } from '../errors.ts';
import type { GatewayPrincipal } from '../credentials/credential-service.ts';
import type { PayloadStore } from '../payloads/payload-store.ts';
import type { EnvelopeFlags, EnvelopeRecord, EnvelopeUpload } from './envelope-types.ts';
import * as repo from './envelope-repository.ts';
import { createInsertBatcher } from './insert-batcher.ts';
import { createReadBatcher } from '../../db/read-batcher.ts';

export interface StoreResult {
  created: boolean;
  /** True while a by-reference payload has not been uploaded yet. */
  payloadPending: boolean;
}

export interface EnvelopeService {
  /**
   * Stores an envelope's key and settings. Idempotent: the same upload again is a no-op;
   * a different upload under a used id is a conflict (the gateway must pick a fresh id).
   */
  store(principal: GatewayPrincipal, id: string, upload: EnvelopeUpload): Promise<StoreResult>;
  storePayload(principal: GatewayPrincipal, id: string, bytes: Uint8Array): Promise<{ created: boolean }>;
  get(id: string): Promise<EnvelopeRecord | null>;
  /** The record and its unwrapped server share in one read: the release point's only query. */
  getWithShare(id: string): Promise<{ envelope: EnvelopeRecord; serverShare: Buffer } | null>;
  /** The unwrapped server share. Only the release path (and tests that prove the format) may call this. */
  serverShare(id: string): Promise<Buffer | null>;
  payload(id: string): Promise<Buffer | null>;
  /** The ciphertext of a stored payload as a stream, with its size, for serving it. */
  payloadStream(id: string): ReturnType<PayloadStore['open']>;
  /**
   * Keeps an inline payload that a recipient's browser posted with "Open", so the rest of the
   * opening can fetch it like a by-reference one. It is ciphertext, checked against the digest
   * the gateway uploaded: 'mismatch' means the envelope file was changed or cut.
   */
  keepInlinePayload(id: string, bytes: Uint8Array): Promise<'stored' | 'already' | 'mismatch' | 'unknown'>;
  /** Re-wraps up to `batchSize` shares still under an older key; returns how many it moved. */
  rewrapBatch(batchSize: number): Promise<number>;
  kekStatus(): Promise<{ currentVersion: number; shares: { version: number; count: number }[] }>;
}

export const ENVELOPE_ID = /^[A-Za-z0-9_-]{21}[AQgw]$/;
const SHARE = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
const DIGEST = /^[0-9a-f]{64}$/;
const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;]+$/;
const MAX_RECIPIENTS = 1000;

function normaliseAddresses(list: string[], kind: string): string[] {
  const out = new Set<string>();
  for (const raw of list) {
    const a = raw.trim().toLowerCase();
    if (!ADDRESS.test(a)) throw new DomainError('invalid', `${kind} recipient "${raw}" is not an email address`);
    out.add(a);
  }
  return [...out].sort();
}

function isoOrNull(value: string | null, field: string): Date | null {
  if (value === null) return null;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new DomainError('invalid', `${field} is not a date`);
  return d;
}

/** A new envelope may not expire (or be due) in the past; a repeat of a stored one may. */
function pastDate(canonical: { expiresAt: string | null; readBy: string | null }, now: Date): string | null {
  if (canonical.expiresAt !== null && Date.parse(canonical.expiresAt) <= now.getTime()) return 'expiresAt is in the past';
  if (canonical.readBy !== null && Date.parse(canonical.readBy) <= now.getTime()) return 'readBy is in the past';
  return null;
}

/** Canonical form of everything but the share; its digest decides "same upload or not". */
function canonicalise(upload: EnvelopeUpload) {
  const to = normaliseAddresses(upload.recipients.to, 'To');
  const cc = normaliseAddresses(upload.recipients.cc, 'Cc');
  const bcc = normaliseAddresses(upload.recipients.bcc, 'Bcc');
  if (to.length + cc.length + bcc.length === 0) throw new DomainError('invalid', 'an envelope needs at least one recipient');
  if (to.length + cc.length + bcc.length > MAX_RECIPIENTS) throw new DomainError('invalid', `at most ${MAX_RECIPIENTS} recipients`);
  const sender = upload.sender.trim().toLowerCase();
  if (!ADDRESS.test(sender)) throw new DomainError('invalid', `sender "${upload.sender}" is not an email address`);
  if (!isLocale(upload.locale)) throw new DomainError('invalid', `locale "${upload.locale}" is not supported`);
  if (!DIGEST.test(upload.payload.digest)) throw new DomainError('invalid', 'payload.digest must be a lowercase hex SHA-256');
  const flags: EnvelopeFlags = {
    replyEnabled: upload.flags.replyEnabled,
    replyAllEnabled: upload.flags.replyAllEnabled,
    forwardEnabled: upload.flags.forwardEnabled,
    sendReturnReceipt: upload.flags.sendReturnReceipt,
    suppressAppletForOpen: upload.flags.suppressAppletForOpen,
    useScript: upload.flags.useScript,
    rememberEnvelopeKeyCheckbox: upload.flags.rememberEnvelopeKeyCheckbox,
  };
  return {
    sender,
    recipients: { to, cc, bcc },
    subject: upload.subject,
    securityLevel: upload.securityLevel,
    expiresAt: isoOrNull(upload.expiresAt, 'expiresAt')?.toISOString() ?? null,
    readBy: isoOrNull(upload.readBy, 'readBy')?.toISOString() ?? null,
    flags,
    locale: upload.locale,
    algorithm: upload.algorithm,
    payload: { transport: upload.payload.transport, digest: upload.payload.digest, size: upload.payload.size },
  };
}

type EnvelopeRow = NonNullable<Awaited<ReturnType<typeof repo.findEnvelope>>>;

function toRecord(row: EnvelopeRow): EnvelopeRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    profileId: row.profile_id,
    sender: row.sender,
    subject: row.subject,
    securityLevel: row.security_level,
    locale: row.locale,
    algorithm: row.algorithm,
    flags: row.flags as EnvelopeFlags,
    expiresAt: row.expires_at,
    readBy: row.read_by,
    payload: { transport: row.payload_transport, digest: row.payload_digest, size: Number(row.payload_size), stored: row.payload_stored_at !== null },
    recipients: { to: row.recipients_to, cc: row.recipients_cc, bcc: row.recipients_bcc },
    lockedAt: row.locked_at,
    lockReason: row.lock_reason,
    createdAt: row.created_at,
  };
}

export function createEnvelopeService(deps: {
  db: Kysely<DB>;
  keyRing: KeyRing;
  payloads: PayloadStore;
  now?: () => Date;
}): EnvelopeService {
  const { db, keyRing, payloads } = deps;
  const now = deps.now ?? (() => new Date());
  const inserts = createInsertBatcher(db);
  const withShare = createReadBatcher((ids: string[]) => repo.findEnvelopesWithShare(db, ids), (row) => row.id);

  function sameShare(id: string, stored: { wrapped_share: Uint8Array; kek_version: number }, share: Buffer): boolean {
    return bytesEqual(keyRing.unwrap(id, stored.wrapped_share, stored.kek_version), share);
  }

  /** The answer to an upload whose id is taken: the same envelope again, or a conflict. */
  async function repeated(principal: GatewayPrincipal, id: string, requestDigest: Buffer, share: Buffer): Promise<StoreResult> {
    const existing = await repo.findEnvelopeIdentity(db, id);
    // Both comparisons always run, so the answer's timing does not tell which part differed.
    const digestSame = existing !== undefined && bytesEqual(existing.request_digest, requestDigest);
    const shareSame = existing !== undefined && sameShare(id, existing, share);
    if (!existing || existing.org_id !== principal.profile.orgId || !digestSame || !shareSame) {
      throw new DomainError('conflict', `envelope ${id} already exists with different contents; seal with a fresh id`);
    }
    return { created: false, payloadPending: existing.payload_transport === 'reference' && existing.payload_stored_at === null };
  }

  async function ownedBy(principal: GatewayPrincipal, id: string) {
    const row = await repo.findEnvelopeIdentity(db, id);
    // Another organisation's envelope answers like a missing one.
    if (!row || row.org_id !== principal.profile.orgId) throw new DomainError('not_found', `there is no envelope ${id}`);
    return row;
  }

  return {
    async store(principal, id, upload) {
      if (!ENVELOPE_ID.test(id)) throw new DomainError('invalid', 'the envelope id must be 16 bytes in base64url (22 characters)');
      if (!SHARE.test(upload.serverShare)) throw new DomainError('invalid', 'serverShare must be 32 bytes in base64url (43 characters)');
      const at = now();
      const canonical = canonicalise(upload);
      const settings = principal.profile.settings;
      if (canonical.payload.transport === 'inline' && canonical.payload.size > settings.payloadTransport.inlineMaxBytes) {
        // Not fatal to the format, but the profile promised recipients' mail systems a bound.
        throw new DomainError('invalid', `payloads over ${settings.payloadTransport.inlineMaxBytes} bytes must go by reference`);
      }
      const share = Buffer.from(upload.serverShare, 'base64url');
      const requestDigest = createHash('sha256').update(JSON.stringify(canonical)).digest();

      // A retry can arrive after a short expiration has passed: it is still the same envelope.
      const past = pastDate(canonical, at);
      if (past !== null) {
        if (await repo.findEnvelopeIdentity(db, id)) return repeated(principal, id, requestDigest, share);
        throw new DomainError('invalid', past);
      }
      const { wrapped, version } = keyRing.wrap(id, share);

      const created = await inserts.insert({
        id,
        org_id: principal.profile.orgId,
        profile_id: principal.profile.id,
        credential_id: principal.credentialId,
        sender: canonical.sender,
        subject: settings.keepSubject ? canonical.subject : null,
        security_level: canonical.securityLevel,
        locale: canonical.locale,
        algorithm: canonical.algorithm,
        flags: JSON.stringify(canonical.flags),
        expires_at: canonical.expiresAt,
        read_by: canonical.readBy,
        payload_transport: canonical.payload.transport,
        payload_digest: canonical.payload.digest,
        payload_size: canonical.payload.size,
        wrapped_share: wrapped,
        kek_version: version,
        request_digest: requestDigest,
        recipients_to: canonical.recipients.to,
        recipients_cc: canonical.recipients.cc,
        recipients_bcc: canonical.recipients.bcc,
      });
      if (created) return { created: true, payloadPending: canonical.payload.transport === 'reference' };
      return repeated(principal, id, requestDigest, share);
    },

    async storePayload(principal, id, bytes) {
      const row = await ownedBy(principal, id);
      if (row.payload_transport !== 'reference') throw new DomainError('conflict', `envelope ${id} carries its payload inline`);
      if (bytes.length !== Number(row.payload_size)) {
        throw new DomainError('invalid', `the payload is ${bytes.length} bytes; the envelope says ${row.payload_size}`);
      }
      const digest = createHash('sha256').update(bytes).digest('hex');
      if (digest !== row.payload_digest) throw new DomainError('invalid', 'the payload does not match the digest uploaded with the envelope');
      if (row.payload_stored_at !== null) return { created: false };
      await payloads.put(id, bytes);
      await repo.markPayloadStored(db, id, now());
      return { created: true };
    },

    async get(id) {
      const row = await repo.findEnvelope(db, id);
      return row ? toRecord(row) : null;
    },

    async getWithShare(id) {
      const row = await withShare.load(id);
      if (!row) return null;
      return { envelope: toRecord(row), serverShare: keyRing.unwrap(id, row.wrapped_share, row.kek_version) };
    },


    async serverShare(id) {
      const row = await repo.findEnvelopeIdentity(db, id);
      return row ? keyRing.unwrap(id, row.wrapped_share, row.kek_version) : null;
    },

    payload: (id) => payloads.get(id),
    payloadStream: (id) => payloads.open(id),

    async keepInlinePayload(id, bytes) {
      const row = await repo.findEnvelopeIdentity(db, id);
      if (!row) return 'unknown';
      const digest = createHash('sha256').update(bytes).digest('hex');
      if (bytes.length !== Number(row.payload_size) || digest !== row.payload_digest) return 'mismatch';
      if (row.payload_stored_at !== null) return 'already';
      await payloads.put(id, bytes);
      await repo.markPayloadStored(db, id, now());
      return 'stored';
    },

    async rewrapBatch(batchSize) {
      return db.transaction().execute(async (tx) => {
        const rows = await repo.lockStaleShares(tx, keyRing.currentVersion, batchSize);
        for (const row of rows) {
          const share = keyRing.unwrap(row.id, row.wrapped_share, row.kek_version);
          const { wrapped, version } = keyRing.wrap(row.id, share);
          await repo.updateWrappedShare(tx, row.id, wrapped, version);
        }
        return rows.length;
      });
    },

    async kekStatus() {
      const rows = await repo.countByKekVersion(db);
      return { currentVersion: keyRing.currentVersion, shares: rows.map((r) => ({ version: r.kek_version, count: Number(r.n) })) };
    },
  };
}
