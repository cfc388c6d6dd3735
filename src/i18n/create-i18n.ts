import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import i18next from 'i18next';
import type { i18n, Resource, ResourceLanguage } from 'i18next';
import { DEFAULT_LOCALE, SUPPORTED_LOCALES } from './locales.ts';

/**
 * Creates one initialised i18next instance holding every translation under `localesDir`.
 *
 * Layout: `<localesDir>/<locale>/<namespace>.json`. Every `.json` file found becomes a
 * namespace, so a feature adds its strings by adding a file; nothing here lists them. Keys are
 * always used with their namespace (`t('envelope:securedoc.heading')`), which is why there is
 * no meaningful default namespace.
 *
 * Loading is synchronous and init is not deferred (`initAsync: false`), so the instance can
 * translate as soon as this returns: callers never wait for a callback, and a broken file fails
 * at start-up instead of on the first request that needs it.
 *
 * Callers take `getFixedT(locale)` per request or per rendering and never change the instance's
 * language, which keeps one instance safe to share between concurrent requests.
 */
export function createI18n(localesDir: string): i18n {
  const resources: Resource = {};
  const namespaces = new Set<string>();

  for (const locale of SUPPORTED_LOCALES) {
    const dir = join(localesDir, locale);
    // A missing locale folder is not fatal: that locale falls back to English. The locales test
    // is what guarantees all twelve are complete.
    if (!existsSync(dir)) continue;
    const language: ResourceLanguage = {};
    for (const file of readdirSync(dir).sort()) {
      if (!file.endsWith('.json')) continue;
      const namespace = file.slice(0, -'.json'.length);
      const path = join(dir, file);
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(path, 'utf8'));
      } catch (error) {
        throw new Error(`cannot read translations from ${path}: ${(error as Error).message}`, { cause: error });
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new Error(`translations in ${path} must be a JSON object`);
      }
      language[namespace] = parsed as ResourceLanguage[string];
      namespaces.add(namespace);
    }
    resources[locale] = language;
  }

  const instance = i18next.createInstance();
  void instance.init({
    resources,
    ns: [...namespaces].sort(),
    // Keys carry their namespace; a key without one is a bug and shows up as the raw key.
    defaultNS: false,
    lng: DEFAULT_LOCALE,
    fallbackLng: DEFAULT_LOCALE,
    supportedLngs: [...SUPPORTED_LOCALES],
    initAsync: false,
    returnNull: false,
    interpolation: {
      // Handlebars escapes what the templates print; escaping here as well would double-escape
      // (a sender "A & B" would show as "A &amp;amp; B").
      escapeValue: false,
    },
  });
  return instance;
}
