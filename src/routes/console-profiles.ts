import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../domain/errors.ts';
import type { ConsolePrincipal } from '../domain/staff/staff-service.ts';
import { actorOf } from '../domain/staff/staff-service.ts';
import type { AccountRouteOptions } from './account-pages.ts';
import { field, query, seeOther } from './account-http.ts';
import { consoleHttp } from './console-http.ts';
import { checkLogo, LOGO_MAX_BYTES } from './console-logo.ts';
import { FIELD_OF_SETTING, profileFormView, profilePatchFromForm } from './console-profile-form.ts';

const DONE = new Set(['created', 'saved', 'logo', 'logoRemoved', 'revoked', 'templates']);
const pathOf = (name: string) => `/admin/profiles/${encodeURIComponent(name)}`;

interface ProfilePageState {
  status?: number;
  errors?: Record<string, string>;
  logoError?: string;
  credentialError?: string;
  /** a credential's token, shown once right after it was issued */
  issued?: { token: string; id: string };
}

/**
 * The console's profile pages (administrators only): the list, every setting of one profile,
 * its logo (uploaded as a file, its type read from its bytes) and link, and its gateway
 * credentials (provision, rotate, revoke; a token is shown once). Templates: console-templates.ts.
 */
export async function consoleProfileRoutes(app: FastifyInstance, opts: AccountRouteOptions): Promise<void> {
  const { services, i18n } = opts;
  const http = consoleHttp(opts);
  const hide = { schema: { hide: true } };
  // Only this plugin reads multipart bodies (the logo form), one file, no bigger than a logo
  // may be plus a little: a larger upload stops at the limit instead of being read whole.
  await app.register(multipart, { limits: { files: 1, fields: 4, fileSize: LOGO_MAX_BYTES + 1, fieldSize: 1024 } });

  async function list(request: FastifyRequest, reply: FastifyReply, who: ConsolePrincipal, error?: string, draftName = '') {
    const t = i18n.getFixedT(opts.pages.localeOf(request));
    const profiles = await services.profiles.list(who.orgId);
    const done = query(request, 'done');
    return http.send(request, reply, who, {
      view: 'pages/console/profiles.hbs',
      titleKey: 'console:profiles.title',
      section: 'profiles',
      status: error ? 400 : 200,
      data: {
        profiles: profiles.map((p) => ({ name: p.name, path: pathOf(p.name), level: t(`console:levels.${p.settings.securityLevel}`), logo: p.settings.logo !== null, locale: p.settings.defaultLocale })),
        error,
        draftName,
        notice: done === 'removed' ? t('console:notices.profileRemoved') : undefined,
      },
    });
  }

  app.get('/admin/profiles', hide, (request, reply) => http.adminPage(request, reply, 'profiles', (who) => list(request, reply, who)));

  app.post('/admin/profiles', hide, (request, reply) =>
    http.adminPage(request, reply, 'profiles', async (who, locale) => {
      const name = field(request.body, 'name').trim();
      try {
        await services.profiles.create(who.orgId, name, {}, actorOf(who));
      } catch (err) {
        if (!(err instanceof DomainError) || (err.code !== 'invalid' && err.code !== 'conflict')) throw err;
        const t = i18n.getFixedT(locale);
        return list(request, reply, who, t(err.code === 'conflict' ? 'console:errors.profileExists' : 'console:errors.profileName'), name);
      }
      return seeOther(reply, `${pathOf(name)}?done=created`);
    }),
  );

  async function profilePage(request: FastifyRequest, reply: FastifyReply, who: ConsolePrincipal, name: string, state: ProfilePageState = {}) {
    const t = i18n.getFixedT(opts.pages.localeOf(request));
    const profile = await services.profiles.get(who.orgId, name);
    const credentials = await services.credentials.list(who.orgId, name);
    const done = query(request, 'done');
    const s = profile.settings;
    return http.send(request, reply, who, {
      view: 'pages/console/profile.hbs',
      titleKey: 'console:profile.title',
      section: 'profiles',
      status: state.status,
      data: {
        profile: { name: profile.name, path: pathOf(profile.name) },
        form: profileFormView(s),
        logo: s.logo ? `data:${s.logo.mediaType};base64,${s.logo.dataBase64}` : null,
        logoMaxKb: Math.floor(LOGO_MAX_BYTES / 1000),
        credentials: credentials.map((c) => ({ ...c, active: c.revokedAt === null })),
        errors: state.errors ?? {},
        errorList: Object.values(state.errors ?? {}),
        logoError: state.logoError,
        credentialError: state.credentialError,
        issued: state.issued,
        notice: done && DONE.has(done) ? t(`console:notices.${done}`) : undefined,
      },
    });
  }

  app.get('/admin/profiles/:name', hide, (request, reply) =>
    http.adminPage(request, reply, 'profiles', (who) => profilePage(request, reply, who, (request.params as { name: string }).name)),
  );

  app.post('/admin/profiles/:name', hide, (request, reply) =>
    http.adminPage(request, reply, 'profiles', async (who, locale) => {
      const { name } = request.params as { name: string };
      const t = i18n.getFixedT(locale);
      const body = (request.body ?? {}) as Record<string, unknown>;
      const go = field(body, 'go');
      const actor = actorOf(who);
      if (go === 'settings') {
        const current = await services.profiles.get(who.orgId, name);
        const { patch, problems } = profilePatchFromForm(body, current.settings);
        const errors: Record<string, string> = Object.fromEntries(problems.map((p) => [p.field, t(`console:profile.errors.${p.field}`)]));
        if (problems.length === 0) {
          try {
            await services.profiles.update(who.orgId, name, patch, actor);
            return seeOther(reply, `${pathOf(name)}?done=saved`);
          } catch (err) {
            if (!(err instanceof DomainError) || err.code !== 'invalid') throw err;
            // "/payloadTransport/separateUrl: …" names the setting; the form names its field.
            for (const d of err.details) {
              const setting = /^\/?([^:]+):/.exec(d)?.[1]?.replace(/\//g, '.') ?? '';
              const formField = FIELD_OF_SETTING[setting] ?? setting;
              errors[formField] = t(`console:profile.errors.${formField}`, { defaultValue: t('console:profile.errors.other') });
            }
            if (Object.keys(errors).length === 0) errors.other = t('console:profile.errors.other');
          }
        }
        return profilePage(request, reply, who, name, { status: 400, errors });
      }
      if (go === 'removeLogo') {
        await services.profiles.update(who.orgId, name, { logo: null }, actor);
        return seeOther(reply, `${pathOf(name)}?done=logoRemoved`);
      }
      try {
        if (go === 'provision') {
          const issued = await services.credentials.provision(who.orgId, name, field(body, 'adminEmail'));
          return profilePage(request, reply, who, name, { status: 201, issued: { token: issued.token, id: issued.credential.id } });
        }
        if (go === 'rotate') {
          const issued = await services.credentials.rotate(who.orgId, field(body, 'credential'));
          return profilePage(request, reply, who, name, { status: 201, issued: { token: issued.token, id: issued.credential.id } });
        }
        if (go === 'revoke') {
          await services.credentials.revoke(who.orgId, field(body, 'credential'));
          return seeOther(reply, `${pathOf(name)}?done=revoked`);
        }
      } catch (err) {
        if (!(err instanceof DomainError) || err.code === 'not_found') throw err;
        return profilePage(request, reply, who, name, { status: 400, credentialError: t('console:profile.errors.adminEmail') });
      }
      return profilePage(request, reply, who, name, { status: 400, errors: { other: t('console:errors.unknown') } });
    }),
  );

  app.post('/admin/profiles/:name/logo', hide, (request, reply) =>
    http.adminPage(request, reply, 'profiles', async (who, locale) => {
      const { name } = request.params as { name: string };
      const t = i18n.getFixedT(locale);
      await services.profiles.get(who.orgId, name);
      const refuse = (problem: string) => profilePage(request, reply, who, name, { status: 400, logoError: t(`console:profile.logoErrors.${problem}`, { kb: Math.floor(LOGO_MAX_BYTES / 1000) }) });
      if (!request.isMultipart()) return refuse('empty');
      const file = await request.file();
      if (!file) return refuse('empty');
      let bytes: Buffer;
      try {
        bytes = await file.toBuffer();
      } catch (err) {
        if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') return refuse('size');
        throw err;
      }
      const checked = checkLogo(bytes);
      if (!checked.ok) return refuse(checked.problem);
      await services.profiles.update(who.orgId, name, { logo: { mediaType: checked.mediaType, dataBase64: bytes.toString('base64') } }, actorOf(who));
      return seeOther(reply, `${pathOf(name)}?done=logo`);
    }),
  );
}
