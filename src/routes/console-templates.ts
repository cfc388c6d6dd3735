import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../domain/errors.ts';
import { DEFAULT_PROFILE_SETTINGS } from '../domain/profiles/profile-settings.ts';
import type { ConsolePrincipal } from '../domain/staff/staff-service.ts';
import { actorOf } from '../domain/staff/staff-service.ts';
import { renderNotificationBodies } from '../envelope/notification.ts';
import { renderSubject } from '../envelope/notification.ts';
import { readView } from '../envelope/templates.ts';
import { renderFailureText } from '../gateway/filter/failure-notice.ts';
import { VIEWS_DIR } from '../paths.ts';
import type { AccountRouteOptions } from './account-pages.ts';
import { field, query, seeOther } from './account-http.ts';
import { consoleHttp } from './console-http.ts';

type Kind = 'html' | 'text' | 'failure' | 'subject' | 'failureSubject';
const KINDS: Kind[] = ['subject', 'html', 'text', 'failureSubject', 'failure'];
const pathOf = (name: string) => `/admin/profiles/${encodeURIComponent(name)}/templates`;

/**
 * The default sources, shown when a profile has none of its own. A default submitted unchanged
 * is stored as "none of its own", so the profile keeps following the product's default.
 */
function defaults(): Record<'html' | 'text', string> {
  return { html: readView(VIEWS_DIR, 'envelope/notification.html.hbs'), text: readView(VIEWS_DIR, 'envelope/notification.txt.hbs') };
}

/** What the preview renders with: the console user's own address as the sender, example values for the rest. */
const previewPolicy = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/**
 * The profile's notification templates: edited as Handlebars, previewed, and checked before they
 * are saved (valid Handlebars, only known variables, no HTML that mail must not carry). The
 * preview needs no script: its buttons post the drafts into a sandboxed frame, whose answer has
 * its own policy (no script, no remote images, framed by this site only).
 */
