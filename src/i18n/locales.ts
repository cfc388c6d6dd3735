// The envelope locales a profile can choose, the same twelve that Cisco's encryption profiles
// offer. 'zh' is Simplified Chinese. Order matters only for display (the first is the default).
export const SUPPORTED_LOCALES = ['en', 'fr', 'de', 'ja', 'pt', 'es', 'it', 'ko', 'nl', 'pl', 'ru', 'zh'] as const;

export type Locale = (typeof SUPPORTED_LOCALES)[number];

export const DEFAULT_LOCALE: Locale = 'en';

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (SUPPORTED_LOCALES as readonly string[]).includes(value);
}

/**
 * Chooses the best supported locale for a list of preferences.
 *
 * `preferences` is either an HTTP Accept-Language value (`'fr-CA,fr;q=0.9,en;q=0.5'`, which
 * also covers a single tag such as `'pt-BR'`) or a list of tags already in order of preference
 * (a user setting, then a profile default, ...). Tags match on their primary language subtag,
 * case-insensitively, so `pt-BR` gives `pt` and `zh-Hans-CN` gives `zh`. Anything unusable is
 * skipped rather than rejected, because the inputs come from browsers and headers we do not
 * control; when nothing matches, `fallback` is returned.
 */
export function pickLocale(
  preferences: string | readonly (string | null | undefined)[] | null | undefined,
  fallback: Locale = DEFAULT_LOCALE,
): Locale {
  const tags = typeof preferences === 'string' ? parseAcceptLanguage(preferences) : (preferences ?? []);
  for (const tag of tags) {
    if (typeof tag !== 'string') continue;
    const primary = tag.trim().split(/[-_]/, 1)[0]?.toLowerCase();
    if (isLocale(primary)) return primary;
  }
  return fallback;
}

// Returns the language ranges of an Accept-Language value ordered by q-value (stable for ties,
// so the sender's own order decides between equals). Ranges with q=0 mean "not this one".
function parseAcceptLanguage(header: string): string[] {
  const ranges: { tag: string; q: number; index: number }[] = [];
  header.split(',').forEach((part, index) => {
    const [rawTag, ...params] = part.split(';');
    const tag = rawTag?.trim() ?? '';
    if (tag === '' || tag === '*') return;
    let q = 1;
    for (const param of params) {
      const match = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(param);
      if (match?.[1] !== undefined) q = Number(match[1]);
    }
    if (!Number.isFinite(q) || q <= 0) return;
    ranges.push({ tag, q, index });
  });
  ranges.sort((a, b) => b.q - a.q || a.index - b.index);
  return ranges.map((range) => range.tag);
}
