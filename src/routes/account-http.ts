import type { FastifyReply, FastifyRequest } from 'fastify';
import { clientNetwork } from '../domain/accounts/client-network.ts';
import { SESSION_COOKIE, type SessionInfo, type SessionService } from '../domain/accounts/session-service.ts';

/** Where sign-in leads when the request names no (acceptable) `next`. */
export const DEFAULT_NEXT = '/account';

/**
 * `next` as a redirect target, or the default. Only a path on this site: it starts with one
 * slash (not `//host`, a scheme-relative URL), has no backslash (browsers read `/\host` as
 * `//host`), no control characters, and no `#` (a Location with a fragment would replace the
 * envelope secret the browser carries across the redirect).
 */
export function safeNext(raw: unknown, fallback = DEFAULT_NEXT): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 2048) return fallback;
  if (!raw.startsWith('/') || raw.startsWith('//')) return fallback;
  if (/[\\#\s\x00-\x1f\x7f]/.test(raw)) return fallback;
  return raw;
}

/** A path with a query built from the defined values, in the given order. */
export function withQuery(path: string, params: Record<string, string | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** One text field of a form body; arrays (a field sent twice) and non-strings count as absent. */
export function field(body: unknown, name: string): string {
  if (!body || typeof body !== 'object') return '';
  const v = (body as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : '';
}

export function query(request: FastifyRequest, name: string): string | undefined {
  const v = ((request.query ?? {}) as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : undefined;
}

/** The network the client is counted under (see client-network.ts); request.ip honours TRUST_PROXY. */
export function networkOf(request: FastifyRequest): string {
  return clientNetwork(request.ip);
}

/** The live session the request's cookie stands for, if any. */
export async function sessionOf(request: FastifyRequest, sessions: SessionService): Promise<SessionInfo | null> {
  return sessions.fromCookie(request.cookies?.[SESSION_COOKIE]);
}

export function setSessionCookie(reply: FastifyReply, sessions: SessionService, session: SessionInfo, value: string): void {
  reply.setCookie(SESSION_COOKIE, value, sessions.cookieOptions(session));
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/', secure: true, httpOnly: true, sameSite: 'lax' });
}

/** 303 See Other: the browser follows with GET, and keeps the page's fragment since Location has none. */
export function seeOther(reply: FastifyReply, location: string): FastifyReply {
  return reply.code(303).header('location', location).header('cache-control', 'no-store').send();
}

/** A short, human name for a User-Agent: "Firefox on Windows". Falls back to the first words. */
export function describeBrowser(userAgent: string | null): string | null {
  if (!userAgent) return null;
  const browser =
    /Edg(e|A|iOS)?\//.test(userAgent) ? 'Edge'
    : /OPR\/|Opera/.test(userAgent) ? 'Opera'
    : /Firefox\/|FxiOS/.test(userAgent) ? 'Firefox'
    : /Chrome\/|CriOS/.test(userAgent) ? 'Chrome'
    : /Safari\//.test(userAgent) ? 'Safari'
    : null;
  const os =
    /Windows/.test(userAgent) ? 'Windows'
    : /Android/.test(userAgent) ? 'Android'
    : /iPhone|iPad|iPod/.test(userAgent) ? 'iOS'
    : /Mac OS X|Macintosh/.test(userAgent) ? 'macOS'
    : /CrOS/.test(userAgent) ? 'ChromeOS'
    : /Linux/.test(userAgent) ? 'Linux'
    : null;
  if (browser && os) return `${browser} (${os})`;
  if (browser) return browser;
  return userAgent.length > 60 ? `${userAgent.slice(0, 57)}...` : userAgent;
}
