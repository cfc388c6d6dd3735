import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';
import t from 'tap';
import { createI18n } from '../../src/i18n/create-i18n.ts';
import { SUPPORTED_LOCALES } from '../../src/i18n/locales.ts';
import type { Locale } from '../../src/i18n/locales.ts';
import { buildSecuredoc, SECUREDOC_MAX_LINE } from '../../src/envelope/securedoc.ts';
import { buildEnvelopeFileScript } from '../../src/reader/bundle.ts';
import type { SecuredocInput, SecuredocMode } from '../../src/envelope/securedoc.ts';

const root = join(import.meta.dirname, '..', '..');
const deps = { i18n: createI18n(join(root, 'locales')), views: join(root, 'views') };
const MODES: SecuredocMode[] = ['applet', 'server', 'no-script'];

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array<number>(300).fill(0x42)]);
const GIF = new Uint8Array([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 2, 3]);

function input(overrides: Partial<SecuredocInput> = {}): SecuredocInput {
  return {
    locale: 'en',
    envelopeId: 'Ab-_0123456789abcdefgh',
    envelopeSecret: Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff),
    keyServiceUrl: 'https://keys.example.org',
    sender: 'Ana Pérez <ana@example.org>',
    to: ['Björn Ek <bjorn@example.net>', 'carol@example.net'],
    cc: ['Đorđe <dj@example.rs>'],
    date: new Date('2025-03-01T09:30:00Z'),
    subject: 'Quarterly figures – draft',
    securityLevel: 'high',
    mode: 'applet',
    payload: { kind: 'inline', ciphertext: Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff) },
    ...overrides,
  };
}

// --- a small reader for the page we generate (well-formed, double-quoted attributes) ---

function decode(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#([0-9]+);/g, (_, dec: string) => String.fromCodePoint(parseInt(dec, 10)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
}

interface Tag {
  name: string;
  attrs: Map<string, string>;
  raw: string;
}

