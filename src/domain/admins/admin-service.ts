import type { Kysely } from 'kysely';
import type { AuditService } from '../audit/audit-service.ts';
import type { DB } from '../../db/schema.ts';
import { issueToken, parseToken, secretMatches } from '../../crypto/tokens.ts';
import { DomainError } from '../errors.ts';
import * as repo from './admin-repository.ts';

export const ADMIN_TOKEN_PREFIX = 'wxa';

export interface AdminPrincipal {
  userId: string;
  orgId: string;
  email: string;
}

export interface AdminService {
  /** Creates the first organisation and administrator; refused once any administrator exists. */
  initialise(input: { organisation: string; email: string }): Promise<{ orgId: string; userId: string; token: string }>;
  issueToken(userId: string, label: string): Promise<string>;
  authenticate(token: string): Promise<AdminPrincipal | null>;
}

export function createAdminService(deps: { db: Kysely<DB>; audit?: AuditService; now?: () => Date }): AdminService {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());

  async function issue(tx: Kysely<DB>, userId: string, label: string): Promise<string> {
    const t = issueToken(ADMIN_TOKEN_PREFIX);
    await repo.insertApiToken(tx, { id: t.id, userId, secretHash: t.secretHash, label });
    return t.token;
  }

  return {
    async initialise({ organisation, email }) {
      const name = organisation.trim();
      const address = email.trim().toLowerCase();
      if (!name) throw new DomainError('invalid', 'the organisation needs a name');
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(address)) throw new DomainError('invalid', `"${email}" is not an email address`);
      return db.transaction().execute(async (tx) => {
        if ((await repo.countAdmins(tx)) > 0) {
          throw new DomainError('already_initialised', 'an administrator already exists; ask them for a token');
        }
        const org = await repo.insertOrganisation(tx, name);
        const user = await repo.insertAdmin(tx, org.id, address);
        const token = await issue(tx, user.id, 'initial');
        await deps.audit?.appendWithin(tx, [{ orgId: org.id, at: now(), actor: `admin:${address}`, action: 'organisation.create', subject: name, detail: {} }]);
        return { orgId: org.id, userId: user.id, token };
      });
    },
    issueToken: (userId, label) => issue(db, userId, label),
    async authenticate(token) {
      const parsed = parseToken(ADMIN_TOKEN_PREFIX, token);
      if (!parsed) return null;
      const row = await repo.findApiToken(db, parsed.id);
      // Hash and compare even when the row is missing, so timing says nothing about which ids exist.
      const matches = secretMatches(parsed.secret, row?.secret_hash ?? new Uint8Array(32));
      if (!row || !matches || row.revoked_at !== null || row.role !== 'admin') return null;
      await repo.touchApiToken(db, row.id, now());
      return { userId: row.user_id, orgId: row.org_id, email: row.email };
    },
  };
}
