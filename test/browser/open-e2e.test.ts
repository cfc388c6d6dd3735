// The whole recipient journey in real headless Chromium, on PGlite and on PostgreSQL:
// the gateway CLI seals a message → securedoc.html is saved and opened from file:// → Open →
// register → the verification mail arrives at a real SMTP peer → verify → sign in → the
// message appears and every attachment downloads byte-identical. Then the release rules:
// Medium opens again without a passphrase, High asks every time, expired and locked envelopes
// get their pages, a JS-free envelope opens with script disabled, AES-192 and by-reference
// payloads open. Every request the browser sends is recorded to prove the envelope secret of an
// applet-mode envelope never leaves the browser.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import PostalMime from 'postal-mime';
import t from 'tap';
import type { Page } from 'playwright-core';
import { browserSkip } from '../helpers/chromium.ts';
import { buildCorpus } from '../helpers/corpus.ts';
import { engines } from '../helpers/databases.ts';
import { provisionProfile } from '../helpers/key-service.ts';
import { startBrowserWorld } from '../helpers/browser-world.ts';
import { sealWithCli } from '../helpers/cli-io.ts';

const browserSkipReason = browserSkip();
const RECIPIENT = 'bob@example.org';
const PASSPHRASE = 'correct horse battery staple';
const PHRASE = 'green teapot on Sunday';
const MESSAGE = Buffer.from(buildCorpus().find((m) => m.name === 'attachments with RFC 2231 non-ASCII file names')!.bytes);

const seal = sealWithCli;

