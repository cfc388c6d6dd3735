import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { isLocale, type Locale } from '../../i18n/locales.ts';
import type { AccountService } from '../accounts/account-service.ts';
import { normaliseAddress } from '../accounts/addresses.ts';
import type { AuditService } from '../audit/audit-service.ts';
import { DomainError } from '../errors.ts';
import type { StaffMailer } from './staff-mail.ts';
import * as repo from './staff-repository.ts';

/**
 * Who is acting in the console or the administrators' API. `profileIds` null: every profile of
 * the organisation (an administrator); otherwise only those (a delegated administrator).
 */
export interface Staff {
  orgId: string;
  email: string;
  role: 'admin' | 'delegated';
  profileIds: readonly string[] | null;
}

export interface ConsolePrincipal extends Staff {
  userId: string;
  orgName: string;
}

export interface StaffUser {
  id: string;
  email: string;
  role: 'admin' | 'delegated';
  roleId: string | null;
  roleName: string | null;
  invitedBy: string | null;
  /** null until the person first opens the console: the invitation is still pending */
  firstSeenAt: Date | null;
  lastSeenAt: Date | null;
}

export interface StaffRole {
  id: string;
  name: string;
  profileIds: string[];
  profileNames: string[];
  userCount: number;
}

export interface Organisation {
  id: string;
  name: string;
  defaultLocale: Locale;
}

/** 'admin', or the id of a custom role (a delegated administrator). */
export type RoleChoice = { kind: 'admin' } | { kind: 'role'; roleId: string };

export interface StaffService {
  /** The console user an account is, by its verified addresses (null: none); records the visit. */
  principalFor(accountId: string): Promise<ConsolePrincipal | null>;
  organisation(orgId: string): Promise<Organisation>;
  updateOrganisation(by: Staff, values: { name: string; defaultLocale: string }): Promise<void>;
  listUsers(by: Staff): Promise<StaffUser[]>;
  /**
   * Adds a console user and mails them; they accept by signing in with that address verified.
   * The user is kept when the mail cannot be sent (`mailed` false): the mail only tells them
   * where to go, so the administrator can tell them instead.
   */
  invite(by: Staff, input: { email: string; role: RoleChoice; locale: string }): Promise<{ id: string; mailed: boolean }>;
  setRole(by: Staff, userId: string, role: RoleChoice): Promise<void>;
  remove(by: Staff, userId: string): Promise<void>;
  listRoles(by: Staff): Promise<StaffRole[]>;
  /** Creates (no id) or changes a custom role: its name and the profiles it may use. */
  saveRole(by: Staff, input: { id?: string; name: string; profileIds: readonly string[] }): Promise<{ id: string }>;
  deleteRole(by: Staff, roleId: string): Promise<void>;
}

const ROLE_NAME = /^[^\s](.{0,62}[^\s])?$/u;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const actorOf = (s: Pick<Staff, 'email'>) => `admin:${s.email}`;

/**
 * Console users, custom roles and the organisation's settings. Only administrators change them;
 * a delegated administrator asking is told "not found", like anyone asking about another
 * organisation's objects. Every change is an audit record.
 */
