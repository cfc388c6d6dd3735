import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import t from 'tap';
import { createI18n } from '../../src/i18n/create-i18n.ts';
import { SUPPORTED_LOCALES } from '../../src/i18n/locales.ts';
import type { Locale } from '../../src/i18n/locales.ts';
import { buildNotification, renderSubject } from '../../src/envelope/notification.ts';
import type { NotificationInput } from '../../src/envelope/notification.ts';
import { buildSecuredoc } from '../../src/envelope/securedoc.ts';

const root = join(import.meta.dirname, '..', '..');
const deps = { i18n: createI18n(join(root, 'locales')), views: join(root, 'views') };

const securedoc = buildSecuredoc(
  {
    locale: 'fr',
    envelopeId: 'Ab-_0123456789abcdefgh',
    envelopeSecret: new Uint8Array(32).fill(3),
    keyServiceUrl: 'https://keys.example.org',
    sender: 'Ana Pérez <ana@example.org>',
    to: ['bob@example.net'],
    cc: [],
    date: new Date('2025-03-04T09:00:00Z'),
    securityLevel: 'medium',
    mode: 'applet',
    payload: { kind: 'inline', ciphertext: new Uint8Array(5000).fill(0xa5) },
  },
  deps,
);

// Raw header values as they stood in the original message: encoded words, folding and all.
const ORIGINAL = {
  from: '=?utf-8?Q?Ana_P=C3=A9rez?= <ana@example.org>',
  to: 'Bob <bob@example.net>,\r\n "Carol, Q." <carol@example.net>',
  cc: '=?UTF-8?B?xJBvcsSRZQ==?= <dj@example.rs>',
  date: 'Tue, 4 Mar 2025 10:00:00 +0100',
  messageId: '<orig-1.20250304@mail.example.org>',
  inReplyTo: '<prev-7@mail.example.net>',
  references: '<root-1@mail.example.org>\r\n <prev-7@mail.example.net>',
  replyTo: 'Team <team@example.org>',
};

function input(overrides: Partial<NotificationInput> = {}): NotificationInput {
  return {
    locale: 'fr',
    headers: ORIGINAL,
    subject: '[SÉCURISÉ] Résumé – 四半期',
    templates: {},
    data: {
      sender: 'Ana Pérez <ana@example.org>',
      recipients: ['bob@example.net', 'carol@example.net'],
      subject: 'Résumé – 四半期',
      keyServiceUrl: 'https://keys.example.org',
      securityLevel: 'medium',
      expiresAt: new Date('2025-04-01T00:00:00Z'),
      fileName: 'securedoc.html',
    },
    attachment: { fileName: 'securedoc.html', html: securedoc },
    extraHeaders: { 'X-Waxseal-Envelope-Id': 'Ab-_0123456789abcdefgh' },
    ...overrides,
  };
}

function envelopeStrings(locale: Locale): { notification: Record<string, string>; level: Record<string, string> } {
  return JSON.parse(readFileSync(join(root, 'locales', locale, 'envelope.json'), 'utf8')) as {
    notification: Record<string, string>;
    level: Record<string, string>;
  };
}

/** The header block of the whole message, as text. */
function headerBlock(mail: Buffer): string {
  return mail.subarray(0, mail.indexOf('\r\n\r\n')).toString('utf8');
}

/** A field exactly as written (folding kept), or undefined. */
function rawField(mail: Buffer, name: string): string | undefined {
  for (const field of headerBlock(mail).split(/\r\n(?![ \t])/)) {
    const colon = field.indexOf(':');
    if (field.slice(0, colon).toLowerCase() === name.toLowerCase()) return field.slice(colon + 1).replace(/^ /, '');
  }
  return undefined;
}

t.test('the original header fields are kept byte for byte', async (t) => {
  const mail = await buildNotification(input(), deps);
  t.equal(rawField(mail, 'From'), ORIGINAL.from);
  t.equal(rawField(mail, 'To'), ORIGINAL.to);
  t.equal(rawField(mail, 'Cc'), ORIGINAL.cc);
  t.equal(rawField(mail, 'Date'), ORIGINAL.date);
  t.equal(rawField(mail, 'Message-ID'), ORIGINAL.messageId);
  t.equal(rawField(mail, 'In-Reply-To'), ORIGINAL.inReplyTo);
  t.equal(rawField(mail, 'References'), ORIGINAL.references);
  t.equal(rawField(mail, 'Reply-To'), ORIGINAL.replyTo);
  for (const name of ['From', 'To', 'Cc', 'Date', 'Message-ID', 'Subject', 'MIME-Version', 'Content-Type']) {
    const count = headerBlock(mail).split(/\r\n(?![ \t])/).filter((f) => f.toLowerCase().startsWith(`${name.toLowerCase()}:`)).length;
    t.equal(count, 1, `exactly one ${name}`);
  }

  const parsed = await PostalMime.parse(mail);
  t.same(parsed.from, { name: 'Ana Pérez', address: 'ana@example.org' });
  t.same(parsed.to, [
    { name: 'Bob', address: 'bob@example.net' },
    { name: 'Carol, Q.', address: 'carol@example.net' },
  ]);
  t.same(parsed.cc, [{ name: 'Đorđe', address: 'dj@example.rs' }]);
  t.same(parsed.replyTo, [{ name: 'Team', address: 'team@example.org' }]);
  t.equal(parsed.messageId, ORIGINAL.messageId);
  t.equal(parsed.inReplyTo, ORIGINAL.inReplyTo);
  t.equal(parsed.references?.replace(/\s+/g, ' '), '<root-1@mail.example.org> <prev-7@mail.example.net>');
  t.equal(new Date(parsed.date ?? '').toISOString(), '2025-03-04T09:00:00.000Z');
  t.equal(parsed.subject, '[SÉCURISÉ] Résumé – 四半期', 'non-ASCII subject decodes');
  t.match(rawField(mail, 'Subject') ?? '', /^[\x20-\x7e\r\n\t]+$/, 'subject is RFC 2047 encoded');
  t.equal(rawField(mail, 'X-Waxseal-Envelope-Id'), 'Ab-_0123456789abcdefgh', 'extra header');
});

