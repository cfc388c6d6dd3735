import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createI18n } from '../src/i18n/create-i18n.ts';
import { isLocale, pickLocale, SUPPORTED_LOCALES } from '../src/i18n/locales.ts';

// Checks every namespace file found under locales/en, so namespaces added later are covered
// without touching this test.
const localesDir = join(import.meta.dirname, '..', 'locales');
const PLURAL_SUFFIX = /_(zero|one|two|few|many|other)$/;

type Tree = { [key: string]: string | Tree };

function flatten(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (typeof value === 'string') out.set(path, value);
    else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of flatten(value, path)) out.set(k, v);
    } else out.set(path, JSON.stringify(value)); // reported below as not a string
  }
  return out;
}

function placeholders(value: string): string[] {
  const names = new Set<string>();
  for (const match of value.matchAll(/\{\{\s*([^},\s]+)\s*(?:,[^}]*)?\}\}/g)) names.add(match[1] ?? '');
  for (const match of value.matchAll(/\$t\(\s*([^,)\s]+)/g)) names.add(`$t(${match[1] ?? ''})`);
  return [...names].sort();
}

// i18next plural keys differ by language (Japanese has only _other, Polish has _few and _many),
// so keys are compared by their base name and each language must have its own plural forms.
function groupByBase(flat: Map<string, string>): Map<string, { forms: Set<string>; placeholders: Set<string> }> {
  const groups = new Map<string, { forms: Set<string>; placeholders: Set<string> }>();
  for (const [key, value] of flat) {
    const match = PLURAL_SUFFIX.exec(key);
    const base = match ? key.slice(0, match.index) : key;
    const group = groups.get(base) ?? { forms: new Set<string>(), placeholders: new Set<string>() };
    group.forms.add(match?.[1] ?? '');
    for (const name of placeholders(value)) group.placeholders.add(name);
    groups.set(base, group);
  }
  return groups;
}

function readTree(path: string): Tree {
  return JSON.parse(readFileSync(path, 'utf8')) as Tree;
}

const namespaces = readdirSync(join(localesDir, 'en')).filter((f) => f.endsWith('.json')).sort();

t.test('locales folder holds exactly the supported locales', async (t) => {
  const dirs = readdirSync(localesDir).filter((d) => statSync(join(localesDir, d)).isDirectory()).sort();
  t.same(dirs, [...SUPPORTED_LOCALES].sort());
  t.ok(namespaces.includes('envelope.json'), 'the envelope namespace exists');
});

for (const locale of SUPPORTED_LOCALES) {
  t.test(`${locale} has the same namespaces as en`, async (t) => {
    const files = readdirSync(join(localesDir, locale)).filter((f) => f.endsWith('.json')).sort();
    t.same(files, namespaces);
  });
}

for (const namespace of namespaces) {
  const reference = flatten(readTree(join(localesDir, 'en', namespace)));
  const referenceGroups = groupByBase(reference);

  for (const locale of SUPPORTED_LOCALES) {
    t.test(`${locale}/${namespace}`, async (t) => {
      const flat = flatten(readTree(join(localesDir, locale, namespace)));
      for (const [key, value] of flat) {
        t.equal(typeof value, 'string', `${key} is a string`);
        t.not(value.trim(), '', `${key} is not empty`);
      }
      const groups = groupByBase(flat);
      t.same([...groups.keys()].sort(), [...referenceGroups.keys()].sort(), 'same keys as en');

      const pluralCategories = new Intl.PluralRules(locale).resolvedOptions().pluralCategories;
      for (const [base, ref] of referenceGroups) {
        const group = groups.get(base);
        if (!group) continue; // reported by the key comparison above
        t.same([...group.placeholders].sort(), [...ref.placeholders].sort(), `${base}: same placeholders as en`);
        const plural = [...ref.forms].some((form) => form !== '');
        if (plural) {
          for (const category of pluralCategories) {
            t.ok(group.forms.has(category), `${base}: has the ${category} plural form`);
          }
        } else {
          t.same([...group.forms], [''], `${base}: not pluralised here either`);
        }
      }
    });
  }
}

t.test('createI18n loads every namespace synchronously', async (t) => {
  const i18n = createI18n(localesDir);
  t.ok(i18n.isInitialized, 'usable right away');
  for (const namespace of namespaces) {
    t.ok(i18n.hasLoadedNamespace(namespace.replace(/\.json$/, '')), `${namespace} loaded`);
  }
  const fr = i18n.getFixedT('fr');
  t.equal(fr('envelope:securedoc.open'), 'Ouvrir');
  t.equal(i18n.getFixedT('de')('envelope:securedoc.openOnline'), 'Online öffnen');
  // No HTML escaping inside i18next: the templates escape.
  t.equal(i18n.getFixedT('en')('envelope:notification.intro', { sender: 'A & B <a@b>' }), 'A & B <a@b> has sent you a secure message.');
  // Two locales used in turn from one instance do not interfere.
  t.equal(i18n.getFixedT('ja')('envelope:securedoc.open'), '開く');
  t.equal(fr('envelope:securedoc.open'), 'Ouvrir');
  t.equal(i18n.language, 'en', 'getFixedT does not change the shared language');
});

t.test('createI18n instances are independent', async (t) => {
  const a = createI18n(localesDir);
  const b = createI18n(localesDir);
  t.not(a, b);
  a.addResource('en', 'envelope', 'securedoc.open', 'Changed');
  t.equal(b.getFixedT('en')('envelope:securedoc.open'), 'Open');
});

t.test('isLocale', async (t) => {
  for (const locale of SUPPORTED_LOCALES) t.ok(isLocale(locale), locale);
  for (const value of ['EN', 'en-US', 'zh-TW', 'xx', '', null, 3, undefined]) t.notOk(isLocale(value), String(value));
});

t.test('pickLocale', async (t) => {
  t.equal(pickLocale('fr-CA,fr;q=0.9,en;q=0.5'), 'fr');
  t.equal(pickLocale('pt-BR'), 'pt');
  t.equal(pickLocale('zh-Hans-CN, en;q=0.1'), 'zh');
  t.equal(pickLocale('xx, de;q=0.2, ja;q=0.8'), 'ja', 'ordered by q');
  t.equal(pickLocale('ko;q=0, it'), 'it', 'q=0 means not acceptable');
  t.equal(pickLocale('*'), 'en');
  t.equal(pickLocale(''), 'en');
  t.equal(pickLocale(null), 'en');
  t.equal(pickLocale(undefined, 'nl'), 'nl', 'fallback');
  t.equal(pickLocale(['xx', null, 'PL'], 'en'), 'pl', 'a list in order');
  t.equal(pickLocale(['ru_RU']), 'ru');
  t.equal(pickLocale('garbage;;;,,q=2'), 'en');
});
