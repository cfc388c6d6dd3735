// A sender's pages in real Chromium: the sender locks a message and the recipient then sees the
// reason; the sender extends an expired message and the recipient opens it again; another
// account cannot reach a message it did not send; axe-core finds no serious or critical
// problem on the sender's pages in any of the 12 locales.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import type { BrowserContext, Page } from 'playwright-core';
import { SUPPORTED_LOCALES } from '../../src/i18n/locales.ts';
import { browserSkip } from '../helpers/chromium.ts';
import { engines } from '../helpers/databases.ts';
import { provisionProfile, type TestKeyService } from '../helpers/key-service.ts';
import { startBrowserWorld } from '../helpers/browser-world.ts';
import type { SmtpSink } from '../helpers/smtp-sink.ts';
import { sealWithCli } from '../helpers/cli-io.ts';
import { seriousProblems } from '../helpers/axe.ts';

const skip = browserSkip();
const PASSPHRASE = 'correct horse battery staple';

async function account(ks: TestKeyService & { url: string }, sink: SmtpSink, name: string, email: string) {
  await ks.services.accounts.register({ name, email, passphrase: PASSPHRASE, passphrase2: PASSPHRASE, securityPhrase: `${name}'s phrase`, locale: 'en', network: '127.0.0.1' });
  const token = /verify#(\S+)/.exec((await sink.waitFor(email)).parsed.text ?? '')![1]!;
  const verified = await ks.services.accounts.verifyAddress(token);
  if (!verified.ok) throw new Error('not verified');
}

async function signIn(page: Page, url: string, email: string) {
  await page.goto(url);
  if (!page.url().includes('/signin')) return;
  await page.locator('#email').fill(email);
  await page.locator('#passphrase').fill(PASSPHRASE);
  await page.locator('#remember').check();
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/signin')), page.locator('button[name=go][value=signin]').click()]);
}

