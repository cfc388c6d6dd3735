import t from 'tap';
import PostalMime from 'postal-mime';
import { openEnvelope, parseEnvelopeHeader } from '../../src/crypto/envelope-crypto.ts';
import { createKeyServiceClient } from '../../src/gateway/key-client.ts';
import { MessageError } from '../../src/gateway/message-errors.ts';
import { ProfileError, sealMessage } from '../../src/gateway/seal.ts';
import { createI18n } from '../../src/i18n/create-i18n.ts';
import { SUPPORTED_LOCALES } from '../../src/i18n/locales.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../../src/paths.ts';
import { buildLargeMessage } from '../helpers/corpus.ts';
import { engines } from '../helpers/databases.ts';
import { parseEnvelopeMail } from '../helpers/envelope-file.ts';
import { errorOf } from '../helpers/errors.ts';
import { listenKeyService, provisionProfile, type TestKeyService } from '../helpers/key-service.ts';
import fs from 'node:fs';
import path from 'node:path';

const i18n = createI18n(LOCALES_DIR);

/** securedoc.html wraps text to keep lines short (spaces, or empty comments in CJK text). */
function pageText(html: string): string {
  return html
    .replace(/<!--\s*-->/g, '')
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/\s+/g, ' ');
}

function catalogue(locale: string): { securedoc: Record<string, string>; notification: Record<string, string> } {
  return JSON.parse(fs.readFileSync(path.join(LOCALES_DIR, locale, 'envelope.json'), 'utf8'));
}

const MB = 1024 * 1024;

function message(extraHeaders: string[] = [], body = 'The figures are attached.\r\n'): Buffer {
  return Buffer.from(
    [
      'From: =?UTF-8?Q?Ana_P=C3=A9rez?= <Ana@Example.test>',
      'To: Bob <bob@example.test>, carol@example.test',
      'Cc: dave@example.test',
      'Bcc: erin@example.test',
      'Subject: =?UTF-8?B?UXVhcnRhbHN6YWhsZW4gZsO8ciBNw6Ryeg==?=',
      'Date: Fri, 27 Nov 2026 09:30:00 +0100',
      'Message-ID: <orig-1@example.test>',
      'In-Reply-To: <prev-0@example.test>',
      'References: <root@example.test> <prev-0@example.test>',
      ...extraHeaders,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
    ].join('\r\n'),
  );
}