export async function consoleTemplateRoutes(app: FastifyInstance, opts: AccountRouteOptions & { publicUrl: string }): Promise<void> {
  const { services, i18n } = opts;
  const http = consoleHttp(opts);
  const hide = { schema: { hide: true } };

  function drafts(body: unknown): Record<Kind, string> {
    return Object.fromEntries(KINDS.map((k) => [k, field(body, k).replace(/\r\n/g, '\n')])) as Record<Kind, string>;
  }

  async function page(request: FastifyRequest, reply: FastifyReply, who: ConsolePrincipal, name: string, state: { drafts?: Record<Kind, string>; problems?: Partial<Record<Kind, string[]>> } = {}) {
    const t = i18n.getFixedT(opts.pages.localeOf(request));
    const profile = await services.profiles.get(who.orgId, name);
    const s = profile.settings;
    const d = defaults();
    const stored: Record<Kind, string> = {
      subject: s.subjectTemplate,
      html: s.templates.html ?? d.html,
      text: s.templates.text ?? d.text,
      failureSubject: s.templates.failureSubject,
      failure: s.templates.failure ?? '',
    };
    const values = state.drafts ?? stored;
    const problems = state.problems ?? {};
    return http.send(request, reply, who, {
      view: 'pages/console/templates.hbs',
      titleKey: 'console:templates.title',
      section: 'profiles',
      status: Object.keys(problems).length > 0 ? 400 : 200,
      // The preview frame loads this site's own preview answers.
      csp: { 'frame-src': "'self'" },
      data: {
        profile: { name: profile.name, path: `/admin/profiles/${encodeURIComponent(profile.name)}`, templates: pathOf(profile.name) },
        fields: KINDS.map((kind) => ({ kind, value: values[kind], multiline: kind === 'html' || kind === 'text' || kind === 'failure', problems: problems[kind] ?? [] })),
        hasProblems: Object.keys(problems).length > 0,
        notice: query(request, 'done') === 'templates' ? t('console:notices.templates') : undefined,
      },
    });
  }

  app.get('/admin/profiles/:name/templates', hide, (request, reply) =>
    http.adminPage(request, reply, 'profiles', (who) => page(request, reply, who, (request.params as { name: string }).name)),
  );

  app.post('/admin/profiles/:name/templates', hide, (request, reply) =>
    http.adminPage(request, reply, 'profiles', async (who) => {
      const { name } = request.params as { name: string };
      const v = drafts(request.body);
      const d = defaults();
      const orNull = (value: string, fallback?: string) => (value.trim() === '' || value === fallback?.replace(/\r\n/g, '\n') ? null : value);
      const patch = {
        subjectTemplate: v.subject.trim() === '' ? DEFAULT_PROFILE_SETTINGS.subjectTemplate : v.subject,
        templates: {
          html: orNull(v.html, d.html),
          text: orNull(v.text, d.text),
          failure: orNull(v.failure),
          failureSubject: v.failureSubject.trim() === '' ? DEFAULT_PROFILE_SETTINGS.templates.failureSubject : v.failureSubject,
        },
      };
      try {
        await services.profiles.update(who.orgId, name, patch, actorOf(who));
      } catch (err) {
        if (!(err instanceof DomainError) || err.code !== 'invalid') throw err;
        const problems: Partial<Record<Kind, string[]>> = {};
        for (const detail of err.details) {
          const m = /^(html|text|failure|subject|failureSubject): (.*)$/s.exec(detail);
          const kind: Kind = (m?.[1] as Kind | undefined) ?? 'html';
          (problems[kind] ??= []).push(m?.[2] ?? detail);
        }
        return page(request, reply, who, name, { drafts: v, problems });
      }
      return seeOther(reply, `${pathOf(name)}?done=templates`);
    }),
  );

  app.post('/admin/profiles/:name/templates/preview', hide, (request, reply) =>
    http.adminPage(request, reply, 'profiles', async (who) => {
      const { name } = request.params as { name: string };
      const profile = await services.profiles.get(who.orgId, name);
      const locale = profile.settings.defaultLocale;
      const t = i18n.getFixedT(locale);
      const v = drafts(request.body);
      const show = query(request, 'show');
      const subject = t('console:templates.sampleSubject');
      const recipients = ['recipient@example.org'];
      reply.header('content-security-policy', previewPolicy).header('x-frame-options', 'SAMEORIGIN').header('cache-control', 'no-store');
      try {
        if (show === 'failure') {
          const text = renderFailureText({ locale, template: v.failure.trim() === '' ? null : v.failure, reason: 'timeout', detail: t('console:templates.sampleDetail'), original: { subject, recipients, firstSeen: new Date() } }, { i18n });
          return reply.type('text/plain; charset=utf-8').send(`${t('console:templates.subjectLine')} ${renderSubject(v.failureSubject || DEFAULT_PROFILE_SETTINGS.templates.failureSubject, { subject })}\n\n${text}`);
        }
        const bodies = renderNotificationBodies(
          {
            locale,
            templates: { html: v.html, text: v.text },
            data: { sender: who.email, recipients, subject, keyServiceUrl: opts.publicUrl, securityLevel: profile.settings.securityLevel, expiresAt: null, fileName: profile.settings.envelopeFileName },
          },
          { i18n, views: VIEWS_DIR },
        );
        if (show === 'text') return reply.type('text/plain; charset=utf-8').send(`${t('console:templates.subjectLine')} ${renderSubject(v.subject || '{{subject}}', { subject })}\n\n${bodies.text}`);
        return reply.type('text/html; charset=utf-8').send(bodies.html);
      } catch (err) {
        // A draft that does not compile or render: say so in the frame, in words.
        return reply.code(400).type('text/plain; charset=utf-8').send(`${t('console:templates.previewFailed')}\n\n${(err as Error).message}`);
      }
    }),
  );
}
