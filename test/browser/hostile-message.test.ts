// A message whose HTML attacks the reader, opened for real in Chromium through the whole
// product (sealed by the gateway, opened from file://), in applet mode and in server mode with
// script disabled. Nothing in it may run, submit or load: a local HTTP server stands in for the
// internet and counts every request it gets, and the message's script would leave traces in the
// page (title, storage, a request) that the test looks for.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import type { Page } from 'playwright-core';
import { createKeyServiceClient } from '../../src/gateway/key-client.ts';
import { sealMessage } from '../../src/gateway/seal.ts';
import { createI18n } from '../../src/i18n/create-i18n.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../../src/paths.ts';
import { browserSkip, launchChromium } from '../helpers/chromium.ts';
import { engines } from '../helpers/databases.ts';
import { parseEnvelopeMail } from '../helpers/envelope-file.ts';
import { listenKeyService, provisionProfile } from '../helpers/key-service.ts';

const skip = browserSkip();

function hostileMessage(remote: string): Buffer {
  const html = `<html><head><meta http-equiv="refresh" content="0;url=${remote}/refresh"><base href="${remote}/"><link rel="stylesheet" href="${remote}/style.css">
<style>body { background: url(${remote}/bg.png) }</style></head>
<body onload="fetch('${remote}/onload')">
<p>Quarterly results attached.</p>
<script>document.title = 'PWNED'; fetch('${remote}/script'); parent.document.title = 'PWNED';</script>
<img src="${remote}/tracker.png" alt="tracker" onerror="fetch('${remote}/onerror')">
<img srcset="${remote}/srcset.png 2x">
<div style="background-image: url('${remote}/div.png')">styled</div>
<table background="${remote}/table.png"><tr><td>cell</td></tr></table>
<a href="javascript:fetch('${remote}/js-link')" id="jslink">click me</a>
<form action="${remote}/form" method="post"><input name="q" value="secret"><button id="submit">Send</button></form>
<svg><script>fetch('${remote}/svg')</script></svg>
<iframe src="${remote}/frame"></iframe><object data="${remote}/object"></object>
</body></html>`;
  return Buffer.from(
    [
      'From: Mallory <mallory@example.test>',
      'To: Bob <bob@example.org>',
      'Subject: Results',
      'Date: Sat, 28 Nov 2026 10:00:00 +0000',
      'Message-ID: <hostile@example.test>',
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      html,
    ].join('\r\n'),
  );
}

for (const engine of engines()) {
  t.test(`hostile HTML runs nothing and loads nothing (${engine.name})`, { skip: engine.skip || skip }, async (t) => {
    const hits: string[] = [];
    const internet = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.end();
    });
    await new Promise<void>((r) => internet.listen(0, '127.0.0.1', r));
    const remote = `http://127.0.0.1:${(internet.address() as AddressInfo).port}`;
    const opened = await engine.open();
    const ks = await listenKeyService(opened);
    const dir = mkdtempSync(join(tmpdir(), 'waxseal-hostile-'));
    const browser = await launchChromium();
    t.teardown(async () => {
      await browser.close();
      await ks.close();
      await opened.dispose();
      internet.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const i18n = createI18n(LOCALES_DIR);
    const sealWith = async (profile: string, headers = '') => {
      const credential = await provisionProfile(ks, profile, { securityLevel: 'none' });
      const sealed = await sealMessage(Buffer.concat([Buffer.from(headers), hostileMessage(remote)]), { client: createKeyServiceClient({ url: ks.url, credential }), i18n, views: VIEWS_DIR });
      const file = join(dir, `${profile}.html`);
      writeFileSync(file, (await parseEnvelopeMail(sealed.envelope)).html);
      return pathToFileURL(file).href;
    };

    const check = async (page: Page, mode: string) => {
      const frame = page.frameLocator('iframe.message-frame');
      await frame.getByText('Quarterly results attached.').waitFor({ timeout: 20_000 });
      await frame.locator('#jslink').click().catch(() => {});
      await page.waitForTimeout(500);
      t.same(hits, [], `${mode}: nothing was requested from the "internet"`);
      t.not(await page.title(), 'PWNED', `${mode}: no script ran`);
      t.equal(await frame.locator('form, input, button, script, iframe, object').count(), 0, `${mode}: no form, control, script or embedded frame reached the page`);
      const srcdoc = (await page.locator('iframe.message-frame').getAttribute('srcdoc')) ?? '';
      t.notMatch(srcdoc, /onload|onerror|javascript:/i, `${mode}: no event handler or javascript: URL`);
      t.equal(await page.locator('iframe.message-frame').getAttribute('sandbox'), 'allow-popups allow-popups-to-escape-sandbox', `${mode}: the frame is sandboxed without scripts, forms or same-origin`);
    };

    await t.test('applet mode', async () => {
      const url = await sealWith('Applet');
      const page = await browser.newPage();
      await page.goto(url);
      await Promise.all([page.waitForURL(/^http:/), page.getByRole('button', { name: 'Open' }).click()]);
      await check(page, 'applet');
      await Promise.all([page.getByRole('button', { name: 'Show images' }).click()]);
      await page.waitForTimeout(500);
      t.ok(hits.includes('/tracker.png'), 'remote images load only once the reader asks');
      t.notOk(hits.some((h) => /script|onload|onerror|js-link|svg|form|frame|object|refresh/.test(h)), 'still nothing active ran: ' + hits.join(' '));
      hits.length = 0;
      await page.close();
    });

    await t.test('server mode, script disabled', async () => {
      const url = await sealWith('Server', 'X-PostX-Use-Script: false\r\n');
      const context = await browser.newContext({ javaScriptEnabled: false });
      const page = await context.newPage();
      await page.goto(url);
      await Promise.all([page.waitForURL(/^http:/), page.getByRole('button', { name: 'Open Online' }).click()]);
      await check(page, 'server');
      await context.close();
    });
  });
}