for (const engine of engines()) {
  t.test(`sealing on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    const ks: TestKeyService & { url: string } = await listenKeyService(opened);
    t.teardown(async () => {
      await ks.close();
      await opened.dispose();
    });
    const sealWith = async (profile: string, settings: object, bytes: Uint8Array, envelopeRecipients?: string[]) => {
      const token = await provisionProfile(ks, profile, settings);
      const client = createKeyServiceClient({ url: ks.url, credential: token, attempts: 1 });
      return sealMessage(bytes, { client, i18n, views: VIEWS_DIR }, undefined, { envelopeRecipients });
    };

    t.test('the SMTP envelope recipients, when known, decide who may open', async (t) => {
      const sealed = await sealWith('Rcpt', {}, message(), ['BOB@example.test', 'erin@example.test', 'frank@example.test']);
      t.same((await ks.services.envelopes.get(sealed.envelopeId))!.recipients, {
        to: ['bob@example.test'],
        cc: [],
        bcc: ['erin@example.test', 'frank@example.test'],
      }, 'header recipients not in RCPT TO are left out; the others are Bcc');
      const undisclosed = Buffer.from(message().toString('latin1').replace(/^To: .*\r\nCc: .*\r\nBcc: .*\r\n/m, 'To: undisclosed-recipients:;\r\n'), 'latin1');
      t.equal((await errorOf(sealWith('NoRcpt', {}, undisclosed))).code, 'message_malformed', 'without envelope recipients the headers must name some');
      const ok = await sealWith('Undisclosed', {}, undisclosed, ['zoe@example.test']);
      t.same((await ks.services.envelopes.get(ok.envelopeId))!.recipients.bcc, ['zoe@example.test']);
    });

    t.test('the notification keeps the original headers and drops the X-PostX ones', async (t) => {
      const postx = ['X-PostX-Reply-Enabled: false', 'x-postx-forward-enabled: TRUE', 'X-PostX-ExpirationDate: +2', 'X-PostX-Send-Return-Receipt: no'];
      const sealed = await sealWith('Headers', { subjectTemplate: '[Secure] {{subject}}' }, message(postx));
      const raw = sealed.envelope.toString('latin1');
      t.notMatch(raw, /x-postx/i, 'no X-PostX header in the delivered envelope');
      t.match(raw, /^From: =\?UTF-8\?Q\?Ana_P=C3=A9rez\?= <Ana@Example\.test>\r$/m, 'From byte for byte');
      t.match(raw, /^To: Bob <bob@example\.test>, carol@example\.test\r$/m);
      t.match(raw, /^Cc: dave@example\.test\r$/m);
      t.notMatch(raw, /^Bcc:/im, 'Bcc is never written into the notification');
      t.match(raw, /^Date: Fri, 27 Nov 2026 09:30:00 \+0100\r$/m);
      t.match(raw, /^Message-ID: <orig-1@example\.test>\r$/im, 'replies thread with the original');
      t.match(raw, /^In-Reply-To: <prev-0@example\.test>\r$/im);
      t.match(raw, /^References: <root@example\.test> <prev-0@example\.test>\r$/im);
      const mail = await PostalMime.parse(sealed.envelope);
      t.equal(mail.subject, '[Secure] Quartalszahlen für März', 'subject from the profile template, RFC 2047 both ways');
      t.ok(mail.text && mail.html, 'text and HTML notifications');
      const stored = (await ks.services.envelopes.get(sealed.envelopeId))!;
      t.equal(stored.flags.replyEnabled, false, 'X-PostX-Reply-Enabled overrides the profile');
      t.equal(stored.flags.forwardEnabled, true, 'X-PostX-Forward-Enabled overrides the profile');
      t.equal(stored.flags.sendReturnReceipt, false);
      t.ok(stored.expiresAt && Math.abs(stored.expiresAt.getTime() - (Date.now() + 2 * 86_400_000)) < 120_000, 'expiration +2 days');
      t.same(stored.recipients, { to: ['bob@example.test', 'carol@example.test'], cc: ['dave@example.test'], bcc: ['erin@example.test'] });
      t.equal(stored.sender, 'ana@example.test');
      t.equal(stored.subject, 'Quartalszahlen für März');
    });

    t.test('X-PostX-Use-Script: false gives a file with no script and an Open Online button', async (t) => {
      const sealed = await sealWith('NoScript', { defaultLocale: 'fr', localizedEnvelope: false }, message(['X-PostX-Use-Script: false']));
      const file = await parseEnvelopeMail(sealed.envelope);
      t.notMatch(file.html, /<script/i);
      t.match(file.html, /<html lang="fr"/);
      t.ok(pageText(file.html).includes(`${catalogue('fr').securedoc.openOnline!}</button>`), 'the French "Open Online" button');
      t.equal((await ks.services.envelopes.get(sealed.envelopeId))!.flags.useScript, false);
    });

    t.test('X-PostX-Suppress-Applet-For-Open gives server-side opening (no script, secret posted)', async (t) => {
      const sealed = await sealWith('Suppress', {}, message(['X-PostX-Suppress-Applet-For-Open: true']));
      const file = await parseEnvelopeMail(sealed.envelope);
      t.notMatch(file.html, /<script/i);
      t.match(file.html, /name="mode" value="server"/);
      const applet = await parseEnvelopeMail((await sealWith('Applet', {}, message())).envelope);
      t.match(applet.html, /<script/i, 'the default is the applet');
    });

    t.test('a bad X-PostX value is a clear error and nothing is stored', async (t) => {
      const before = (await ks.services.envelopes.kekStatus()).shares.reduce((n, s) => n + s.count, 0);
      const err = await errorOf(sealWith('BadHeader', {}, message(['X-PostX-ExpirationDate: +99:99:99'])));
      t.ok(err instanceof MessageError);
      t.match(err.message, /X-PostX-ExpirationDate/);
      const after = (await ks.services.envelopes.kekStatus()).shares.reduce((n, s) => n + s.count, 0);
      t.equal(after, before, 'no key was uploaded for a refused message');
    });

    t.test('problems found after reading the head never leave a stored key behind', async (t) => {
      const count = async () => (await ks.services.envelopes.kekStatus()).shares.reduce((n, s) => n + s.count, 0);
      const before = await count();
      const injected = Buffer.from(message().toString('latin1').replace('Cc: dave@example.test', 'Cc: dave@example.test\rBcc: spy@example.test'), 'latin1');
      const err = await errorOf(sealWith('Injected', {}, injected));
      t.ok(err instanceof MessageError, 'a stray CR in a copied header is the message\'s fault');
      t.match(err.message, /^Cc: .*line break/);
      const badLogo = await errorOf(
        sealWith('BadLogo', { logo: { mediaType: 'image/png', dataBase64: Buffer.from('<svg onload="x"/>').toString('base64') } }, message()),
      );
      t.ok(badLogo instanceof ProfileError, 'a logo that is not what it claims is the profile\'s fault');
      t.match(badLogo.message, /profile "BadLogo" cannot produce an envelope/);
      // The key service refuses such a template now (template-check.ts); one stored before that
      // check existed is written straight into the row, and the gateway still stops at it.
      const clientWithBrokenTemplate = async (name: string, settings: object) => {
        const token = await provisionProfile(ks, name, settings);
        const stored = (await ks.services.profiles.get(ks.orgId, name)).settings;
        await opened.database.db
          .updateTable('profiles')
          .set({ settings: JSON.stringify({ ...stored, templates: { ...stored.templates, html: '{{#if}}' } }) })
          .where('org_id', '=', ks.orgId)
          .where('name', '=', name)
          .execute();
        return createKeyServiceClient({ url: ks.url, credential: token, attempts: 1 });
      };
      const badClient = await clientWithBrokenTemplate('BadTemplate', {});
      const badTemplate = await errorOf(sealMessage(message(), { client: badClient, i18n, views: VIEWS_DIR }));
      t.ok(badTemplate instanceof ProfileError, 'a template that does not compile is found before upload');
      // By reference the envelope is built only after the upload (it needs the payload URL), so
      // the gateway tries it beforehand with a stand-in.
      const badRefClient = await clientWithBrokenTemplate('BadTemplateRef', { payloadTransport: { inlineMaxBytes: 0, referenceScheme: 'http', separateUrl: null } });
      t.equal((await badRefClient.getProfile()).profile.settings.payloadTransport.inlineMaxBytes, 0, 'this profile sends by reference');
      const badByReference = await errorOf(sealMessage(message(), { client: badRefClient, i18n, views: VIEWS_DIR }));
      t.ok(badByReference instanceof ProfileError, 'a by-reference envelope whose template does not compile is found before upload');
      t.equal(await count(), before, 'no key was stored for any of them');
    });

    t.test('size limits: refused over the limit, warned over 10 MB', async (t) => {
      const over = buildLargeMessage(25 * MB + 4096);
      const err = await errorOf(sealWith('Big', {}, over));
      t.equal(err.code, 'message_too_large');
      t.match(err.message, /25/);
      const small = await errorOf(sealWith('SmallLimit', { maxMessageBytes: 2048 }, message([], 'x'.repeat(4000) + '\r\n')));
      t.equal(small.code, 'message_too_large', 'the profile can set a lower limit');
      const warned = await sealWith('Warn', { payloadTransport: { inlineMaxBytes: 0, referenceScheme: 'http', separateUrl: null } }, buildLargeMessage(11 * MB));
      t.equal(warned.warnings.length, 1);
      t.match(warned.warnings[0]!, /10 MB/);
      t.equal(warned.transport, 'reference');
    });

    t.test('AES-192 profiles seal AES-192 envelopes', async (t) => {
      const bytes = message();
      const sealed = await sealWith('Aes192', { algorithm: 'aes-192-gcm' }, bytes);
      const file = await parseEnvelopeMail(sealed.envelope);
      t.equal(parseEnvelopeHeader(file.inlinePayload!).algorithm, 'aes-192-gcm');
      const share = (await ks.services.envelopes.serverShare(sealed.envelopeId))!;
      t.ok(Buffer.from(await openEnvelope({ serverShare: share, envelopeSecret: file.envelopeSecret }, file.inlinePayload!)).equals(bytes));
    });

    t.test('payload by reference on a separate URL', async (t) => {
      const sealed = await sealWith('Separate', { payloadTransport: { inlineMaxBytes: 100, referenceScheme: 'separate-url', separateUrl: 'https://files.example.test/waxseal' } }, message());
      const file = await parseEnvelopeMail(sealed.envelope);
      t.equal(file.inlinePayload, null);
      t.equal(file.payloadUrl, `https://files.example.test/waxseal/${sealed.envelopeId}`);
      t.ok(await ks.services.envelopes.payload(sealed.envelopeId), 'the ciphertext was uploaded to the key service');
      // The payload folder can be served as it is at the separate URL: <folder>/<envelope id>.
      const served = fs.readFileSync(path.join(ks.dataDir, 'payloads', sealed.envelopeId));
      const opened = await openEnvelope({ serverShare: (await ks.services.envelopes.serverShare(sealed.envelopeId))!, envelopeSecret: file.envelopeSecret }, served);
      t.ok(Buffer.from(opened).equals(message()), 'the file at <folder>/<id> is the envelope');
    });

    t.test('the envelope language follows the profile, or the message when localized', async (t) => {
      for (const locale of SUPPORTED_LOCALES) {
        const sealed = await sealWith(`Locale ${locale}`, { defaultLocale: locale }, message());
        t.equal(sealed.locale, locale);
        const file = await parseEnvelopeMail(sealed.envelope);
        t.match(file.html, new RegExp(`<html lang="${locale}"`), `${locale}: securedoc.html`);
        const strings = catalogue(locale);
        t.ok(pageText(file.html).includes(strings.securedoc.heading!), `${locale}: securedoc.html heading in the locale`);
        t.ok((file.mail.text ?? '').includes(strings.notification.heading!), `${locale}: text notification in the locale`);
      }
      const byHeader = await sealWith('ByHeader', { defaultLocale: 'en' }, message(['Content-Language: ja-JP']));
      t.equal(byHeader.locale, 'ja', 'Content-Language picks the envelope language');
    });
  });
}