t.test('structure, bodies and the securedoc attachment', async (t) => {
  const mail = await buildNotification(input(), deps);
  t.match(rawField(mail, 'Content-Type') ?? '', /^multipart\/mixed;/);
  t.match(mail.toString('utf8'), /Content-Type: multipart\/alternative;/);
  t.notMatch(mail.toString('latin1'), /(^|[^\r])\n/, 'CRLF line ends throughout');

  const parsed = await PostalMime.parse(mail);
  const fr = envelopeStrings('fr');
  const intro = (fr.notification.intro ?? '').replace('{{sender}}', 'Ana Pérez <ana@example.org>');
  t.ok(parsed.text?.includes(intro), 'text part is localized and unescaped');
  t.ok(parsed.text?.includes(fr.level.medium ?? '?'), 'text part explains the level');
  t.ok(parsed.html?.includes(intro.replace('<', '&lt;').replace('>', '&gt;')), 'html part is localized and escaped');
  t.match(parsed.html ?? '', /<html lang="fr"/);
  t.ok(parsed.text?.includes('keys.example.org'));

  t.equal(parsed.attachments.length, 1);
  const attachment = parsed.attachments[0];
  t.equal(attachment?.filename, 'securedoc.html');
  t.equal(attachment?.mimeType, 'text/html');
  t.equal(attachment?.disposition, 'attachment');
  const content = attachment?.content;
  const text = typeof content === 'string' ? content : new TextDecoder().decode(content);
  // On the wire a text part has CRLF line ends; the file itself uses LF. postal-mime also keeps
  // the CRLF that belongs to the next boundary delimiter (RFC 2046 5.1.1), hence the trim.
  t.equal(text.replace(/\r\n/g, '\n').replace(/\n\n$/, '\n'), securedoc, 'attachment decodes to the securedoc');

  // The part is 7bit: its bytes stand in the message as they are, not re-encoded.
  const wire = mail.toString('latin1');
  const partStart = wire.indexOf('Content-Type: text/html; charset=us-ascii');
  t.ok(partStart > 0, 'text/html; charset=us-ascii');
  const bodyStart = wire.indexOf('\r\n\r\n', partStart) + 4;
  const partHeaders = wire.slice(partStart, bodyStart);
  t.match(partHeaders, /Content-Transfer-Encoding: 7bit\r\n/);
  t.match(partHeaders, /Content-Disposition: attachment; filename=securedoc\.html\r\n/);
  const boundary = /boundary="([^"]+)"/.exec(rawField(mail, 'Content-Type') ?? '')?.[1] ?? '?';
  const body = wire.slice(bodyStart, wire.indexOf(`\r\n--${boundary}`, bodyStart));
  t.equal(body, securedoc.replace(/\n/g, '\r\n'), 'the part body is the securedoc, byte for byte (CRLF)');
});

t.test('no X-PostX header ever', async (t) => {
  const mail = await buildNotification(input(), deps);
  const parsed = await PostalMime.parse(mail);
  t.notOk(parsed.headers.some((h) => h.key.toLowerCase().startsWith('x-postx')), 'none in the message');
  await t.rejects(
    buildNotification(input({ extraHeaders: { 'X-PostX-Use-Script': 'false' } }), deps),
    TypeError,
    'refused as an extra header',
  );
  await t.rejects(buildNotification(input({ extraHeaders: { 'x-postx-expirationdate': '+1' } }), deps), TypeError);
  await t.rejects(buildNotification(input({ extraHeaders: { From: 'evil@example.com' } }), deps), TypeError, 'reserved fields');
  await t.rejects(buildNotification(input({ extraHeaders: { 'Bad Name': 'x' } }), deps), TypeError, 'bad field name');
});