export function createStaffService(deps: { db: Kysely<DB>; accounts: Pick<AccountService, 'verifiedAddresses'>; audit: AuditService; mailer: StaffMailer; now?: () => Date }): StaffService {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  const adminOnly = (by: Staff) => {
    if (by.role !== 'admin') throw new DomainError('not_found', 'there is no such page');
  };
  const record = (by: Staff, action: string, subject: string, detail: Record<string, unknown> = {}) =>
    deps.audit.record({ orgId: by.orgId, actor: actorOf(by), action, subject, detail });

  async function roleFields(by: Staff, role: RoleChoice): Promise<{ role: 'admin' | 'delegated'; roleId: string | null; label: string }> {
    if (role.kind === 'admin') return { role: 'admin', roleId: null, label: 'admin' };
    const found = UUID.test(role.roleId) ? await repo.findRole(db, by.orgId, role.roleId) : undefined;
    if (!found) throw new DomainError('invalid', 'there is no such role');
    return { role: 'delegated', roleId: found.id, label: found.name };
  }

  async function userOf(by: Staff, userId: string) {
    const user = UUID.test(userId) ? await repo.findUser(db, by.orgId, userId) : undefined;
    if (!user) throw new DomainError('not_found', 'there is no such user in this organisation');
    return user;
  }

  /** An organisation always keeps one administrator: nobody can lock everyone out of it. */
  async function keepsAnAdmin(by: Staff, user: { role: string }) {
    if (user.role === 'admin' && (await repo.countAdmins(db, by.orgId)) <= 1) {
      throw new DomainError('conflict', 'this is the last administrator of the organisation');
    }
  }

  async function organisation(orgId: string): Promise<Organisation> {
    const org = await repo.findOrganisation(db, orgId);
    if (!org) throw new DomainError('not_found', 'there is no such organisation');
    return { id: org.id, name: org.name, defaultLocale: isLocale(org.default_locale) ? org.default_locale : 'en' };
  }

  return {
    organisation,
    async principalFor(accountId) {
      const addresses = await deps.accounts.verifiedAddresses(accountId);
      const user = await repo.findUserByAddresses(db, addresses);
      if (!user) return null;
      await repo.markSeen(db, user.id, now());
      return {
        userId: user.id,
        orgId: user.org_id,
        orgName: user.org_name,
        email: user.email,
        role: user.role,
        profileIds: user.role === 'admin' ? null : (user.profile_ids ?? []),
      };
    },
    async updateOrganisation(by, values) {
      adminOnly(by);
      const name = values.name.replace(/\s+/g, ' ').trim();
      if (name.length === 0 || name.length > 200) throw new DomainError('invalid', 'the organisation needs a name of 1 to 200 characters');
      if (!isLocale(values.defaultLocale)) throw new DomainError('invalid', 'that language is not one of the envelope languages');
      await repo.updateOrganisation(db, by.orgId, { name, defaultLocale: values.defaultLocale });
      await record(by, 'organisation.update', name, { defaultLocale: values.defaultLocale });
    },
    async listUsers(by) {
      adminOnly(by);
      return (await repo.listUsers(db, by.orgId)).map((u) => ({
        id: u.id,
        email: u.email,
        role: u.role,
        roleId: u.role_id,
        roleName: u.role_name,
        invitedBy: u.invited_by,
        firstSeenAt: u.first_seen_at,
        lastSeenAt: u.last_seen_at,
      }));
    },
    async invite(by, input) {
      adminOnly(by);
      const email = normaliseAddress(input.email);
      if (!email) throw new DomainError('invalid', `"${input.email}" is not an email address`);
      const fields = await roleFields(by, input.role);
      const row = await repo.insertUser(db, { orgId: by.orgId, email, role: fields.role, roleId: fields.roleId, invitedBy: actorOf(by) });
      if (!row) throw new DomainError('conflict', 'that address already has console access');
      await record(by, 'user.invite', email, { role: fields.label });
      const org = await organisation(by.orgId);
      try {
        await deps.mailer.invite({ to: email, locale: input.locale, organisation: org.name, invitedBy: by.email });
        return { id: row.id, mailed: true };
      } catch {
        return { id: row.id, mailed: false };
      }
    },
    async setRole(by, userId, role) {
      adminOnly(by);
      const user = await userOf(by, userId);
      const fields = await roleFields(by, role);
      if (fields.role !== 'admin') await keepsAnAdmin(by, user);
      await repo.setUserRole(db, user.id, fields.role, fields.roleId);
      await record(by, 'user.role', user.email, { role: fields.label });
    },
    async remove(by, userId) {
      adminOnly(by);
      const user = await userOf(by, userId);
      await keepsAnAdmin(by, user);
      await repo.deleteUser(db, user.id);
      await record(by, 'user.remove', user.email);
    },
    async listRoles(by) {
      adminOnly(by);
      return (await repo.listRoles(db, by.orgId)).map((r) => ({
        id: r.id,
        name: r.name,
        profileIds: r.profile_ids ?? [],
        profileNames: r.profile_names ?? [],
        userCount: Number(r.user_count ?? 0),
      }));
    },
    async saveRole(by, input) {
      adminOnly(by);
      const name = input.name.replace(/\s+/g, ' ').trim();
      if (!ROLE_NAME.test(name)) throw new DomainError('invalid', 'a role needs a name of 1 to 64 characters');
      const wanted = [...new Set(input.profileIds)].filter((id) => UUID.test(id));
      const profileIds = await repo.profilesInOrg(db, by.orgId, wanted);
      if (profileIds.length !== input.profileIds.length || profileIds.length === 0) throw new DomainError('invalid', 'choose at least one profile of this organisation');
      return db.transaction().execute(async (tx) => {
        let id: string;
        if (input.id) {
          const found = UUID.test(input.id) ? await repo.findRole(tx, by.orgId, input.id) : undefined;
          if (!found) throw new DomainError('not_found', 'there is no such role');
          id = found.id;
          if (found.name !== name) {
            try {
              await repo.renameRole(tx, id, name);
            } catch (err) {
              if ((err as { code?: string }).code === '23505') throw new DomainError('conflict', `a role named "${name}" already exists`);
              throw err;
            }
          }
        } else {
          const row = await repo.insertRole(tx, by.orgId, name);
          if (!row) throw new DomainError('conflict', `a role named "${name}" already exists`);
          id = row.id;
        }
        await repo.setRoleProfiles(tx, id, profileIds);
        await deps.audit.appendWithin(tx, [{ orgId: by.orgId, at: now(), actor: actorOf(by), action: input.id ? 'role.update' : 'role.create', subject: name, detail: { profiles: profileIds } }]);
        return { id };
      });
    },
    async deleteRole(by, roleId) {
      adminOnly(by);
      const role = UUID.test(roleId) ? await repo.findRole(db, by.orgId, roleId) : undefined;
      if (!role) throw new DomainError('not_found', 'there is no such role');
      const inUse = (await repo.listUsers(db, by.orgId)).filter((u) => u.role_id === role.id).map((u) => u.email);
      if (inUse.length > 0) throw new DomainError('conflict', `the role is still given to ${inUse.join(', ')}`);
      await repo.deleteRole(db, role.id);
      await record(by, 'role.delete', role.name);
    },
  };
}
