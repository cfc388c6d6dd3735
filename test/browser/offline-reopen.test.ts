// Offline re-opening (X-PostX-Remember-Envelope-Key-Checkbox) in real headless Chromium: the
// recipient ticks "keep the key on this computer" while typing the passphrase, the key service's
// reader hands the server share to the envelope file (file://) that opened it, and the file then
// opens the message with the key service unreachable. Without the header, or without the box
// ticked, nothing is kept.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import PostalMime from 'postal-mime';
import t from 'tap';
import type { BrowserContext, Page } from 'playwright-core';
import { browserSkip } from '../helpers/chromium.ts';
import { buildCorpus } from '../helpers/corpus.ts';
import { engines } from '../helpers/databases.ts';
import { provisionProfile } from '../helpers/key-service.ts';
import { startBrowserWorld } from '../helpers/browser-world.ts';
import { sealWithCli } from '../helpers/cli-io.ts';

const browserSkipReason = browserSkip();
const RECIPIENT = 'bob@example.org';
const PASSPHRASE = 'correct horse battery staple';
const MESSAGE = Buffer.from(buildCorpus().find((m) => m.name === 'attachments with RFC 2231 non-ASCII file names')!.bytes);
const REMEMBER = 'X-PostX-Remember-Envelope-Key-Checkbox: true\r\n';
const KEPT = /The key to this message is now kept in this browser/;

// The database makes no difference here: one engine is enough.
const engine = engines().find((e) => e.name === 'pglite')!;

t.test('an envelope that allows it opens again without the network', { skip: browserSkipReason }, async (t) => {
  const { ks, sink, dir, browser } = await startBrowserWorld(await engine.open(), t.teardown.bind(t), 'offline');

  const env: Record<string, string> = { WAXSEAL_URL: ks.url };
  for (const [name, level] of [['Medium', 'medium'], ['High', 'high']]) env[`WAXSEAL_CREDENTIAL_${name!.toUpperCase()}`] = await provisionProfile(ks, name!, { securityLevel: level });
  let files = 0;
  async function envelopeFile(profile: string, headers: string) {
    const plaintext = Buffer.concat([Buffer.from(headers), MESSAGE]);
    const sealed = await sealWithCli(env, profile, plaintext);
    const path = join(dir, `securedoc-${++files}.html`);
    writeFileSync(path, sealed.html);
    return { url: pathToFileURL(path).href, envelopeId: sealed.envelopeId, html: sealed.html, plaintext };
  }

  // A verified account, made through the services (the browser journey has its own suite).
  const registered = await ks.services.accounts.register({ name: 'Bob', email: RECIPIENT, passphrase: PASSPHRASE, passphrase2: PASSPHRASE, securityPhrase: 'blue kettle', locale: 'en', network: '127.0.0.1' });
  t.ok(registered.ok);
  const token = /verify#(\S+)/.exec((await sink.waitFor(RECIPIENT)).parsed.text ?? '')![1]!;
  t.ok((await ks.services.accounts.verifyAddress(token)).ok, 'account verified');

  const context = await browser.newContext({ acceptDownloads: true });
  const expected = await PostalMime.parse(MESSAGE);
  const stored = (page: Page, id: string) => page.evaluate((key) => localStorage.getItem(key), `waxseal:share:${id}`);

  /** Clicks Open in the envelope file; the key service opens in a window of its own. */
  async function openFromFile(ctx: BrowserContext, fileUrl: string): Promise<{ file: Page; keys: Page }> {
    const file = await ctx.newPage();
    await file.goto(fileUrl);
    const [keys] = await Promise.all([ctx.waitForEvent('page'), file.getByRole('button', { name: 'Open' }).click()]);
    await keys.waitForURL(/^http:/);
    return { file, keys };
  }
  const expectMessage = (page: Page) => page.getByText('Three reports attached.').first().waitFor({ timeout: 20_000 });

  const medium = await envelopeFile('Medium', REMEMBER);

  await t.test('the box ticked at sign-in: the file keeps the key', async (t) => {
    const { file, keys } = await openFromFile(context, medium.url);
    t.match(keys.url(), /\/signin\?.*offline=1/, 'the sign-in page was asked to offer the box');
    await keys.locator('#email').fill(RECIPIENT);
    await keys.locator('#passphrase').fill(PASSPHRASE);
    await keys.locator('#remember').check();
    await keys.getByLabel(/Keep the key to this message on this computer/).check();
    await Promise.all([keys.waitForURL(/\/open\//), keys.locator('button[name=go][value=signin]').click()]);
    await expectMessage(keys);
    await keys.getByText(KEPT).waitFor();
    t.equal(await stored(file, medium.envelopeId), Buffer.from((await ks.services.envelopes.serverShare(medium.envelopeId))!).toString('base64url'), 'the file window stored exactly the server share');
    await file.getByRole('button', { name: 'Read the message here' }).waitFor();
    t.pass('the envelope file now offers to read it here');
    await keys.close();
    await file.close();
  });

  await t.test('with the key service unreachable, the file opens the message itself', async (t) => {
    const sent: string[] = [];
    // The same browser profile (a file's storage does not travel with storageState), with no
    // network at all: every request that is not file:// is refused and recorded.
    const offline = context;
    await offline.route(/^https?:/, (route) => {
      sent.push(route.request().url());
      return route.abort();
    });
    const page = await offline.newPage();
    await page.goto(medium.url);
    await page.getByRole('button', { name: 'Read the message here' }).click();
    await expectMessage(page);
    t.equal(await page.locator('#subject').textContent(), expected.subject, 'the subject is shown');

    const attachment = expected.attachments[0]!;
    const name = new RegExp(attachment.filename!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name }).first().click()]);
    t.ok(Buffer.from(attachment.content as ArrayBuffer).equals(readFileSync(await download.path())), 'an attachment downloads byte-identical, offline');
    const [eml] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the whole message (.eml)' }).click()]);
    t.ok(medium.plaintext.equals(readFileSync(await eml.path())), 'the whole message downloads byte-identical, offline');
    t.same(sent, [], 'nothing was requested from the network');

    await page.getByRole('button', { name: 'Forget the key on this computer' }).click();
    await page.locator('#offline-status', { hasText: 'The key was removed from this browser.' }).waitFor();
    t.equal(await stored(page, medium.envelopeId), null, 'the key is gone from storage');
    t.ok(await page.locator('#message').isHidden(), 'and the message is no longer shown');
    t.ok(await page.locator('#offline').isHidden(), 'the offline section is gone');
  });
});

