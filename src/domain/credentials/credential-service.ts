import type { Kysely } from 'kysely';
import type { AuditService } from '../audit/audit-service.ts';
import type { DB } from '../../db/schema.ts';
import { issueToken, parseToken, secretMatches } from '../../crypto/tokens.ts';
import { DomainError } from '../errors.ts';
import { toProfile, type Profile, type ProfileService } from '../profiles/profile-service.ts';
import * as repo from './credential-repository.ts';

export const GATEWAY_TOKEN_PREFIX = 'wxg';

export interface Credential {
  id: string;
  profileId: string;
  adminEmail: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface GatewayPrincipal {
  credentialId: string;
  profile: Profile;
}

export interface CredentialService {
  /** Issues a gateway credential for a profile. The token is returned once and never stored. */
  provision(orgId: string, profileName: string, adminEmail: string): Promise<{ credential: Credential; token: string }>;
  /** Issues a replacement for the same profile and administrator, and revokes the old one. */
  rotate(orgId: string, credentialId: string): Promise<{ credential: Credential; token: string }>;
  revoke(orgId: string, credentialId: string): Promise<Credential>;
  list(orgId: string, profileName: string): Promise<Credential[]>;
  authenticate(token: string): Promise<GatewayPrincipal | null>;
}

type Row = Awaited<ReturnType<typeof repo.findCredential>> & {};

function toCredential(row: NonNullable<Row>): Credential {
  return {
    id: row.id,
    profileId: row.profile_id,
    adminEmail: row.admin_email,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface CredentialServiceDeps {
  db: Kysely<DB>;
  profiles: ProfileService;
  /** where provisioning, rotation and revocation are recorded */
  audit?: AuditService;
  now?: () => Date;
  /**
   * How long a verified credential is trusted without asking the database again. Gateways
   * upload at high rates and each lookup is a round trip; the price is that a revocation made
   * on another node takes effect there within this time (on this node, at once). 0 disables.
   */
  authCacheMs?: number;
}

const AUTH_CACHE_MAX = 1000;

export function createCredentialService(deps: CredentialServiceDeps): CredentialService {
  const { db, profiles } = deps;
  const now = deps.now ?? (() => new Date());
  const cacheMs = deps.authCacheMs ?? 5_000;
  const cache = new Map<string, { secretHash: Uint8Array; principal: GatewayPrincipal; until: number }>();
  // Bumped after every committed revocation: an authentication that read the row before the
  // revocation committed must not put the old credential back into the cache afterwards.
  let revocations = 0;
  const forget = (id: string) => {
    revocations++;
    cache.delete(id);
  };

  async function issueFor(tx: Kysely<DB>, profileId: string, adminEmail: string) {
    const t = issueToken(GATEWAY_TOKEN_PREFIX);
    const row = await repo.insertCredential(tx, { id: t.id, profileId, secretHash: t.secretHash, adminEmail });
    return { credential: toCredential(row), token: t.token };
  }

  // A credential of another organisation answers exactly like one that does not exist.
  // Runs on the caller's transaction handle: PGlite has one connection, so a query on the
  // outer handle inside a transaction would wait for itself.
  async function ownedCredential(tx: Kysely<DB>, orgId: string, credentialId: string) {
    const row = await repo.findCredentialInOrg(tx, orgId, credentialId);
    if (!row) throw new DomainError('not_found', `there is no credential "${credentialId}"`);
    return row;
  }

  return {
    async provision(orgId, profileName, adminEmail) {
      const email = adminEmail.trim().toLowerCase();
      if (!EMAIL.test(email)) throw new DomainError('invalid', `"${adminEmail}" is not an email address`);
      const profile = await profiles.get(orgId, profileName);
      const issued = await issueFor(db, profile.id, email);
      await deps.audit?.record({ orgId, actor: `admin:${email}`, action: 'credential.provision', subject: profileName, detail: { credential: issued.credential.id } });
      return issued;
    },
    async rotate(orgId, credentialId) {
      const issued = await db.transaction().execute(async (tx) => {
        const old = await ownedCredential(tx, orgId, credentialId);
        if (old.revoked_at !== null) throw new DomainError('conflict', 'this credential is revoked; provision a new one');
        const replacement = await issueFor(tx, old.profile_id, old.admin_email);
        await repo.revokeCredential(tx, old.id, now());
        await deps.audit?.appendWithin(tx, [{ orgId, at: now(), actor: `admin:${old.admin_email}`, action: 'credential.rotate', subject: credentialId, detail: { replacement: replacement.credential.id } }]);
        return replacement;
      });
      forget(credentialId);
      return issued;
    },
    async revoke(orgId, credentialId) {
      await ownedCredential(db, orgId, credentialId);
      const row = (await repo.revokeCredential(db, credentialId, now())) ?? (await repo.findCredential(db, credentialId));
      forget(credentialId);
      await deps.audit?.record({ orgId, actor: 'admin', action: 'credential.revoke', subject: credentialId, detail: {} });
      return toCredential(row!);
    },
    async list(orgId, profileName) {
      const profile = await profiles.get(orgId, profileName);
      return (await repo.listCredentials(db, profile.id)).map(toCredential);
    },
    async authenticate(token) {
      const parsed = parseToken(GATEWAY_TOKEN_PREFIX, token);
      if (!parsed) return null;
      const at = now();
      const revocationsBefore = revocations;
      const cached = cache.get(parsed.id);
      if (cached && cached.until > at.getTime() && secretMatches(parsed.secret, cached.secretHash)) return cached.principal;
      const row = await repo.findCredentialForAuth(db, parsed.id);
      const matches = secretMatches(parsed.secret, row?.secret_hash ?? new Uint8Array(32));
      if (!row || !matches || row.revoked_at !== null) return null;
      // "Last used" is for administrators, minute precision is plenty, and skipping the write
      // keeps uploads at one read per request.
      if (row.last_used_at === null || at.getTime() - row.last_used_at.getTime() > 60_000) {
        await repo.touchCredential(db, row.id, at);
      }
      const principal = { credentialId: row.id, profile: toProfile({ ...row, id: row.profile_id }) };
      if (cacheMs > 0 && revocations === revocationsBefore) {
        if (cache.size >= AUTH_CACHE_MAX) cache.delete(cache.keys().next().value!);
        cache.set(row.id, { secretHash: row.secret_hash, principal, until: at.getTime() + cacheMs });
      }
      return principal;
    },
  };
}
