import type { i18n } from 'i18next';
import type { Locale } from '../i18n/locales.ts';
import { compileTemplate, createDateFormatter, createTemplateEngine, readView, type CompileOptions, type RenderFn, type TemplateEngine } from './templates.ts';

/**
 * Compiled templates, views and date formats kept for a process's lifetime. Compiling the
 * envelope's templates took about 10 ms per message and rendering them about 2 ms, so a gateway
 * sealing many messages compiles each template once per locale instead of once per message.
 *
 * Each locale has its own environment (createTemplateEngine), so helpers bound to one locale
 * never serve another. Profile templates are keyed by their source: an edited template is
 * simply a new entry; the oldest entries go once there are more than `maxTemplates`.
 */
export interface TemplateCache {
  /** A view's source, read from the views directory once. */
  view(name: string): string;
  /** The template compiled for this locale and escaping; a source that does not compile throws each time. */
  compile(locale: Locale, source: string, options: CompileOptions): RenderFn;
  /** The locale's long UTC date format (see createDateFormatter). */
  dates(locale: Locale): Intl.DateTimeFormat;
}

export function createTemplateCache(deps: { i18n: i18n; views: string }, opts: { maxTemplates?: number } = {}): TemplateCache {
  const maxTemplates = opts.maxTemplates ?? 64;
  const views = new Map<string, string>();
  const engines = new Map<Locale, TemplateEngine>();
  const formats = new Map<Locale, Intl.DateTimeFormat>();
  const compiled = new Map<string, RenderFn>();
  const engineFor = (locale: Locale): TemplateEngine => {
    let engine = engines.get(locale);
    if (!engine) {
      engine = createTemplateEngine({ i18n: deps.i18n, locale });
      engines.set(locale, engine);
    }
    return engine;
  };
  return {
    view(name) {
      let source = views.get(name);
      if (source === undefined) {
        source = readView(deps.views, name);
        views.set(name, source);
      }
      return source;
    },
    compile(locale, source, options) {
      // The name is part of the key because render errors name the template.
      const key = `${locale}\0${options.noEscape === true ? 'text' : 'html'}\0${options.name}\0${source}`;
      let render = compiled.get(key);
      if (render) {
        // Most recently used last, so eviction takes the least recently used.
        compiled.delete(key);
        compiled.set(key, render);
        return render;
      }
      render = compileTemplate(engineFor(locale), source, options);
      compiled.set(key, render);
      if (compiled.size > maxTemplates) compiled.delete(compiled.keys().next().value!);
      return render;
    },
    dates(locale) {
      let format = formats.get(locale);
      if (!format) {
        format = createDateFormatter(locale);
        formats.set(locale, format);
      }
      return format;
    },
  };
}
