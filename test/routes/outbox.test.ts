import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { buildApp } from '../../src/app.ts';
import { createKeyRing } from '../../src/crypto/kek.ts';
import { createFilePayloadStore } from '../../src/domain/payloads/payload-store.ts';
import { SUPPORTED_LOCALES } from '../../src/i18n/locales.ts';
import { LOCALES_DIR } from '../../src/paths.ts';
import { createServices } from '../../src/services.ts';
import { engines } from '../helpers/databases.ts';
import { startKeyService } from '../helpers/key-service.ts';

/** The page as text a reader sees: character references decoded. */
const decoded = (html: string) =>
  html
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');

const strings = (locale: string) => JSON.parse(fs.readFileSync(path.join(LOCALES_DIR, locale, 'outbox.json'), 'utf8')) as Record<string, string>;

for (const engine of engines()) {
  t.test(`the local outbox page on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    const ks = await startKeyService(opened);
    t.teardown(async () => {
      await ks.close();
      await opened.dispose();
    });
    t.equal(ks.services.mail.mode, 'outbox');
    const first = await ks.services.mail.send({ to: 'ana@example.test', subject: 'Verify your address', text: 'Open https://keys.example.test/verify?t=abc to verify.\n<script>alert(1)</script>', kind: 'verification' });
    await ks.services.mail.send({ to: 'bob@example.test', subject: 'Réinitialiser', text: 'x', kind: 'reset' });
    const id = (await ks.services.mail.listOutbox()).find((m) => m.subject === 'Verify your address')!.id;
    t.ok(first.messageId);

    t.test('lists the mail, newest first, under a strict policy', async (t) => {
      const res = await ks.app.inject({ method: 'GET', url: '/outbox' });
      t.equal(res.statusCode, 200);
      t.match(res.headers['content-type'], /text\/html/);
      const csp = String(res.headers['content-security-policy']);
      t.match(csp, /default-src 'none'/);
      t.match(csp, /frame-ancestors 'none'/);
      t.notMatch(csp, /script-src|unsafe/, 'no script at all');
      const style = /<style>([\s\S]*?)<\/style>/.exec(res.body)![1]!;
      t.ok(csp.includes(`'sha256-${createHash('sha256').update(style).digest('base64')}'`), 'the inline style is allowed by its hash');
      t.notMatch(res.body, /<script/i);
      t.ok(decoded(res.body).indexOf('Réinitialiser') < decoded(res.body).indexOf('Verify your address'), 'newest first');
      t.match(res.body, new RegExp(`href="/outbox/${id}\\?lang=en"`));
      t.match(res.body, new RegExp(strings('en').heading!));
    });

    t.test('a message shows its text with working links and nothing executable', async (t) => {
      const res = await ks.app.inject({ method: 'GET', url: `/outbox/${id}` });
      t.equal(res.statusCode, 200);
      t.match(res.body, /<a href="https:\/\/keys\.example\.test\/verify\?t=abc">/);
      t.notMatch(res.body, /<script>alert/, 'mail text is escaped');
      t.match(res.body, /&#60;script&#62;alert\(1\)&#60;\/script&#62;/);
      const raw = await ks.app.inject({ method: 'GET', url: `/outbox/${id}/raw` });
      t.equal(raw.statusCode, 200);
      t.equal(raw.headers['content-type'], 'message/rfc822');
      t.ok(raw.rawPayload.equals((await ks.services.mail.readOutbox(id))!), 'the download is the stored message');
      const missing = await ks.app.inject({ method: 'GET', url: `/outbox/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`, headers: { 'accept-language': 'de' } });
      t.equal(missing.statusCode, 404);
      t.equal(missing.body, strings('de').notFound, 'localized not-found');
    });

    t.test('every locale', async (t) => {
      for (const locale of SUPPORTED_LOCALES) {
        const res = await ks.app.inject({ method: 'GET', url: `/outbox?lang=${locale}` });
        t.match(res.body, new RegExp(`<html lang="${locale}">`));
        t.ok(decoded(res.body).includes(strings(locale).heading!), `${locale}: heading`);
        t.ok(decoded(res.body).includes(strings(locale).intro!), `${locale}: introduction`);
      }
      const byHeader = await ks.app.inject({ method: 'GET', url: '/outbox', headers: { 'accept-language': 'ja-JP,ja;q=0.9' } });
      t.match(byHeader.body, /<html lang="ja">/, 'Accept-Language decides without ?lang');
    });

    t.test('only this machine may look', async (t) => {
      const res = await ks.app.inject({ method: 'GET', url: '/outbox', remoteAddress: '203.0.113.9' });
      t.equal(res.statusCode, 404);
      t.notMatch(res.body, /Verify your address/);
      t.equal((await ks.app.inject({ method: 'GET', url: `/outbox/${id}/raw`, remoteAddress: '203.0.113.9' })).statusCode, 404);
    });

    t.test('with SMTP configured the page does not exist', async (t) => {
      const services = createServices({
        database: opened.database,
        keyRing: createKeyRing(new Map([[1, randomBytes(32)]])),
        payloads: createFilePayloadStore(ks.dataDir),
        mail: { smtpUrl: 'smtp://127.0.0.1:2525?tls=none', from: 'Waxseal <noreply@example.test>' },
      });
      const app = await buildApp({ config: ks.config, database: opened.database, services });
      t.teardown(async () => {
        await app.close();
        await services.mail.close();
      });
      t.equal(services.mail.mode, 'smtp');
      t.equal((await app.inject({ method: 'GET', url: '/outbox' })).statusCode, 404);
    });
  });
}
