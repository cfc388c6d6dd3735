import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { checkTemplate, TEMPLATE_VARIABLES, type TemplateKind } from '../../src/envelope/template-check.ts';

const views = join(import.meta.dirname, '..', '..', 'views', 'envelope');

// A copy of DEFAULT_TEMPLATE in src/gateway/filter/failure-notice.ts (not exported there).
const DEFAULT_FAILURE = `{{t "gateway:failure.intro" subject=subject}}

{{reason}}

{{t "gateway:failure.recipients"}} {{join recipients ", "}}
{{t "gateway:failure.since"}} {{formatDate firstSeen}}

{{t "gateway:failure.next"}}

{{t "gateway:failure.detail"}} {{detail}}
`;

const messages = async (kind: TemplateKind, source: string) => (await checkTemplate(kind, source)).map((p) => p.message);

t.test('the default templates pass', async (t) => {
  t.same(await checkTemplate('html', readFileSync(join(views, 'notification.html.hbs'), 'utf8')), []);
  t.same(await checkTemplate('text', readFileSync(join(views, 'notification.txt.hbs'), 'utf8')), []);
  t.same(await checkTemplate('failure', DEFAULT_FAILURE), []);
  t.same(await checkTemplate('subject', '{{subject}}'), []);
  t.same(await checkTemplate('failureSubject', '[Encryption failure] {{subject}}'), []);
});

t.test('a parse error is one problem on its line', async (t) => {
  const problems = await checkTemplate('text', 'Hello\n\n{{#if subject}}\n{{subject}}\n');
  t.equal(problems.length, 1);
  t.equal(problems[0]?.line, 5);
  t.match(problems[0]?.message, /^this is not valid Handlebars .*unclosed block/);
  t.notMatch(problems[0]?.message, /\n|Expecting/, 'no parser dump');
  const broken = await checkTemplate('text', 'a\n{{subject}\n');
  t.equal(broken[0]?.line, 2);
  const mismatch = await checkTemplate('text', '{{#if subject}}\n{{/each}}');
  t.equal(mismatch[0]?.line, 1);
  t.match(mismatch[0]?.message, '{{#if}} is closed by {{/each}}');
});

t.test('an unknown variable is named, with the nearest known one', async (t) => {
  const problems = await checkTemplate('html', '<p>Hello</p>\n<p>from\n  {{sendr}}</p>');
  t.equal(problems.length, 1);
  t.match(problems[0], { line: 3, column: 5 }, 'placed at the name itself');
  t.match(problems[0]?.message, /^\{\{sendr\}\} is not a known variable \(did you mean sender\?\); known: lang, sender,/);
  t.notMatch((await messages('text', '{{wholly_unknown}}'))[0], 'did you mean', 'no suggestion when nothing is near');
  t.match(await messages('text', '{{t "x" name=sendr}}'), [/sendr/], 'hash values are checked');
  t.match(await messages('text', '{{#if subject}}{{else}}{{sendr}}{{/if}}'), [/sendr/], 'inverse blocks are checked');
});

t.test('an unknown helper is refused, and subjects have no t helper', async (t) => {
  t.match(await messages('text', '{{shout subject}}'), [/^\{\{shout\}\} is not a known helper; known: t, formatDate, join, if, unless, each, with$/]);
  t.match(await messages('text', '{{t "x" list=(jion recipients ", ")}}'), [/jion.*did you mean join/], 'subexpressions are checked');
  t.match(await messages('text', '{{#repeat subject}}x{{/repeat}}'), [/repeat\}\} is not a known helper/]);
  t.match(await messages('subject', '{{t "x"}} {{subject}}'), [/\{\{t\}\} is not a known helper/]);
});

t.test('partials and decorators are refused', async (t) => {
  t.match(await checkTemplate('text', 'a\n{{> footer}}'), [{ line: 2, message: /partials/ }]);
  t.match(await messages('html', '{{#> layout}}x{{/layout}}'), [/partials/]);
  t.match(await messages('text', '{{#*inline "x"}}y{{/inline}}'), [/decorators/]);
});