t.test('Date and Message-ID are generated when the original has none', async (t) => {
  const { date: _date, messageId: _id, inReplyTo: _irt, references: _refs, ...rest } = ORIGINAL;
  const before = Date.now();
  const mail = await buildNotification(input({ headers: rest }), deps);
  const parsed = await PostalMime.parse(mail);
  t.match(parsed.messageId ?? '', /^<[0-9a-f-]{36}@keys\.example\.org>$/);
  const date = new Date(parsed.date ?? '').getTime();
  t.ok(date >= Math.floor(before / 1000) * 1000 && date <= Date.now() + 1000, 'current date');
  t.equal(rawField(mail, 'In-Reply-To'), undefined);
  t.equal(rawField(mail, 'References'), undefined);
});

t.test('every locale', async (t) => {
  for (const locale of SUPPORTED_LOCALES) {
    const mail = await buildNotification(input({ locale }), deps);
    const parsed = await PostalMime.parse(mail);
    const strings = envelopeStrings(locale);
    const heading = strings.notification.heading ?? '?';
    t.ok(parsed.text?.startsWith(heading), `${locale}: text heading`);
    t.ok(parsed.html?.includes(heading), `${locale}: html heading`);
    t.ok(parsed.html?.includes(`lang="${locale}"`), `${locale}: html lang`);
    t.ok(parsed.text?.includes(strings.level.medium ?? '?'), `${locale}: level sentence`);
  }
});

t.test('profile templates', async (t) => {
  const mail = await buildNotification(
    input({
      templates: {
        html: '<p class="custom">{{t "envelope:notification.intro" sender=sender}} / {{fileName}} / {{formatDate expiresAt}}</p>',
        text: 'CUSTOM {{sender}} | {{subject}} | {{join recipients ";"}} | {{keyServiceHost}}',
      },
    }),
    deps,
  );
  const parsed = await PostalMime.parse(mail);
  t.equal(
    parsed.text?.trim(),
    'CUSTOM Ana Pérez <ana@example.org> | Résumé – 四半期 | bob@example.net;carol@example.net | keys.example.org',
    'text template, not escaped',
  );
  t.match(parsed.html ?? '', /^<p class="custom">Ana Pérez &lt;ana@example\.org&gt; vous a envoyé un message sécurisé\. \/ securedoc\.html \/ mardi 1 avril 2025/);
  t.match(parsed.html ?? '', /UTC<\/p>/, 'dates name their zone');

  // Only one of the two replaced: the other stays the default view.
  const half = await PostalMime.parse(await buildNotification(input({ templates: { text: 'only text' } }), deps));
  t.equal(half.text?.trim(), 'only text');
  t.match(half.html ?? '', /<html lang="fr"/);
});

t.test('a broken template fails with a clear error', async (t) => {
  await t.rejects(buildNotification(input({ templates: { html: '<p>{{#if sender}}unclosed</p>' } }), deps), {
    message: /profile HTML notification template does not compile/,
  });
  await t.rejects(buildNotification(input({ templates: { text: 'Hello {{sender' } }), deps), {
    message: /profile text notification template does not compile/,
  });
  await t.rejects(buildNotification(input({ templates: { text: '{{nosuchhelper sender}}' } }), deps), {
    message: /profile text notification template failed to render/,
  });
});

t.test('renderSubject', async (t) => {
  t.equal(renderSubject('[SECURE] {{subject}}', { subject: 'A & B <c> "d"' }), '[SECURE] A & B <c> "d"', 'not HTML-escaped');
  t.equal(renderSubject('{{subject}} (encrypted)', { subject: 'Résumé' }), 'Résumé (encrypted)');
  t.equal(renderSubject('[SECURE] {{subject}}', { subject: 'a\r\nBcc: evil@example.com' }), '[SECURE] a Bcc: evil@example.com', 'one line');
  t.throws(() => renderSubject('[SECURE] {{#if}}', { subject: 'x' }), { message: /subject template/ });
});

t.test('bad input is refused', async (t) => {
  await t.rejects(buildNotification(input({ headers: { ...ORIGINAL, from: '' } }), deps), TypeError, 'From is required');
  await t.rejects(
    buildNotification(input({ headers: { ...ORIGINAL, to: 'bob@example.net\r\nBcc: evil@example.com' } }), deps),
    TypeError,
    'a raw value cannot start a new field',
  );
  await t.rejects(buildNotification(input({ attachment: { fileName: 'securedoc.html', html: '<p>é</p>' } }), deps), TypeError, 'attachment must be ASCII');
  await t.rejects(buildNotification(input({ attachment: { fileName: 'securedoc.html', html: 'x'.repeat(1000) } }), deps), TypeError, 'no line over 998');
  await t.rejects(buildNotification(input({ attachment: { fileName: 'securedoc.html', html: `a\n${'x'.repeat(999)}\nb` } }), deps), TypeError, 'nor in the middle of the page');
  await t.resolves(buildNotification(input({ attachment: { fileName: 'securedoc.html', html: `a\n${'x'.repeat(998)}\r\n${'y'.repeat(998)}` } }), deps), '998 is allowed, to the last line');
  await t.rejects(buildNotification(input({ locale: 'xx' as Locale }), deps), TypeError);
  await t.rejects(buildNotification(input({ data: { ...input().data, keyServiceUrl: 'javascript:1' } }), deps), TypeError);
});
