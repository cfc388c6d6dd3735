import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import type { HelperOptions } from 'handlebars';
import type { i18n } from 'i18next';
import type { Locale } from '../i18n/locales.ts';

export type TemplateEngine = typeof Handlebars;
/** Renders a compiled template; `runtime` passes helpers that only this rendering uses. */
export type RenderFn = (data: object, runtime?: { helpers?: Record<string, Handlebars.HelperDelegate> }) => string;

export interface TemplateEngineOptions {
  i18n: i18n;
  locale: Locale;
}

/**
 * Creates an isolated Handlebars environment for one locale.
 *
 * Each rendering gets its own environment (`Handlebars.create()`), never the global one, so
 * helpers bound to one locale cannot leak into another rendering and profile templates cannot
 * register anything that outlives them.
 *
 * Helpers:
 * - `{{t "ns:key" name=value}}` translates with the hash as interpolation values. The result is
 *   a plain string, so an escaping template escapes it together with the values inside it.
 * - `{{formatDate date}}` formats a Date (or ISO string) for the locale, in UTC, naming the
 *   zone, because the reader's zone is unknown when the mail is built.
 * - `{{join list ", "}}` joins an array.
 */
export function createTemplateEngine(options: TemplateEngineOptions): TemplateEngine {
  const hbs = Handlebars.create();
  const t = options.i18n.getFixedT(options.locale);
  const dates = createDateFormatter(options.locale);

  hbs.registerHelper('t', function (key: unknown, helperOptions: HelperOptions) {
    if (typeof key !== 'string') throw new Error('the t helper needs a translation key');
    // i18next treats some option names (lng, ns, count, context, ...) specially; the hash is
    // spread after ours so a template can use them deliberately.
    const value: unknown = t(key, { ...(helperOptions.hash as Record<string, unknown>) });
    return typeof value === 'string' ? value : String(value);
  });
  hbs.registerHelper('formatDate', (value: unknown) => {
    if (value === null || value === undefined || value === '') return '';
    const date = value instanceof Date ? value : new Date(String(value));
    return Number.isNaN(date.getTime()) ? '' : dates.format(date);
  });
  hbs.registerHelper('join', (list: unknown, separator: unknown) => {
    if (!Array.isArray(list)) return '';
    return list.map(String).join(typeof separator === 'string' ? separator : ', ');
  });
  return hbs;
}

/** Long date and time in UTC with the zone shown, e.g. "Saturday, 1 March 2025 at 09:30:00 UTC". */
export function createDateFormatter(locale: Locale): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'full', timeStyle: 'long', timeZone: 'UTC' });
}

export interface CompileOptions {
  /** Names the template in error messages, e.g. 'notification HTML template'. */
  name: string;
  /** true for plain-text output (mail text part, header values): nothing is HTML-escaped. */
  noEscape?: boolean;
}

/**
 * Compiles a template eagerly and wraps rendering so every failure names the template.
 *
 * Handlebars compiles lazily: a syntax error would otherwise surface only at the first render
 * and without saying which of several templates was at fault. Parsing here makes a broken
 * profile template fail where it is loaded.
 */
export function compileTemplate(hbs: TemplateEngine, source: string, options: CompileOptions): RenderFn {
  let render: HandlebarsTemplateDelegate;
  try {
    hbs.parse(source);
    render = hbs.compile(source, { noEscape: options.noEscape === true, strict: false });
  } catch (error) {
    throw new Error(`the ${options.name} does not compile: ${(error as Error).message}`, { cause: error });
  }
  return (data, runtime) => {
    try {
      return render(data, runtime);
    } catch (error) {
      throw new Error(`the ${options.name} failed to render: ${(error as Error).message}`, { cause: error });
    }
  };
}

/** Reads a view's source from the views directory, e.g. readView(views, 'envelope/securedoc.hbs'). */
export function readView(views: string, name: string): string {
  return readFileSync(join(views, name), 'utf8');
}