for (const engine of engines()) {
  t.test(`a recipient opens envelopes in Chromium (${engine.name})`, { skip: engine.skip || browserSkipReason }, async (t) => {
    const opened = await engine.open();
    const { ks, sink, dir, browser } = await startBrowserWorld(opened, t.teardown.bind(t), 'e2e');

    const profiles = {
      Medium: { securityLevel: 'medium' },
      High: { securityLevel: 'high' },
      Legacy: { securityLevel: 'medium', algorithm: 'aes-192-gcm' },
      Large: { securityLevel: 'medium', payloadTransport: { inlineMaxBytes: 0, referenceScheme: 'public', separateUrl: null } },
    };
    const env: Record<string, string> = { WAXSEAL_URL: ks.url };
    for (const [name, settings] of Object.entries(profiles)) env[`WAXSEAL_CREDENTIAL_${name.toUpperCase()}`] = await provisionProfile(ks, name, settings);

    let files = 0;
    async function envelopeFile(profile: string, headers = '') {
      const sealed = await seal(env, profile, Buffer.concat([Buffer.from(headers), MESSAGE]));
      const path = join(dir, `securedoc-${++files}.html`);
      writeFileSync(path, sealed.html);
      return { url: pathToFileURL(path).href, envelopeId: sealed.envelopeId, secret: Buffer.from(sealed.envelopeSecret).toString('base64url') };
    }

    // Everything the browser sends, to check what the server could have seen.
    const sent: string[] = [];
    const context = await browser.newContext({ acceptDownloads: true });
    context.on('request', (r) => sent.push(`${r.method()} ${r.url()}\n${r.postData() ?? ''}`));

    const expected = await PostalMime.parse(MESSAGE);

    async function clickOpen(page: Page, fileUrl: string) {
      await page.goto(fileUrl);
      await Promise.all([page.waitForURL(/^http:/), page.getByRole('button', { name: 'Open' }).click()]);
    }

    async function expectMessage(page: Page) {
      await page.getByText('Three reports attached.').waitFor({ timeout: 20_000 });
    }

    const first = await envelopeFile('Medium');
    const page = await context.newPage();

    await t.test('register from the envelope, verify by mail, sign in, read', async (t) => {
      await clickOpen(page, first.url);
      t.match(page.url(), /\/signin\?next=/, 'a new recipient is asked to sign in or register');
      t.match(page.url(), new RegExp(`#${first.secret}$`), 'the fragment survived the redirects');
      await Promise.all([page.waitForURL(/\/register/), page.locator('button[name=go][value=register]').click()]);
      await page.locator('#name').fill('Bob Recipient');
      await page.locator('#email').fill(RECIPIENT);
      await page.locator('#passphrase').fill(PASSPHRASE);
      await page.locator('#passphrase2').fill(PASSPHRASE);
      await page.locator('#securityPhrase').fill(PHRASE);
      await Promise.all([page.waitForLoadState('load'), page.locator('button[name=go][value=register]').click()]);
      await page.getByRole('heading', { name: 'Check your mail' }).waitFor();

      const mail = await sink.waitFor(RECIPIENT);
      const link = /https?:\/\/\S+\/verify#\S+/.exec(mail.parsed.text ?? '')?.[0];
      t.ok(link, 'the verification mail carries a link');
      t.notOk(link!.includes('?'), 'the token is in the fragment, not the query');
      const verifyPage = await context.newPage();
      await verifyPage.goto(link!);
      await Promise.all([verifyPage.waitForLoadState('load'), verifyPage.getByRole('button', { name: 'Confirm' }).click()]);
      await verifyPage.getByRole('heading', { name: 'Your address is confirmed' }).waitFor();
      await verifyPage.close();

      await Promise.all([page.waitForURL(/\/signin/), page.locator('button[name=go][value=continue]').click()]);
      await page.locator('#email').fill(RECIPIENT);
      await page.locator('#passphrase').fill(PASSPHRASE);
      await page.locator('#remember').check();
      await Promise.all([page.waitForURL(/\/open\//), page.locator('button[name=go][value=signin]').click()]);
      await expectMessage(page);
      t.pass('the message text appears');

      for (const attachment of expected.attachments) {
        const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: new RegExp(attachment.filename!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) }).first().click()]);
        const path = await download.path();
        const bytes = (await import('node:fs')).readFileSync(path);
        t.ok(Buffer.from(attachment.content as ArrayBuffer).equals(bytes), `${attachment.filename} downloads byte-identical`);
      }
    });

    await t.test('the envelope secret never reached the server', async (t) => {
      t.ok(sent.length > 5);
      t.notOk(sent.some((s) => s.includes(first.secret)), 'no request line or body carried the secret');
    });

    await t.test('Medium security: a remembered session opens without a passphrase', async (t) => {
      const again = await context.newPage();
      await clickOpen(again, first.url);
      await expectMessage(again);
      t.notOk(again.url().includes('/signin'));
      await again.close();
    });

    await t.test('High security: the passphrase is asked at every opening', async (t) => {
      const high = await envelopeFile('High');
      for (const round of [1, 2]) {
        const p = await context.newPage();
        await clickOpen(p, high.url);
        t.match(p.url(), /\/signin\?.*reauth=1/, `asked again (opening ${round})`);
        await p.getByText(PHRASE).waitFor();
        await p.locator('#passphrase').fill(PASSPHRASE);
        await Promise.all([p.waitForURL(/\/open\//), p.locator('button[name=go][value=reauth]').click()]);
        await expectMessage(p);
        await p.close();
      }
      t.pass('the passphrase was asked and the message shown at both openings');
    });

    await t.test('expired and locked envelopes show their own pages', async (t) => {
      const expiring = await envelopeFile('Medium', 'X-PostX-ExpirationDate: +00:00:01\r\n');
      await new Promise((r) => setTimeout(r, 1500));
      const p = await context.newPage();
      await clickOpen(p, expiring.url);
      await p.getByRole('heading', { name: 'This secure message has expired' }).waitFor();
      const locked = await envelopeFile('Medium');
      await opened.database.db.updateTable('envelopes').set({ locked_at: new Date(), lock_reason: 'Sent to the wrong person' }).where('id', '=', locked.envelopeId).execute();
      await clickOpen(p, locked.url);
      await p.getByRole('heading', { name: 'The sender has locked this message' }).waitFor();
      await p.getByText('Sent to the wrong person').waitFor();
      await p.close();
      t.pass('the expired page, then the locked page with the reason');
    });

    await t.test('a JS-free envelope opens with script disabled in the browser', async (t) => {
      const noScript = await envelopeFile('Medium', 'X-PostX-Use-Script: false\r\n');
      const state = await context.storageState();
      const plain = await browser.newContext({ javaScriptEnabled: false, storageState: state, acceptDownloads: true });
      t.teardown(() => plain.close());
      const p = await plain.newPage();
      await p.goto(noScript.url);
      await Promise.all([p.waitForURL(/^http:/), p.getByRole('button', { name: 'Open Online' }).click()]);
      await expectMessage(p);
      const attachment = expected.attachments[0]!;
      const [download] = await Promise.all([p.waitForEvent('download'), p.getByRole('link', { name: new RegExp(attachment.filename!.split(' ')[0]!) }).first().click()]);
      const bytes = (await import('node:fs')).readFileSync(await download.path());
      t.ok(Buffer.from(attachment.content as ArrayBuffer).equals(bytes), 'server-mode attachment byte-identical');
    });

    await t.test('AES-192 and by-reference envelopes open in the browser', async (t) => {
      for (const profile of ['Legacy', 'Large']) {
        const file = await envelopeFile(profile);
        const p = await context.newPage();
        await clickOpen(p, file.url);
        await expectMessage(p);
        await p.close();
        t.pass(`${profile} opened`);
      }
    });

    await t.test('the release record names every opening', async (t) => {
      const events = await ks.services.releases.events(first.envelopeId);
      t.ok(events.some((e) => e.result === 'released' && e.address === RECIPIENT && e.mode === 'applet'));
    });
  });
}