function tags(html: string): Tag[] {
  const out: Tag[] = [];
  const withoutComments = html.replace(/<!--[\s\S]*?-->/g, '');
  for (const match of withoutComments.matchAll(/<([a-zA-Z][a-zA-Z0-9]*)((?:\s+[^\s=>]+(?:="[^"]*")?)*)\s*\/?>/g)) {
    const attrs = new Map<string, string>();
    for (const a of (match[2] ?? '').matchAll(/([^\s=>]+)(?:="([^"]*)")?/g)) {
      attrs.set((a[1] ?? '').toLowerCase(), decode(a[2] ?? ''));
    }
    out.push({ name: (match[1] ?? '').toLowerCase(), attrs, raw: match[0] });
  }
  return out;
}

function rawText(html: string, element: string): string[] {
  return [...html.matchAll(new RegExp(`<${element}>([\\s\\S]*?)</${element}>`, 'g'))].map((m) => m[1] ?? '');
}

const norm = (text: string): string => text.replace(/\s+/g, ' ').trim();

/** The visible text: tags and comments removed, references decoded, white space collapsed. */
function visibleText(html: string): string {
  const start = html.indexOf('<body>');
  const body = start === -1 ? html : html.slice(start);
  return decode(
    body
      .replace(/<script>[\s\S]*?<\/script>/g, '')
      .replace(/<!--[\s\S]*?-->/g, '')
      .replace(/<[^>]*>/g, ' '),
  ).replace(/\s+/g, ' ').trim();
}

function csp(html: string): Map<string, string[]> {
  const meta = tags(html).find((tag) => tag.name === 'meta' && tag.attrs.get('http-equiv') === 'Content-Security-Policy');
  const policy = new Map<string, string[]>();
  for (const directive of (meta?.attrs.get('content') ?? '').split(';')) {
    const [name, ...values] = directive.trim().split(/\s+/);
    if (name) policy.set(name, values);
  }
  return policy;
}

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

function field(html: string, name: string): string | undefined {
  return tags(html).find((tag) => tag.name === 'input' && tag.attrs.get('name') === name)?.attrs.get('value');
}

function strings(locale: Locale): { securedoc: Record<string, string>; level: Record<string, string> } {
  return JSON.parse(readFileSync(join(root, 'locales', locale, 'envelope.json'), 'utf8')) as {
    securedoc: Record<string, string>;
    level: Record<string, string>;
  };
}

// --- every locale in every mode ---

for (const locale of SUPPORTED_LOCALES) {
  for (const mode of MODES) {
    t.test(`${locale} ${mode}`, async (t) => {
      const doc = input({ locale, mode, logo: { mediaType: 'image/png', data: PNG }, logoLink: 'https://example.org/about' });
      const html = buildSecuredoc(doc, deps);
      const loc = strings(locale);

      t.match(html, /^[\x09\x0a\x20-\x7e]*$/, 'printable ASCII only, LF line ends');
      t.notOk(html.includes('\r'), 'no CR');
      const longest = Math.max(...html.split('\n').map((line) => line.length));
      t.ok(longest <= SECUREDOC_MAX_LINE, `longest line ${longest} <= ${SECUREDOC_MAX_LINE}`);
      t.ok(html.startsWith('<!DOCTYPE html>\n'), 'doctype first');
      const htmlTag = tags(html).find((tag) => tag.name === 'html');
      t.equal(htmlTag?.attrs.get('lang'), locale, 'lang attribute');
      t.ok(tags(html).some((tag) => tag.name === 'meta' && tag.attrs.get('charset') === 'utf-8'), 'meta charset');

      const button = tags(html).filter((tag) => tag.name === 'button');
      t.equal(button.length, 1, 'one button');
      t.equal(button[0]?.attrs.get('type'), 'submit', 'a real submit button');
      const buttonText = visibleText(/<button[^>]*>([\s\S]*?)<\/button>/.exec(html)?.[1] ?? '');
      t.equal(buttonText, norm((mode === 'no-script' ? loc.securedoc.openOnline : loc.securedoc.open) ?? '?'), 'localized button text');

      const text = visibleText(html);
      t.ok(text.includes(norm(loc.securedoc.heading ?? '?')), 'localized heading');
      t.ok(text.includes(doc.sender), 'sender');
      for (const r of [...doc.to, ...doc.cc]) t.ok(text.includes(r), `recipient ${r}`);
      const date = new Intl.DateTimeFormat(locale, { dateStyle: 'full', timeStyle: 'long', timeZone: 'UTC' }).format(doc.date);
      t.ok(text.includes(norm(date)), `date "${date}"`);
      t.match(date, /UTC/, 'the date names its zone');
      t.ok(text.includes('keys.example.org'), 'key service host');
      t.ok(text.includes(doc.subject ?? '?'), 'subject');
      t.ok(text.includes(norm(loc.level.high ?? '?')), 'security level explained');

      // CSP: the hashes match the inline style and script exactly as they appear
      const policy = csp(html);
      t.same(policy.get('default-src'), ["'none'"]);
      t.same(policy.get('img-src'), ['data:']);
      t.same(policy.get('form-action'), ['https://keys.example.org']);
      t.same(policy.get('base-uri'), ["'none'"]);
      const styles = rawText(html, 'style');
      t.equal(styles.length, 1, 'one style element');
      t.same(policy.get('style-src'), [sha256(styles[0] ?? '')], 'style hash matches');
      t.notMatch(html, /\sstyle="/, 'no style attributes (the CSP would block them)');
      const scripts = rawText(html, 'script');
      if (mode === 'applet') {
        t.equal(scripts.length, 1, 'one script element');
        t.same(policy.get('script-src'), [sha256(scripts[0] ?? '')], 'script hash matches');
      } else {
        t.notOk(/<script/i.test(html), 'no script element');
        t.same(policy.get('script-src'), ["'none'"]);
      }
      t.notOk(tags(html).some((tag) => [...tag.attrs.keys()].some((name) => name.startsWith('on'))), 'no inline event handlers');

      // The form: hidden fields only, nothing typed into this file
      const form = tags(html).filter((tag) => tag.name === 'form');
      t.equal(form.length, 1, 'one form');
      t.equal(form[0]?.attrs.get('method'), 'post');
      t.equal(form[0]?.attrs.get('accept-charset'), 'utf-8');
      t.equal(form[0]?.attrs.get('action')?.replace(/\n/g, ''), `https://keys.example.org/open/${doc.envelopeId}`);
      const inputs = tags(html).filter((tag) => tag.name === 'input');
      t.ok(inputs.every((tag) => tag.attrs.get('type') === 'hidden'), 'every input is hidden');
      t.same(inputs.map((tag) => tag.attrs.get('name')).sort(), ['mode', 'payload', 'secret', 'v']);
      t.notOk(tags(html).some((tag) => ['textarea', 'select'].includes(tag.name) || tag.attrs.has('contenteditable')), 'no other editable element');
      t.notMatch(html, /type="password"/i);
      t.equal(field(html, 'v'), '1');
      t.equal(field(html, 'mode'), mode);
      t.equal(field(html, 'secret'), Buffer.from(doc.envelopeSecret).toString('base64url'), 'secret in its field');
      const payload = field(html, 'payload') ?? '';
      t.ok(payload.split('\n').every((line) => line.length <= 76), 'payload in 76-character lines');
      t.same(new Uint8Array(Buffer.from(payload, 'base64')), (doc.payload as { ciphertext: Uint8Array }).ciphertext, 'payload decodes to the ciphertext');

      // Nothing external: the only URLs are the logo link and the form action
      for (const tag of tags(html)) {
        const src = tag.attrs.get('src');
        if (src !== undefined) t.match(src, /^data:image\/png;base64,/, `${tag.name} src is a data: URI`);
        const href = tag.attrs.get('href');
        if (href !== undefined) t.equal(href.replace(/\n/g, ''), 'https://example.org/about', 'href is the logo link');
        if (tag.name === 'link') t.fail('no link elements');
      }
      t.notMatch(html, /url\(|@import/, 'no CSS loads');
      const links = tags(html).filter((tag) => tag.name === 'a');
      t.equal(links.length, 1);
      t.equal(links[0]?.attrs.get('rel'), 'noopener noreferrer');
    });
  }
}

// --- details ---

t.test('logo: data URI, optional link, only png/jpeg/gif', async (t) => {
  const plain = buildSecuredoc(input({ logo: { mediaType: 'image/gif', data: GIF } }), deps);
  const img = tags(plain).find((tag) => tag.name === 'img');
  t.equal(img?.attrs.get('src')?.replace(/\n/g, ''), `data:image/gif;base64,${Buffer.from(GIF).toString('base64')}`);
  t.equal(img?.attrs.get('alt'), '', 'decorative logo');
  t.notOk(tags(plain).some((tag) => tag.name === 'a'), 'no link without logoLink');

  const none = buildSecuredoc(input(), deps);
  t.notOk(tags(none).some((tag) => tag.name === 'img' || tag.name === 'a'), 'no logo, no image');

  const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
  t.throws(() => buildSecuredoc(input({ logo: { mediaType: 'image/svg+xml', data: svg } }), deps), TypeError);
  t.throws(() => buildSecuredoc(input({ logo: { mediaType: 'image/png', data: svg } }), deps), TypeError, 'bytes must match the type');
  t.throws(() => buildSecuredoc(input({ logo: { mediaType: 'image/webp', data: PNG } }), deps), TypeError);
  t.throws(() => buildSecuredoc(input({ logo: { mediaType: 'image/png', data: PNG }, logoLink: 'javascript:alert(1)' }), deps), TypeError);
  t.throws(() => buildSecuredoc(input({ logo: { mediaType: 'image/png', data: PNG }, logoLink: 'data:text/html,x' }), deps), TypeError);
});

t.test('reference payload', async (t) => {
  const url = 'https://payloads.example.org/p/Ab-_0123456789abcdefgh?sig=' + 'x'.repeat(150) + '&exp=1';
  const html = buildSecuredoc(input({ payload: { kind: 'reference', url } }), deps);
  t.equal(field(html, 'payload'), undefined, 'no inline payload');
  const value = field(html, 'payload_url') ?? '';
  // Long URLs are split over lines; URL parsers drop the line breaks.
  t.equal(new URL(value).href, url);
  t.ok(html.split('\n').every((line) => line.length <= SECUREDOC_MAX_LINE));
  t.throws(() => buildSecuredoc(input({ payload: { kind: 'reference', url: 'file:///etc/passwd' } }), deps), TypeError);
});

t.test('optional fields', async (t) => {
  const without = visibleText(buildSecuredoc(input({ subject: null, expiresAt: null }), deps));
  t.notOk(without.includes('Quarterly'), 'no subject when not given');
  t.notOk(without.includes('Available until'), 'no expiry when not given');

  const expiresAt = new Date('2025-04-01T12:00:00Z');
  const html = buildSecuredoc(input({ expiresAt, cc: [] }), deps);
  t.ok(visibleText(html).includes('Available until'));
  t.ok(html.includes(`datetime="${expiresAt.toISOString()}"`), 'machine-readable expiry');
  t.notOk(visibleText(html).includes('Cc '), 'no Cc row for an empty list');
});

t.test('security levels', async (t) => {
  const en = strings('en').level;
  for (const level of ['high', 'medium', 'none'] as const) {
    const text = visibleText(buildSecuredoc(input({ securityLevel: level }), deps));
    t.ok(text.includes(norm(en[level] ?? '?')), level);
  }
});

t.test('key service under a path', async (t) => {
  const html = buildSecuredoc(input({ keyServiceUrl: 'https://example.org:8443/keys/' }), deps);
  const form = tags(html).find((tag) => tag.name === 'form');
  t.equal(form?.attrs.get('action')?.replace(/\n/g, ''), 'https://example.org:8443/keys/open/Ab-_0123456789abcdefgh');
  t.same(csp(html).get('form-action'), ['https://example.org:8443']);
  t.ok(visibleText(html).includes('example.org:8443'));
});

t.test('hostile strings are escaped', async (t) => {
  const sender = '"<script>alert(1)</script>" <x@y>';
  for (const mode of MODES) {
    const html = buildSecuredoc(
      input({
        mode,
        sender,
        to: ['"><img src=x onerror=alert(1)>@evil'],
        cc: ['</style><script>alert(2)</script>'],
        subject: "'; alert(3); '<!-- --> {{constructor}}",
      }),
      deps,
    );
    t.notMatch(html, /<script>alert/, `${mode}: no injected script`);
    t.notMatch(html, /<img src=x/, `${mode}: no injected image`);
    t.notMatch(html, /<[^>]*onerror/, `${mode}: no handler inside a tag`);
    t.notOk(tags(html).some((tag) => [...tag.attrs.keys()].some((name) => name.startsWith('on'))), `${mode}: no on* attribute`);
    t.equal((html.match(/<script/g) ?? []).length, mode === 'applet' ? 1 : 0, `${mode}: only our own script`);
    t.equal((html.match(/<style/g) ?? []).length, 1, `${mode}: only our own style`);
    const text = visibleText(html);
    t.ok(text.includes(sender), 'the sender is shown as text');
    t.ok(text.includes("'; alert(3); '<!-- --> {{constructor}}"), 'the subject is shown as text');
  }
});

t.test('long and non-ASCII values are wrapped without changing the text', async (t) => {
  const subject = '四半期の業績報告書'.repeat(30);
  const sender = 'Ана Петрова-Сидоренко '.repeat(12) + '<ana@example.org>';
  const to = ['x'.repeat(400) + '@example.org'];
  for (const locale of ['ja', 'ru', 'zh', 'de'] as const) {
    const html = buildSecuredoc(input({ locale, subject, sender, to }), deps);
    t.ok(html.split('\n').every((line) => line.length <= SECUREDOC_MAX_LINE), `${locale}: lines fit`);
    t.match(html, /^[\x09\x0a\x20-\x7e]*$/);
    const text = visibleText(html);
    t.ok(text.includes(subject), `${locale}: subject intact (comment breaks render as nothing)`);
    t.ok(text.includes(sender.replace(/\s+/g, ' ')), `${locale}: sender intact`);
    t.ok(text.includes(to[0] ?? '?'), `${locale}: long address intact`);
  }
});

t.test('bad input throws TypeError', async (t) => {
  const bad: [string, Partial<SecuredocInput>][] = [
    ['short id', { envelopeId: 'abc' }],
    ['id with bad characters', { envelopeId: 'Ab+/0123456789abcdefgh' }],
    ['id too long', { envelopeId: 'Ab-_0123456789abcdefghi' }],
    ['short secret', { envelopeSecret: new Uint8Array(31) }],
    ['long secret', { envelopeSecret: new Uint8Array(33) }],
    ['ftp key service', { keyServiceUrl: 'ftp://keys.example.org' }],
    ['javascript key service', { keyServiceUrl: 'javascript:alert(1)' }],
    ['not a URL', { keyServiceUrl: 'keys.example.org' }],
    ['key service with query', { keyServiceUrl: 'https://keys.example.org/?a=b' }],
    ['key service with credentials', { keyServiceUrl: 'https://u:p@keys.example.org' }],
    ['key service with a quote in the host', { keyServiceUrl: 'https://a"b.example.org' }],
    ['unknown locale', { locale: 'xx' as Locale }],
    ['invalid date', { date: new Date('nope') }],
    ['invalid expiry', { expiresAt: new Date('nope') }],
    ['unknown mode', { mode: 'iframe' as SecuredocMode }],
    ['unknown level', { securityLevel: 'low' as 'high' }],
    ['empty sender', { sender: ' ' }],
    ['empty inline payload', { payload: { kind: 'inline', ciphertext: new Uint8Array(0) } }],
  ];
  for (const [name, overrides] of bad) {
    t.throws(() => buildSecuredoc(input(overrides), deps), TypeError, name);
  }
});

t.test('the applet script moves the secret into the fragment', async (t) => {
  const html = buildSecuredoc(input(), deps);
  const script = rawText(html, 'script')[0] ?? '';
  const secret = Buffer.from(input().envelopeSecret).toString('base64url');

  // A stand-in for the DOM parts the script touches.
  let submitHandler: (() => void) | undefined;
  const secretField = {
    value: secret,
    parentNode: { removeChild: (child: unknown) => { removed.push(child); } },
  };
  const removed: unknown[] = [];
  const form = {
    action: 'https://keys.example.org/open/Ab-_0123456789abcdefgh',
    elements: { namedItem: (name: string) => (name === 'secret' && removed.length === 0 ? secretField : null) },
    addEventListener: (type: string, handler: () => void) => { if (type === 'submit') submitHandler = handler; },
  };
  const document = { getElementById: (id: string) => (id === 'open-form' ? form : null) };
  vm.runInNewContext(script, { document, String });

  t.type(submitHandler, 'function', 'listens for submit');
  submitHandler?.();
  t.same(removed, [secretField], 'the secret field leaves the form');
  t.equal(form.action, `https://keys.example.org/open/Ab-_0123456789abcdefgh#${secret}`, 'the secret is the fragment');
  submitHandler?.();
  t.equal(form.action, `https://keys.example.org/open/Ab-_0123456789abcdefgh#${secret}`, 'a second submit changes nothing');
});

t.test('offline re-opening: the flag brings the offline reader, only where it can work', async (t) => {
  const script = await buildEnvelopeFileScript();
  const withScript = { ...deps, envelopeFileScript: script };
  const html = buildSecuredoc(input({ rememberKey: true }), withScript);
  t.equal(rawText(html, 'script')[0], script, 'the offline reader is the page script');
  t.ok(html.split('\n').every((line) => line.length <= SECUREDOC_MAX_LINE), 'every line still fits the 7bit limit');
  t.match(html, /^[\x09\x0a\x20-\x7e]*$/, 'still printable ASCII');
  const csp = tags(html).find((tag) => tag.name === 'meta' && tag.attrs.get('http-equiv') === 'Content-Security-Policy')!.attrs.get('content')!;
  t.match(csp, `'sha256-${createHash('sha256').update(script).digest('base64')}'`, 'the CSP names the script by its hash');
  t.match(csp, "style-src 'unsafe-inline'", "the message's own styles may apply in the sandboxed frame");
  t.notMatch(csp, /connect-src|https?:\/\/(?!keys\.example\.org)/, 'nothing to connect to');
  t.ok(tags(html).some((tag) => tag.attrs.get('id') === 'offline' && tag.attrs.has('hidden')), 'the offline section starts hidden');
  t.notOk(tags(html).some((tag) => tag.name === 'input' && tag.attrs.get('type') !== 'hidden'), 'still no input a recipient types into');

  for (const [name, other] of [
    ['no flag', input({ rememberKey: false })],
    ['payload by reference', input({ rememberKey: true, payload: { kind: 'reference', url: 'https://keys.example.org/payloads/x' } })],
    ['server mode', input({ rememberKey: true, mode: 'server' })],
  ] as const) {
    const page = buildSecuredoc(other, withScript);
    t.notOk(page.includes('id="offline"'), `${name}: no offline reader`);
    t.notOk(page.includes(script.slice(0, 200)), `${name}: not the offline script`);
  }
  t.throws(() => buildSecuredoc(input({ rememberKey: true }), deps), TypeError, 'the script is required where the file opens offline');
});

t.test('accessibility basics', async (t) => {
  const html = buildSecuredoc(input({ logo: { mediaType: 'image/png', data: PNG }, logoLink: 'https://example.org/' }), deps);
  const all = tags(html);
  const main = all.find((tag) => tag.name === 'main');
  t.ok(main, 'main landmark');
  const ids = new Set(all.map((tag) => tag.attrs.get('id')).filter(Boolean));
  for (const tag of all) {
    const labelledBy = tag.attrs.get('aria-labelledby');
    if (labelledBy !== undefined) t.ok(ids.has(labelledBy), `${tag.name} labelled by an existing element`);
  }
  t.ok(all.find((tag) => tag.name === 'form')?.attrs.has('aria-labelledby'), 'the form is a labelled region');
  t.equal(all.filter((tag) => tag.name === 'h1').length, 1, 'one h1');
  t.ok(all.some((tag) => tag.name === 'header') && all.some((tag) => tag.name === 'footer'), 'banner and contentinfo');
  const link = /<a [^>]*>([\s\S]*?)<\/a>/.exec(html)?.[1] ?? '';
  t.ok(visibleText(link).length > 0, 'the logo link has a text name');
  t.notMatch(html, /tabindex="[1-9]/, 'no positive tabindex');
});
