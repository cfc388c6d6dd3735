import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { i18n } from 'i18next';
import { compileTemplate, createTemplateEngine, readView, type TemplateEngine } from '../envelope/templates.ts';
import { pickLocale, SUPPORTED_LOCALES, type Locale } from '../i18n/locales.ts';
import { DEFAULT_CSP } from './security-headers.ts';
import { sha256Source } from '../crypto/csp-hash.ts';

/** The cookie that keeps a reader's language choice (set by the chooser on every page). */
export const LANG_COOKIE = '__Host-waxseal-lang';

export interface Page {
  /** view under views/, e.g. 'pages/signin.hbs'; rendered inside views/pages/layout.hbs */
  view: string;
  /** i18next key of the page title (also the accessible name of the page) */
  titleKey: string;
  locale: Locale;
  data?: object;
  status?: number;
  /** same-origin script paths, e.g. ['/assets/reader.js']; pages have no script otherwise */
  scripts?: string[];
  /**
   * A tiny script put inline first thing in the head and allowed by its hash, so it runs before
   * the style sheet, the first layout or any request of its own; its data are data-* attributes
   * of its own element (keys in kebab-case), since the body is not parsed yet when it runs.
   * For starting requests at once. Its source must be the product's own, never request data.
   */
  startScript?: { source: string; data: Record<string, string> };
  /** extra CSP directives, e.g. { 'img-src': "'self' data: https:" } */
  csp?: Record<string, string>;
}

export interface PageRenderer {
  send(request: FastifyRequest, reply: FastifyReply, page: Page): FastifyReply;
  /** The locale for this request: ?lang=, the chooser's cookie, Accept-Language, then fallback. */
  localeOf(request: FastifyRequest, fallback?: Locale): Locale;
  /** Translations for answers that are not pages (problem+json bodies for page scripts). */
  translator(locale: Locale): (key: string, values?: Record<string, unknown>) => string;
  /** Renders a view to a string (mail bodies, fragments) with the same helpers as pages. */
  renderView(view: string, locale: Locale, data: object): string;
}

/**
 * Renders the key service's HTML pages: one layout (language chooser, skip link, landmarks), one
 * same-origin style sheet, and a CSP that allows nothing else unless the page names it.
 * Views are compiled once per locale and cached for the life of the renderer (one per app).
 */
export function createPageRenderer(deps: { i18n: i18n; views: string }): PageRenderer {
  const names = new Map(SUPPORTED_LOCALES.map((l) => [l, new Intl.DisplayNames([l], { type: 'language' }).of(l) ?? l]));
  const engines = new Map<Locale, TemplateEngine>();
  // views/partials/NAME.hbs is {{> NAME}} in every page (the console's navigation, for one).
  const partialsDir = join(deps.views, 'partials');
  const partials = existsSync(partialsDir) ? readdirSync(partialsDir).filter((f) => f.endsWith('.hbs')).map((f) => [f.slice(0, -4), readView(partialsDir, f)] as const) : [];
  const compiled = new Map<string, (data: object) => string>();

  const engineFor = (locale: Locale): TemplateEngine => {
    let hbs = engines.get(locale);
    if (!hbs) {
      hbs = createTemplateEngine({ i18n: deps.i18n, locale });
      hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
      // {{t (concat "ns:prefix." value)}}: a key built from a value the page lists.
      hbs.registerHelper('concat', (...args: unknown[]) => args.slice(0, -1).map(String).join(''));
      for (const [name, source] of partials) hbs.registerPartial(name, source);
      engines.set(locale, hbs);
    }
    return hbs;
  };
  const template = (view: string, locale: Locale) => {
    const key = `${locale}\0${view}`;
    let render = compiled.get(key);
    if (!render) {
      render = compileTemplate(engineFor(locale), readView(deps.views, view), { name: view });
      compiled.set(key, render);
    }
    return render;
  };

  const localeOf = (request: FastifyRequest, fallback?: Locale): Locale => {
    const query = (request.query ?? {}) as { lang?: unknown };
    const cookie = request.cookies?.[LANG_COOKIE];
    return pickLocale(
      [typeof query.lang === 'string' ? query.lang : null, cookie ?? null, ...String(request.headers['accept-language'] ?? '').split(',').map((p) => p.split(';')[0])],
      fallback,
    );
  };

  return {
    localeOf,
    translator: (locale) => {
      const t = deps.i18n.getFixedT(locale);
      return (key, values) => String(t(key, values ?? {}));
    },
    renderView: (view, locale, data) => template(view, locale)({ ...data, lang: locale }),
    send(request, reply, page) {
      const t = deps.i18n.getFixedT(page.locale);
      const body = template(page.view, page.locale)({ ...page.data, lang: page.locale });
      // The chooser re-requests this page: it keeps the other query parameters (next, reauth)
      // as fields, and posts to "" so the URL fragment (an envelope secret) stays too.
      const keep = Object.entries((request.query ?? {}) as Record<string, unknown>)
        .filter(([name, value]) => name !== 'lang' && typeof value === 'string')
        .map(([name, value]) => ({ name, value }));
      const html = template('pages/layout.hbs', page.locale)({
        lang: page.locale,
        title: t(page.titleKey),
        body,
        keep,
        scripts: page.scripts ?? [],
        startScript: page.startScript ?? null,
        locales: SUPPORTED_LOCALES.map((code) => ({ code, name: names.get(code), selected: code === page.locale })),
      });
      const query = (request.query ?? {}) as { lang?: unknown };
      if (typeof query.lang === 'string' && query.lang === page.locale) {
        reply.setCookie(LANG_COOKIE, page.locale, { path: '/', secure: true, httpOnly: true, sameSite: 'lax', maxAge: 365 * 86400 });
      }
      return reply
        .code(page.status ?? 200)
        .header('content-security-policy', pageCsp(page))
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(html);
    },
  };
}

/**
 * The policy of every page: nothing but this origin's style sheet, forms posting to this origin,
 * and the scripts the page names (same origin only, or the start script by its hash).
 */
export function pageCsp(page: Pick<Page, 'scripts' | 'startScript' | 'csp'>): string {
  const inline = page.startScript ? ` '${sha256Source(page.startScript.source)}'` : '';
  const directives: Record<string, string> = {
    'style-src': "'self'",
    'img-src': "'self' data:",
    'form-action': "'self'",
    ...((page.scripts && page.scripts.length > 0) || inline ? { 'script-src': `'self'${inline}`, 'connect-src': "'self'" } : {}),
    ...page.csp,
  };
  const base = DEFAULT_CSP.replace("form-action 'none'", '').replace(/;\s*;/g, ';');
  return [base, ...Object.entries(directives).map(([k, v]) => `${k} ${v}`)].join('; ').replace(/;\s*;/g, ';');
}

/** The static files under public/ that pages use (style sheet, scripts), read once. */
export function readPublicAsset(publicDir: string, name: string): Buffer {
  return readFileSync(join(publicDir, name));
}
