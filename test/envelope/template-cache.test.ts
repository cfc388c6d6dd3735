import { join } from 'node:path';
import t from 'tap';
import { createI18n } from '../../src/i18n/create-i18n.ts';
import { createTemplateCache } from '../../src/envelope/template-cache.ts';

const root = join(import.meta.dirname, '..', '..');
const i18n = createI18n(join(root, 'locales'));

t.test('a template is compiled once per locale and escaping, and each locale keeps its own helpers', async (t) => {
  const cache = createTemplateCache({ i18n, views: join(root, 'views') });
  const source = '{{t "envelope:securedoc.open"}} {{x}}';
  const fr = cache.compile('fr', source, { name: 'a' });
  t.equal(cache.compile('fr', source, { name: 'a' }), fr, 'the second request gets the compiled template');
  const de = cache.compile('de', source, { name: 'a' });
  t.not(de, fr);
  t.equal(fr({ x: '<b>' }), 'Ouvrir &lt;b&gt;');
  t.equal(de({ x: '<b>' }), 'Öffnen &lt;b&gt;');
  t.equal(cache.compile('fr', source, { name: 'a', noEscape: true })({ x: '<b>' }), 'Ouvrir <b>', 'plain text is its own entry');
  t.equal(cache.dates('fr'), cache.dates('fr'));
  t.match(cache.dates('de').format(new Date('2025-03-01T09:30:00Z')), /1\. März 2025/);
  t.equal(cache.view('envelope/securedoc.hbs'), cache.view('envelope/securedoc.hbs'));
});

t.test('runtime helpers serve one rendering only', async (t) => {
  const cache = createTemplateCache({ i18n, views: join(root, 'views') });
  const render = cache.compile('en', '{{shout x}}', { name: 'h', noEscape: true });
  t.equal(render({ x: 'a' }, { helpers: { shout: (v: unknown) => `${String(v).toUpperCase()}!` } }), 'A!');
  t.throws(() => render({ x: 'a' }), { message: /the h failed to render/ }, 'the helper is not left behind');
});

t.test('a template that does not compile throws every time, and the least recently used entries go first', async (t) => {
  const cache = createTemplateCache({ i18n, views: join(root, 'views') }, { maxTemplates: 2 });
  t.throws(() => cache.compile('en', '{{#if}}', { name: 'broken template' }), { message: /the broken template does not compile/ });
  t.throws(() => cache.compile('en', '{{#if}}', { name: 'broken template' }), { message: /the broken template does not compile/ });
  const a = cache.compile('en', 'a', { name: 'x' });
  const b = cache.compile('en', 'b', { name: 'x' });
  t.equal(cache.compile('en', 'a', { name: 'x' }), a, 'a was used again, so b is now the oldest');
  cache.compile('en', 'c', { name: 'x' });
  t.equal(cache.compile('en', 'a', { name: 'x' }), a, 'a stayed');
  t.not(cache.compile('en', 'b', { name: 'x' }), b, 'b was evicted and compiled anew');
});
