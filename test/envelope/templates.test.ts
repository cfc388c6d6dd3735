import { join } from 'node:path';
import Handlebars from 'handlebars';
import t from 'tap';
import { createI18n } from '../../src/i18n/create-i18n.ts';
import { compileTemplate, createTemplateEngine } from '../../src/envelope/templates.ts';

const i18n = createI18n(join(import.meta.dirname, '..', '..', 'locales'));

t.test('helpers are bound to one locale and stay out of the global Handlebars', async (t) => {
  const fr = createTemplateEngine({ i18n, locale: 'fr' });
  const de = createTemplateEngine({ i18n, locale: 'de' });
  const source = '{{t "envelope:securedoc.open"}}';
  t.equal(compileTemplate(fr, source, { name: 'test' })({}), 'Ouvrir');
  t.equal(compileTemplate(de, source, { name: 'test' })({}), 'Öffnen');
  t.notOk('t' in Handlebars.helpers, 'nothing registered globally');
});

t.test('t escapes in HTML templates and not in text templates', async (t) => {
  const hbs = createTemplateEngine({ i18n, locale: 'en' });
  const source = '{{t "envelope:notification.intro" sender=sender}}';
  const data = { sender: '<b>A & B</b>' };
  t.equal(compileTemplate(hbs, source, { name: 'html' })(data), '&lt;b&gt;A &amp; B&lt;/b&gt; has sent you a secure message.');
  t.equal(compileTemplate(hbs, source, { name: 'text', noEscape: true })(data), '<b>A & B</b> has sent you a secure message.');
});

t.test('formatDate and join', async (t) => {
  const hbs = createTemplateEngine({ i18n, locale: 'de' });
  const render = compileTemplate(hbs, '{{formatDate when}}|{{formatDate missing}}|{{join list " / "}}', { name: 'x', noEscape: true });
  t.equal(render({ when: new Date('2025-03-01T09:30:00Z'), list: ['a', 'b'] }), 'Samstag, 1. März 2025 um 09:30:00 UTC||a / b');
});

t.test('compile errors name the template and happen at compile time', async (t) => {
  const hbs = createTemplateEngine({ i18n, locale: 'en' });
  t.throws(() => compileTemplate(hbs, '{{#each x}}', { name: 'footer template' }), { message: /^the footer template does not compile/ });
  const render = compileTemplate(hbs, '{{missingHelper 1}}', { name: 'body template' });
  t.throws(() => render({}), { message: /^the body template failed to render/ });
  t.throws(() => compileTemplate(hbs, '{{t 42}}', { name: 'key template' })({}), { message: /key template failed to render/ });
});

t.test('prototype properties are not reachable from a template', async (t) => {
  const hbs = createTemplateEngine({ i18n, locale: 'en' });
  const out = compileTemplate(hbs, '{{constructor.name}}{{__proto__}}', { name: 'x', noEscape: true })({ a: 1 });
  t.equal(out, '');
});
