import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../domain/errors.ts';
import type { ConsolePrincipal, RoleChoice } from '../domain/staff/staff-service.ts';
import { SUPPORTED_LOCALES } from '../i18n/locales.ts';
import type { AccountRouteOptions } from './account-pages.ts';
import { field, query, seeOther } from './account-http.ts';
import { consoleHttp, fieldList } from './console-http.ts';

const DONE = new Set(['org', 'invited', 'invitedNoMail', 'role', 'removed', 'roleSaved', 'roleDeleted']);
const localeChoices = (selected: string) => SUPPORTED_LOCALES.map((code) => ({ code, name: new Intl.DisplayNames([code], { type: 'language' }).of(code) ?? code, selected: code === selected }));
const roleChoice = (value: string): RoleChoice => (value === 'admin' ? { kind: 'admin' } : { kind: 'role', roleId: value });

/**
 * The console's organisation pages: the overview with the organisation's settings, console users
 * and invitations, and custom roles. Plain forms, no script; each action answers 303 to its page.
 */
export async function consoleOrgRoutes(app: FastifyInstance, opts: AccountRouteOptions): Promise<void> {
  const { services, i18n } = opts;
  const http = consoleHttp(opts);
  const hide = { schema: { hide: true } };
  const notice = (request: FastifyRequest, t: (k: string) => string) => {
    const done = query(request, 'done');
    return done && DONE.has(done) ? t(`console:notices.${done}`) : undefined;
  };

  async function home(request: FastifyRequest, reply: FastifyReply, who: ConsolePrincipal, error?: string) {
    const locale = opts.pages.localeOf(request);
    const t = i18n.getFixedT(locale);
    const org = await services.staff.organisation(who.orgId);
    return http.send(request, reply, who, {
      view: 'pages/console/home.hbs',
      titleKey: 'console:home.title',
      section: 'home',
      status: error ? 400 : 200,
      data: { org, locales: localeChoices(org.defaultLocale), notice: notice(request, t), error, delegated: who.role === 'delegated' },
    });
  }

  app.get('/admin', hide, async (request, reply) => {
    const who = await http.principal(request, reply);
    return who ? home(request, reply, who) : reply;
  });

  app.post('/admin', hide, async (request, reply) => {
    const who = await http.principal(request, reply);
    if (!who) return reply;
    if (who.role !== 'admin') return http.missing(request, reply, who, 'home');
    const t = i18n.getFixedT(opts.pages.localeOf(request));
    try {
      await services.staff.updateOrganisation(who, { name: field(request.body, 'name'), defaultLocale: field(request.body, 'defaultLocale') });
    } catch (err) {
      if (!(err instanceof DomainError) || err.code !== 'invalid') throw err;
      return home(request, reply, who, t('console:errors.orgName'));
    }
    return seeOther(reply, '/admin?done=org');
  });

  async function users(request: FastifyRequest, reply: FastifyReply, who: ConsolePrincipal, error?: string) {
    const t = i18n.getFixedT(opts.pages.localeOf(request));
    const [list, roles] = await Promise.all([services.staff.listUsers(who), services.staff.listRoles(who)]);
    const choices = (selected: string | null) => [
      { value: 'admin', label: t('console:users.admin'), selected: selected === 'admin' },
      ...roles.map((r) => ({ value: r.id, label: r.name, selected: selected === r.id })),
    ];
    return http.send(request, reply, who, {
      view: 'pages/console/users.hbs',
      titleKey: 'console:users.title',
      section: 'users',
      status: error ? 400 : 200,
      data: {
        users: list.map((u) => ({ ...u, self: u.email === who.email, choices: choices(u.role === 'admin' ? 'admin' : u.roleId) })),
        choices: choices('admin'),
        notice: notice(request, t),
        error,
      },
    });
  }

  app.get('/admin/users', hide, (request, reply) => http.adminPage(request, reply, 'users', (who) => users(request, reply, who)));

  app.post('/admin/users', hide, (request, reply) =>
    http.adminPage(request, reply, 'users', async (who, locale) => {
      const t = i18n.getFixedT(locale);
      const body = request.body;
      const go = field(body, 'go');
      try {
        if (go === 'invite') {
          const invited = await services.staff.invite(who, { email: field(body, 'email'), role: roleChoice(field(body, 'role')), locale });
          return seeOther(reply, `/admin/users?done=${invited.mailed ? 'invited' : 'invitedNoMail'}`);
        }
        if (go === 'role') {
          await services.staff.setRole(who, field(body, 'user'), roleChoice(field(body, 'role')));
          return seeOther(reply, '/admin/users?done=role');
        }
        if (go === 'remove') {
          await services.staff.remove(who, field(body, 'user'));
          return seeOther(reply, '/admin/users?done=removed');
        }
      } catch (err) {
        if (!(err instanceof DomainError) || err.code === 'not_found') throw err;
        const key = err.code === 'conflict' ? (go === 'invite' ? 'console:errors.userExists' : 'console:errors.lastAdmin') : go === 'invite' ? 'console:errors.email' : 'console:errors.role';
        return users(request, reply, who, t(key));
      }
      return users(request, reply, who, t('console:errors.unknown'));
    }),
  );

  async function roles(request: FastifyRequest, reply: FastifyReply, who: ConsolePrincipal, error?: string, draft?: { id: string; name: string; profileIds: string[] }) {
    const t = i18n.getFixedT(opts.pages.localeOf(request));
    const [list, profiles] = await Promise.all([services.staff.listRoles(who), services.profiles.list(who.orgId)]);
    const boxes = (chosen: readonly string[]) => profiles.map((p) => ({ id: p.id, name: p.name, checked: chosen.includes(p.id) }));
    return http.send(request, reply, who, {
      view: 'pages/console/roles.hbs',
      titleKey: 'console:roles.title',
      section: 'roles',
      status: error ? 400 : 200,
      data: {
        roles: list.map((r) => ({ ...r, boxes: boxes(draft?.id === r.id ? draft.profileIds : r.profileIds), error: draft?.id === r.id ? error : undefined })),
        newRole: { name: draft && !draft.id ? draft.name : '', boxes: boxes(draft && !draft.id ? draft.profileIds : []), error: draft && !draft.id ? error : undefined },
        hasProfiles: profiles.length > 0,
        notice: notice(request, t),
        error: draft ? undefined : error,
      },
    });
  }

  app.get('/admin/roles', hide, (request, reply) => http.adminPage(request, reply, 'roles', (who) => roles(request, reply, who)));

  app.post('/admin/roles', hide, (request, reply) =>
    http.adminPage(request, reply, 'roles', async (who, locale) => {
      const t = i18n.getFixedT(locale);
      const body = request.body;
      const go = field(body, 'go');
      const draft = { id: field(body, 'role'), name: field(body, 'name'), profileIds: fieldList(body, 'profiles') };
      try {
        if (go === 'save') {
          await services.staff.saveRole(who, { id: draft.id || undefined, name: draft.name, profileIds: draft.profileIds });
          return seeOther(reply, '/admin/roles?done=roleSaved');
        }
        if (go === 'delete') {
          await services.staff.deleteRole(who, draft.id);
          return seeOther(reply, '/admin/roles?done=roleDeleted');
        }
      } catch (err) {
        if (!(err instanceof DomainError) || err.code === 'not_found') throw err;
        if (go === 'delete') return roles(request, reply, who, t('console:errors.roleInUse'));
        const key = err.code === 'conflict' ? 'console:errors.roleExists' : draft.profileIds.length === 0 ? 'console:errors.roleProfiles' : 'console:errors.roleName';
        return roles(request, reply, who, t(key), draft);
      }
      return roles(request, reply, who, t('console:errors.unknown'));
    }),
  );
}