t.test('unescaped output is refused in html and allowed in text kinds', async (t) => {
  t.match(await messages('html', '<p>{{{subject}}}</p>'), [/\{\{\{subject\}\}\} writes its value without HTML escaping/]);
  t.match(await messages('html', '<p>{{& sender}}</p>'), [/without HTML escaping/]);
  t.same(await checkTemplate('text', '{{{subject}}} {{& sender}}'), []);
  t.same(await checkTemplate('failure', '{{{detail}}}'), []);
  t.same(await checkTemplate('subject', '[x] {{{subject}}}'), []);
});

t.test('the HTML must pass the mail sanitiser', async (t) => {
  const refused: [string, RegExp][] = [
    ['<p>a</p>\n<script>alert(1)</script>', /<script>, which mail must not carry/],
    ['<a href="#" onclick="steal()">x</a>', /attribute onclick on <a> is not allowed/],
    ['<form action="https://evil.example/"><p>x</p></form>', /<form>/],
    ['<iframe srcdoc="<p>x</p>"></iframe>', /<iframe>/],
    ['<a href="javascript:alert(1)">x</a>', /href="javascript:alert\(1\)" on <a>/],
    ['<a href="vbscript:msgbox(1)">x</a>', /href="vbscript:/],
    ['<meta http-equiv="refresh" content="0;url=https://evil.example/">', /<meta http-equiv>/],
    ['<img src="data:text/html,x">', /src="data:text\/html,x" on <img>/],
    ['<object data="x"></object>', /<object>/],
  ];
  for (const [source, message] of refused) t.match(await messages('html', source), [message], source);

  const script = await checkTemplate('html', '<p>one</p>\n<p>two</p>\n  <script>x</script>');
  t.match(script, [{ line: 3, column: 3 }], 'a removal is placed where the source has it');
  t.equal((await checkTemplate('html', '<a onclick="a()">1</a>\n<a onclick="b()">2</a>')).map((p) => p.line).join(), '1,2', 'repeats get their own lines');
});

t.test('mail HTML that is fine passes', async (t) => {
  t.same(await checkTemplate('html', '<p style="color:#333;margin:0">Hi <img src="cid:logo" alt="Logo" style="width:2rem"></p>'), []);
  t.same(await checkTemplate('html', '<img src="https://example.org/x.png"><img src="data:image/png;base64,AAAA">'), []);
  t.same(await checkTemplate('html', '<head><style>p { color: red }</style></head><body><p>x</p></body>'), [], '<style> elements are allowed');
  t.same(await checkTemplate('html', '<a href="{{keyServiceUrl}}" title="{{t "envelope:x" host=keyServiceHost}}">{{keyServiceHost}}</a>'), [], 'mustaches in attributes');
  t.same(await checkTemplate('html', '<img src="{{keyServiceUrl}}/logo.png"><td {{#if subject}}class="s"{{/if}}>'), [], 'a URL whose scheme comes from data');
  t.same(await checkTemplate('html', '{{!-- <script>not markup</script> --}}<p>x</p>'), [], 'Handlebars comments are not HTML');
  t.same(await checkTemplate('html', '<ul>{{#each recipients}}<li>{{this}} {{@index}}{{#if @first}}!{{/if}}</li>{{/each}}</ul>'), []);
  t.same(await checkTemplate('text', '{{#each recipients as |r|}}{{r}}{{/each}}'), [], 'block parameters');
});

t.test('each kind has its own variables', async (t) => {
  t.same(await checkTemplate('failure', '{{reason}}: {{detail}} ({{formatDate firstSeen}})'), []);
  t.match(await messages('failure', '{{keyServiceUrl}}'), [/\{\{keyServiceUrl\}\} is not a known variable; known: subject, recipients, reason, detail, firstSeen/]);
  t.match(await messages('subject', '{{sender}}: {{subject}}'), [/\{\{sender\}\} is not a known variable.*known: subject$/]);
  t.match(await messages('failureSubject', '{{reason}}'), [/reason/]);
  t.same(TEMPLATE_VARIABLES.subject, ['subject']);
  t.ok(Object.isFrozen(TEMPLATE_VARIABLES.html));
});

t.test('size limits follow the profile schema', async (t) => {
  const big = 'x'.repeat(100_001);
  t.match(await checkTemplate('html', big), [{ line: null, message: /100001 characters; at most 100000/ }]);
  t.same(await checkTemplate('text', 'x'.repeat(100_000)), []);
  t.match(await messages('subject', `${'x'.repeat(500)}{{subject}}`), [/at most 500/]);
});
