// The administrators' console in real Chromium: an administrator uploads a logo and changes the
// notification template, previews it, and the next sealed envelope shows both (the logo in
// securedoc.html, the template in the notification mail); axe-core finds no serious or critical
// problem on any console page, in all 12 locales.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { runCli } from '../../src/cli/main.ts';
import { SUPPORTED_LOCALES } from '../../src/i18n/locales.ts';
import { browserSkip } from '../helpers/chromium.ts';
import { captureIo } from '../helpers/cli-io.ts';
import { engines } from '../helpers/databases.ts';
import { parseEnvelopeMail } from '../helpers/envelope-file.ts';
import { provisionProfile } from '../helpers/key-service.ts';
import { startBrowserWorld } from '../helpers/browser-world.ts';
import { seriousProblems } from '../helpers/axe.ts';

const skip = browserSkip();
const PASSPHRASE = 'correct horse battery staple';
// A 2x2 red PNG, made for this test (any real PNG would do).
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');
const TEMPLATE = `<!DOCTYPE html>
<html lang="{{lang}}"><head><meta charset="utf-8"><title>Secure mail</title></head>
<body><h1 style="color:#7a0019">Example Bank secure delivery</h1>
<p>{{sender}} sent you a protected message. Open {{fileName}} to read it.</p>
</body></html>`;

t.test('an administrator brands a profile; the next envelope shows it', { skip }, async (t) => {
  const opened = await engines().find((e) => e.name === 'pglite')!.open();
  const { ks, sink, dir, browser } = await startBrowserWorld(opened, t.teardown.bind(t), 'console');
  const credential = await provisionProfile(ks, 'Brand', { securityLevel: 'medium' });
  await ks.services.accounts.register({ name: 'Ada', email: 'admin@example.test', passphrase: PASSPHRASE, passphrase2: PASSPHRASE, securityPhrase: 'blue heron', locale: 'en', network: '127.0.0.1' });
  const verified = await ks.services.accounts.verifyAddress(/verify#(\S+)/.exec((await sink.waitFor('admin@example.test')).parsed.text ?? '')![1]!);
  t.ok(verified.ok, 'the administrator has an account with the address verified');

  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${ks.url}/admin/profiles/Brand`);
  await page.locator('#email').fill('admin@example.test');
  await page.locator('#passphrase').fill(PASSPHRASE);
  await Promise.all([page.waitForURL(/\/admin\/profiles\/Brand$/), page.locator('button[name=go][value=signin]').click()]);
  t.pass('signing in leads back to the console page asked for');

  await t.test('the logo upload refuses what is not an image, then takes a PNG', async (t) => {
    const fake = join(dir, 'logo.png');
    writeFileSync(fake, '<svg xmlns="http://www.w3.org/2000/svg"/>');
    await page.locator('#logo').setInputFiles(fake);
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Upload the logo' }).click()]);
    await page.getByText('The file is not a PNG, JPEG or GIF image.').waitFor();
    const real = join(dir, 'brand.png');
    writeFileSync(real, PNG);
    await page.locator('#logo').setInputFiles(real);
    await Promise.all([page.waitForURL(/done=logo/), page.getByRole('button', { name: 'Upload the logo' }).click()]);
    t.equal(await page.getByRole('img', { name: 'Current logo' }).getAttribute('src'), `data:image/png;base64,${PNG.toString('base64')}`);
  });

  await t.test('the template is checked, previewed in a sandboxed frame, and saved', async (t) => {
    await page.getByRole('link', { name: 'Edit the notification templates' }).click();
    await page.getByLabel('Notification, HTML').fill('<p>{{sendr}}</p><script>alert(1)</script>');
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Save the templates' }).click()]);
    await page.getByText('The templates were not saved.').waitFor();
    t.match(await page.locator('#tpl-html-problems').textContent(), /did you mean sender/);
    t.match(await page.locator('#tpl-html-problems').textContent(), /script/);

    await page.getByLabel('Notification, HTML').fill(TEMPLATE);
    await page.getByRole('button', { name: 'Preview HTML' }).click();
    const frame = page.frame({ name: 'preview' })!;
    await frame.getByText('Example Bank secure delivery').waitFor();
    t.match(await frame.locator('p').textContent(), /admin@example\.test sent you a protected message/, 'the preview renders the draft with example values');
    // A sandboxed document has an opaque origin: it cannot reach the console or its cookies.
    t.equal(await frame.evaluate('window.origin'), 'null', 'the preview is sandboxed, apart from the console');

    await Promise.all([page.waitForURL(/done=templates/), page.getByRole('button', { name: 'Save the templates' }).click()]);
    await page.getByText('The templates are saved.').waitFor();
    t.equal((await ks.services.profiles.get(ks.orgId, 'Brand')).settings.templates.html, TEMPLATE);
  });

  await t.test('the next sealed envelope carries the logo and the new template', async (t) => {
    const raw = 'From: Clerk <clerk@example.test>\r\nTo: client@example.net\r\nSubject: Statement\r\nContent-Type: text/plain\r\n\r\nYour statement.\r\n';
    const cli = captureIo({ WAXSEAL_URL: ks.url, WAXSEAL_CREDENTIAL_BRAND: credential }, Buffer.from(raw));
    const code = await runCli(['seal', '--profile', 'Brand'], cli.io);
    t.equal(code, 0);
    const sealed = await parseEnvelopeMail(cli.out());
    t.match(sealed.mail.html, /Example Bank secure delivery/, "the notification's HTML is the new template");
    t.match(sealed.mail.html, /clerk@example\.test(&gt;)? sent you a protected message\. Open securedoc\.html to read it\./);
    const file = join(dir, 'securedoc.html');
    writeFileSync(file, sealed.html);
    const reader = await context.newPage();
    await reader.goto(pathToFileURL(file).href);
    const src = (await reader.locator('img').first().getAttribute('src'))!.replace(/\s+/g, '');
    t.equal(src, `data:image/png;base64,${PNG.toString('base64')}`, 'the envelope file shows the uploaded logo');
    t.ok(await reader.locator('img').first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth === 2), 'and the browser draws it');
    await reader.close();
  });

  await t.test('the console pages have no serious accessibility problems in any locale', async (t) => {
    const audit = await browser.newContext({ bypassCSP: true, storageState: await context.storageState() });
    const a = await audit.newPage();
    const paths = ['/admin', '/admin/profiles', '/admin/profiles/Brand', '/admin/profiles/Brand/templates', '/admin/users', '/admin/roles', '/admin/messages', '/admin/audit', '/admin/profiles/Nope'];
    for (const locale of SUPPORTED_LOCALES) {
      for (const path of paths) {
        await a.goto(`${ks.url}${path}?lang=${locale}`);
        const bad = await seriousProblems(a);
        t.same(bad, [], `${locale} ${path}`);
        t.equal(await a.getAttribute('html', 'lang'), locale);
      }
    }
    await audit.close();
  });

  await context.close();
});