t.test('senders lock, unlock and extend what they sent', { skip }, async (t) => {
  const opened = await engines().find((e) => e.name === 'pglite')!.open();
  const { ks, sink, dir, browser } = await startBrowserWorld(opened, t.teardown.bind(t), 'sender');
  const env = { WAXSEAL_URL: ks.url, WAXSEAL_CREDENTIAL_MEDIUM: await provisionProfile(ks, 'Medium', { securityLevel: 'medium' }) };
  await account(ks, sink, 'Alice', 'alice@example.org');
  await account(ks, sink, 'Bob', 'bob@example.net');
  await account(ks, sink, 'Mallory', 'mallory@example.net');

  let n = 0;
  async function seal(subject: string, headers = '') {
    const raw = `${headers}From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: ${subject}\r\nContent-Type: text/plain\r\n\r\nThe contract is attached.\r\n`;
    const sealed = await sealWithCli(env, 'Medium', Buffer.from(raw));
    const path = join(dir, `securedoc-${++n}.html`);
    writeFileSync(path, sealed.html);
    return { url: pathToFileURL(path).href, id: sealed.envelopeId };
  }
  const alice: BrowserContext = await browser.newContext();
  const bob: BrowserContext = await browser.newContext();
  const senderPage = await alice.newPage();
  const recipientPage = await bob.newPage();
  async function bobOpens(fileUrl: string) {
    await recipientPage.goto(fileUrl);
    await Promise.all([recipientPage.waitForURL(/^http:/), recipientPage.getByRole('button', { name: 'Open' }).click()]);
    if (recipientPage.url().includes('/signin')) {
      await recipientPage.locator('#email').fill('bob@example.net');
      await recipientPage.locator('#passphrase').fill(PASSPHRASE);
      await recipientPage.locator('#remember').check();
      await Promise.all([recipientPage.waitForURL(/\/open\//), recipientPage.locator('button[name=go][value=signin]').click()]);
    }
  }

  const contract = await seal('Contract draft');

  await t.test('the sender locks a message; the recipient then sees the reason; unlocking lets them in again', async (t) => {
    await bobOpens(contract.url);
    await recipientPage.getByText('The contract is attached.').waitFor({ timeout: 20_000 });

    await signIn(senderPage, `${ks.url}/sent`, 'alice@example.org');
    t.match(senderPage.url(), /\/sent$/);
    await senderPage.getByRole('link', { name: 'Contract draft' }).click();
    await senderPage.getByRole('cell', { name: 'bob@example.net' }).waitFor();
    t.notMatch(await senderPage.locator('table').first().textContent(), /Not opened yet/, 'Bob is shown as having opened it');
    await senderPage.getByLabel('Reason shown to recipients').fill('Sent before legal approved it');
    await Promise.all([senderPage.waitForURL(/done=locked/), senderPage.getByRole('button', { name: 'Lock the message' }).click()]);
    await senderPage.getByText('The message is locked.').waitFor();

    await bobOpens(contract.url);
    await recipientPage.getByRole('heading', { name: 'The sender has locked this message' }).waitFor();
    await recipientPage.getByText('Sent before legal approved it').waitFor();
    t.pass('the recipient sees the lock and its reason at the next opening');

    await Promise.all([senderPage.waitForURL(/done=unlocked/), senderPage.getByRole('button', { name: 'Unlock' }).click()]);
    await bobOpens(contract.url);
    await recipientPage.getByText('The contract is attached.').waitFor({ timeout: 20_000 });
    t.pass('unlocked: the recipient reads it again');
  });

  await t.test('the sender extends an expired message and the recipient can open it again', async (t) => {
    const expiring = await seal('Price list', 'X-PostX-ExpirationDate: +00:00:01\r\n');
    await new Promise((r) => setTimeout(r, 1500));
    await bobOpens(expiring.url);
    await recipientPage.getByRole('heading', { name: 'This secure message has expired' }).waitFor();

    await senderPage.goto(`${ks.url}/sent`);
    await senderPage.getByRole('link', { name: 'Price list' }).click();
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    await senderPage.getByLabel('Available until').fill(tomorrow);
    await Promise.all([senderPage.waitForURL(/done=dates/), senderPage.getByRole('button', { name: 'Save dates' }).click()]);
    await senderPage.getByText('The dates are saved.').waitFor();

    await bobOpens(expiring.url);
    await recipientPage.getByText('The contract is attached.').waitFor({ timeout: 20_000 });
    t.pass('extended: the recipient opens it');
    const actions = (await ks.services.audit.list({ orgId: ks.orgId, limit: 1000 })).map((r) => r.action);
    t.ok(['envelope.lock', 'envelope.unlock', 'envelope.dates'].every((a) => actions.includes(a)), 'each change is in the audit record');
  });

  await t.test('another account cannot see or change a message it did not send', async (t) => {
    const mallory = await browser.newContext();
    const page = await mallory.newPage();
    await signIn(page, `${ks.url}/sent`, 'mallory@example.net');
    t.equal(await page.getByRole('link', { name: 'Contract draft' }).count(), 0, 'not in her list');
    const response = await page.goto(`${ks.url}/sent/${contract.id}`);
    t.equal(response?.status(), 404);
    await page.getByRole('heading', { name: 'Message not found' }).waitFor();
    const missing = await page.goto(`${ks.url}/sent/${'A'.repeat(22)}`);
    t.equal(missing?.status(), 404, 'the same answer as for a message that does not exist');
    await mallory.close();
  });

  await t.test('the sender pages have no serious accessibility problems in any locale', async (t) => {
    const context = await browser.newContext({ bypassCSP: true, storageState: await alice.storageState() });
    const page = await context.newPage();
    for (const locale of SUPPORTED_LOCALES) {
      for (const path of ['/sent', `/sent/${contract.id}`, `/sent?q=nothing-matches`, `/sent/${'B'.repeat(22)}`]) {
        await page.goto(`${ks.url}${path}${path.includes('?') ? '&' : '?'}lang=${locale}`);
        const bad = await seriousProblems(page);
        t.same(bad, [], `${locale} ${path}`);
        t.equal(await page.getAttribute('html', 'lang'), locale);
      }
    }
    await context.close();
  });
});