t.test('nothing is kept without the header, or without the box ticked', { skip: browserSkipReason }, async (t) => {
  const { ks, sink, dir, browser } = await startBrowserWorld(await engine.open(), t.teardown.bind(t), 'offline');
  const env: Record<string, string> = { WAXSEAL_URL: ks.url, WAXSEAL_CREDENTIAL_HIGH: await provisionProfile(ks, 'High', { securityLevel: 'high' }) };
  const seal = async (headers: string) => {
    const sealed = await sealWithCli(env, 'High', Buffer.concat([Buffer.from(headers), MESSAGE]));
    const path = join(dir, `securedoc-${sealed.envelopeId}.html`);
    writeFileSync(path, sealed.html);
    return { url: pathToFileURL(path).href, envelopeId: sealed.envelopeId, html: sealed.html };
  };
  await ks.services.accounts.register({ name: 'Bob', email: RECIPIENT, passphrase: PASSPHRASE, passphrase2: PASSPHRASE, securityPhrase: 'blue kettle', locale: 'en', network: '127.0.0.1' });
  const token = /verify#(\S+)/.exec((await sink.waitFor(RECIPIENT)).parsed.text ?? '')![1]!;
  await ks.services.accounts.verifyAddress(token);

  const context = await browser.newContext();
  const page = await context.newPage();
  const plain = await seal('');
  t.notOk(plain.html.includes('id="offline"'), 'an envelope without the header has no offline reader');

  await page.goto(plain.url);
  await Promise.all([page.waitForURL(/^http:/), page.getByRole('button', { name: 'Open' }).click()]);
  t.notMatch(page.url(), /offline=1/, 'no offer to the sign-in page');
  t.equal(await page.getByLabel(/Keep the key to this message/).count(), 0, 'and no box on it');
  await page.locator('#email').fill(RECIPIENT);
  await page.locator('#passphrase').fill(PASSPHRASE);
  await Promise.all([page.waitForURL(/\/open\//), page.locator('button[name=go][value=signin]').click()]);
  await page.getByText('Three reports attached.').first().waitFor({ timeout: 20_000 });
  t.equal(await page.getByRole('link', { name: /Keep the key to this message/ }).count(), 0, 'the reader offers nothing either');

  // High security with the header: the box is offered at every passphrase, and left unticked.
  const remembered = await seal(REMEMBER);
  const file = await context.newPage();
  await file.goto(remembered.url);
  const [keys] = await Promise.all([context.waitForEvent('page'), file.getByRole('button', { name: 'Open' }).click()]);
  await keys.waitForURL(/\/signin\?.*reauth=1.*offline=1|\/signin\?.*offline=1.*reauth=1/);
  await keys.locator('#passphrase').fill(PASSPHRASE);
  await Promise.all([keys.waitForURL(/\/open\//), keys.locator('button[name=go][value=reauth]').click()]);
  await keys.getByText('Three reports attached.').first().waitFor({ timeout: 20_000 });
  t.notMatch(keys.url(), /offline=1/);
  t.equal(await keys.getByText(KEPT).count(), 0, 'not ticked: nothing handed over');
  t.equal(await file.evaluate((k) => localStorage.getItem(k), `waxseal:share:${remembered.envelopeId}`), null, 'and nothing stored');

  // A forged ?offline=1 without a passphrase typed in this opening hands nothing over.
  await keys.goto(`${ks.url}/open/${remembered.envelopeId}?offline=1`);
  await keys.getByText('Three reports attached.').first().waitFor({ timeout: 20_000 }).catch(() => undefined);
  t.equal(await file.evaluate((k) => localStorage.getItem(k), `waxseal:share:${remembered.envelopeId}`), null, 'still nothing stored');

  // The reader's own offer: the passphrase page again, this time with the box ticked.
  await keys.goto(`${ks.url}/open/${remembered.envelopeId}`);
  await Promise.all([keys.waitForURL(/\/signin\?/), keys.getByRole('link', { name: 'Keep the key to this message on this computer' }).click()]);
  await keys.locator('#passphrase').fill(PASSPHRASE);
  await keys.getByLabel(/Keep the key to this message on this computer/).check();
  await Promise.all([keys.waitForURL(/\/open\//), keys.locator('button[name=go][value=reauth]').click()]);
  await keys.getByText(KEPT).waitFor();
  t.ok(await file.evaluate((k) => localStorage.getItem(k), `waxseal:share:${remembered.envelopeId}`), 'kept after ticking the box');
});
