import type { Kysely } from 'kysely';
import type { AuditService } from '../audit/audit-service.ts';
import type { DB } from '../../db/schema.ts';
import { DomainError } from '../errors.ts';
import {
  DEFAULT_PROFILE_SETTINGS,
  ProfileSettingsError,
  mergeProfileSettings,
  validateProfileSettings,
  type ProfileSettings,
} from './profile-settings.ts';
import * as repo from './profile-repository.ts';
import { checkTemplate, type TemplateKind } from '../../envelope/template-check.ts';
import { isLocale } from '../../i18n/locales.ts';

export interface Profile {
  id: string;
  orgId: string;
  name: string;
  settings: ProfileSettings;
  createdAt: Date;
  updatedAt: Date;
}

export interface ProfileService {
  /** Unset settings take their defaults; the envelope language, the organisation's default. */
  create(orgId: string, name: string, settings?: unknown, actor?: string): Promise<Profile>;
  /**
   * Merges `patch` onto the settings. Templates that change are checked first (checkTemplate):
   * their problems come back as a DomainError 'invalid' whose details read "KIND: line N: …".
   */
  update(orgId: string, name: string, patch: unknown, actor?: string): Promise<Profile>;
  get(orgId: string, name: string): Promise<Profile>;
  list(orgId: string): Promise<Profile[]>;
  /** By id, for the opening flow (an envelope names its profile by id); null when gone. */
  byId(id: string): Promise<Profile | null>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/;

type Row = NonNullable<Awaited<ReturnType<typeof repo.findProfileById>>>;

export function toProfile(row: Row): Profile {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    settings: validateProfileSettings(row.settings),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function settingsOrInvalid(fn: () => ProfileSettings): ProfileSettings {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ProfileSettingsError) throw new DomainError('invalid', 'the profile settings are not valid', err.problems);
    throw err;
  }
}

/** The templates of `after` that differ from `before`, each checked; every problem refuses the change. */
async function refuseBadTemplates(before: ProfileSettings, after: ProfileSettings): Promise<void> {
  const pairs: [TemplateKind, string | null, string | null][] = [
    ['html', before.templates.html, after.templates.html],
    ['text', before.templates.text, after.templates.text],
    ['failure', before.templates.failure, after.templates.failure],
    ['failureSubject', before.templates.failureSubject, after.templates.failureSubject],
    ['subject', before.subjectTemplate, after.subjectTemplate],
  ];
  const problems: string[] = [];
  for (const [kind, was, is] of pairs) {
    if (is === null || is === was) continue;
    for (const p of await checkTemplate(kind, is)) problems.push(`${kind}: ${p.line === null ? '' : `line ${p.line}: `}${p.message}`);
  }
  if (problems.length > 0) throw new DomainError('invalid', 'the templates have problems', problems);
}

export function createProfileService(deps: { db: Kysely<DB>; audit?: AuditService; now?: () => Date }): ProfileService {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  const notFound = (name: string) => new DomainError('not_found', `there is no profile named "${name}"`);

  return {
    async create(orgId, name, settings = {}, actor = 'admin') {
      if (!NAME.test(name)) {
        throw new DomainError('invalid', 'a profile name is 1-63 letters, digits, spaces, dots, dashes or underscores');
      }
      const orgLocale = await repo.findOrgDefaultLocale(db, orgId);
      const base = orgLocale && isLocale(orgLocale) ? { ...DEFAULT_PROFILE_SETTINGS, defaultLocale: orgLocale } : DEFAULT_PROFILE_SETTINGS;
      const merged = settingsOrInvalid(() => mergeProfileSettings(base, settings));
      await refuseBadTemplates(base, merged);
      const row = await repo.insertProfile(db, { orgId, name, settings: merged });
      if (!row) throw new DomainError('conflict', `a profile named "${name}" already exists`);
      await deps.audit?.record({ orgId, actor, action: 'profile.create', subject: name, detail: {} });
      return toProfile(row);
    },
    async update(orgId, name, patch, actor = 'admin') {
      // Checked before the transaction: the HTML check loads a DOM, which takes a moment, and
      // nothing should hold the row meanwhile. The check looks at the patch's templates only.
      const before = await repo.findProfileByName(db, orgId, name);
      if (!before) throw notFound(name);
      const current = validateProfileSettings(before.settings);
      await refuseBadTemplates(current, settingsOrInvalid(() => mergeProfileSettings(current, patch)));
      return db.transaction().execute(async (tx) => {
        const row = await repo.findProfileByName(tx, orgId, name);
        if (!row) throw notFound(name);
        const merged = settingsOrInvalid(() => mergeProfileSettings(validateProfileSettings(row.settings), patch));
        const updated = toProfile((await repo.updateProfileSettings(tx, row.id, merged, now()))!);
        // Which settings changed, not their values (a logo or a template can be large).
        const changed = patch !== null && typeof patch === 'object' ? Object.keys(patch).sort() : [];
        await deps.audit?.appendWithin(tx, [{ orgId, at: now(), actor, action: 'profile.update', subject: name, detail: { changed } }]);
        return updated;
      });
    },
    async get(orgId, name) {
      const row = await repo.findProfileByName(db, orgId, name);
      if (!row) throw notFound(name);
      return toProfile(row);
    },
    async list(orgId) {
      return (await repo.listProfiles(db, orgId)).map(toProfile);
    },
    async byId(id) {
      const row = await repo.findProfileById(db, id);
      return row ? toProfile(row) : null;
    },
  };
}
