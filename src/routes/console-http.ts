import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../domain/errors.ts';
import type { ConsolePrincipal } from '../domain/staff/staff-service.ts';
import type { Locale } from '../i18n/locales.ts';
import type { AccountRouteOptions } from './account-pages.ts';
import { clearSessionCookie, seeOther, sessionOf, withQuery } from './account-http.ts';

export type ConsoleSection = 'home' | 'profiles' | 'users' | 'roles' | 'messages' | 'audit';

export interface ConsolePage {
  view: string;
  titleKey: string;
  section: ConsoleSection;
  data?: object;
  status?: number;
  csp?: Record<string, string>;
}

/**
 * What every console route needs: who is asking (signed in with an address that is a console
 * user), and a page in the console's frame. Someone signed in who is not a console user gets
 * one "no access" page; a delegated administrator asking for an administrators-only page gets
 * the same "not found" as for something that does not exist.
 */
export function consoleHttp(opts: AccountRouteOptions) {
  const { services, pages } = opts;

  async function principal(request: FastifyRequest, reply: FastifyReply): Promise<ConsolePrincipal | null> {
    const session = await sessionOf(request, services.sessions);
    if (!session) {
      clearSessionCookie(reply);
      seeOther(reply, withQuery('/signin', { next: request.url.split('?')[0] }));
      return null;
    }
    const who = await services.staff.principalFor(session.accountId);
    if (!who) {
      pages.send(request, reply, { view: 'pages/console/no-access.hbs', titleKey: 'console:noAccess.title', locale: pages.localeOf(request), status: 403 });
      return null;
    }
    return who;
  }

  function send(request: FastifyRequest, reply: FastifyReply, who: ConsolePrincipal, page: ConsolePage): FastifyReply {
    return pages.send(request, reply, {
      view: page.view,
      titleKey: page.titleKey,
      locale: pages.localeOf(request),
      status: page.status,
      csp: page.csp,
      data: { ...page.data, consoleSection: page.section, isAdmin: who.role === 'admin', orgName: who.orgName, me: who.email },
    });
  }

  function missing(request: FastifyRequest, reply: FastifyReply, who: ConsolePrincipal, section: ConsoleSection): FastifyReply {
    return send(request, reply, who, { view: 'pages/console/missing.hbs', titleKey: 'console:missing.title', section, status: 404 });
  }

  /** Runs `fn` for administrators only; others get the "not found" page. */
  async function adminPage(request: FastifyRequest, reply: FastifyReply, section: ConsoleSection, fn: (who: ConsolePrincipal, locale: Locale) => Promise<FastifyReply>) {
    const who = await principal(request, reply);
    if (!who) return reply;
    if (who.role !== 'admin') return missing(request, reply, who, section);
    try {
      return await fn(who, pages.localeOf(request));
    } catch (err) {
      if (err instanceof DomainError && err.code === 'not_found') return missing(request, reply, who, section);
      throw err;
    }
  }

  return { principal, send, missing, adminPage, seeOther };
}

export type ConsoleHttp = ReturnType<typeof consoleHttp>;

/** Checkbox values: a multi-valued field (several boxes of one name) as a list of strings. */
export function fieldList(body: unknown, name: string): string[] {
  if (!body || typeof body !== 'object') return [];
  const v = (body as Record<string, unknown>)[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
}
