// Offline re-opening in Firefox (Debian's firefox-esr over WebDriver BiDi): the same journey as
// the Chromium suite — Open from file://, sign in with "keep the key" ticked, the key handed to
// the envelope file's window, then the file opens the message with no network.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import type { Page } from 'puppeteer-core';
import { runCli } from '../../src/cli/main.ts';
import { engines } from '../helpers/databases.ts';
import { parseEnvelopeMail } from '../helpers/envelope-file.ts';
import { firefoxSkip, launchFirefox } from '../helpers/firefox.ts';
import { listenKeyService, provisionProfile } from '../helpers/key-service.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';
import { captureIo } from '../helpers/cli-io.ts';

const PASSPHRASE = 'correct horse battery staple';
const TEXT = 'The contract is attached.';

const textOf = (page: Page, selector: string) => page.$eval(selector, (e) => e.textContent ?? '');
const waitForText = (page: Page, text: string) => page.waitForFunction((x: string) => document.body?.innerText.includes(x), { timeout: 20_000 }, text);

t.test('Firefox: a kept key opens the envelope file without the network', { skip: firefoxSkip() }, async (t) => {
  const opened = await engines().find((e) => e.name === 'pglite')!.open();
  const sink = await startSmtpSink();
  const ks = await listenKeyService(opened, { SMTP_URL: sink.url, MAIL_FROM: 'keys@example.test' });
  const dir = mkdtempSync(join(tmpdir(), 'waxseal-firefox-'));
  const browser = await launchFirefox();
  t.teardown(async () => {
    await browser.close();
    await ks.close();
    await sink.close();
    await opened.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  await ks.services.accounts.register({ name: 'Bob', email: 'bob@example.net', passphrase: PASSPHRASE, passphrase2: PASSPHRASE, securityPhrase: 'blue kettle', locale: 'en', network: '127.0.0.1' });
  const token = /verify#(\S+)/.exec((await sink.waitFor('bob@example.net')).parsed.text ?? '')![1]!;
  t.ok((await ks.services.accounts.verifyAddress(token)).ok);

  const env = { WAXSEAL_URL: ks.url, WAXSEAL_CREDENTIAL_MEDIUM: await provisionProfile(ks, 'Medium', { securityLevel: 'medium' }) };
  const raw = `X-PostX-Remember-Envelope-Key-Checkbox: true\r\nFrom: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Contract\r\nContent-Type: text/plain\r\n\r\n${TEXT}\r\n`;
  const cli = captureIo(env, Buffer.from(raw));
  t.equal(await runCli(['seal', '--profile', 'Medium'], cli.io), 0);
  const sealed = await parseEnvelopeMail(cli.out());
  const file = join(dir, 'securedoc.html');
  writeFileSync(file, sealed.html);
  const fileUrl = pathToFileURL(file).href;
  const storageKey = `waxseal:share:${sealed.envelopeId}`;

  const filePage = await browser.newPage();
  await filePage.goto(fileUrl);
  const keysTarget = browser.waitForTarget((target) => target.url().startsWith(ks.url), { timeout: 20_000 });
  await filePage.click('#open-form button[type=submit]');
  const keys = (await (await keysTarget).page())!;
  await keys.waitForSelector('#keep-key', { timeout: 20_000 });
  t.match(keys.url(), /\/signin\?.*offline=1/, 'the sign-in page offers the box');
  await keys.type('#email', 'bob@example.net');
  await keys.type('#passphrase', PASSPHRASE);
  await keys.click('#keep-key');
  await Promise.all([keys.waitForNavigation(), keys.click('button[name=go][value=signin]')]);
  await waitForText(keys, TEXT);
  await keys.waitForFunction(() => /now kept in this browser/.test(document.getElementById('offline-status')?.textContent ?? ''), { timeout: 20_000 });
  t.pass('the reader page says the key is kept');
  t.equal(await filePage.evaluate((k: string) => localStorage.getItem(k), storageKey), Buffer.from((await ks.services.envelopes.serverShare(sealed.envelopeId))!).toString('base64url'), "the file's window stored the server share");
  await keys.close();

  // Offline: the key service stops; a new tab opens the file and reads the message itself.
  await ks.app.close();
  const again = await browser.newPage();
  await again.goto(fileUrl);
  await again.waitForSelector('#offline-read', { visible: true });
  await again.click('#offline-read');
  await waitForText(again, TEXT);
  t.equal(await textOf(again, '#subject'), 'Contract', 'the message opens with the key service gone');
  await again.click('#offline-forget');
  await again.waitForFunction(() => /removed from this browser/.test(document.getElementById('offline-status')?.textContent ?? ''));
  t.equal(await again.evaluate((k: string) => localStorage.getItem(k), storageKey), null, 'Forget removes it');
});
