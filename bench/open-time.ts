import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createKeyServiceClient } from '../src/gateway/key-client.ts';
import { sealMessage } from '../src/gateway/seal.ts';
import { createI18n } from '../src/i18n/create-i18n.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../src/paths.ts';
import type { Page } from 'playwright-core';
import { launchChromium } from '../test/helpers/chromium.ts';
import { parseEnvelopeMail } from '../test/helpers/envelope-file.ts';
import type { TestKeyService } from '../test/helpers/key-service.ts';
import { syntheticMessage } from './seal.ts';

/**
 * From the click on "Open" to the first paint of the message, both as the browser saw them: the
 * click's time is taken in securedoc.html itself, the paint's from the Element Timing API on the
 * reader page (views/pages/open/reader.hbs). Nothing is injected into the reader page or polled
 * in it while it opens (a harness's polling would use the main thread the page needs); it is
 * asked once the network has been quiet for half a second.
 */
export async function clickToShown(page: Page): Promise<{ shown: number; whole: number }> {
  const clicked = new Promise<number>((resolve, reject) => {
    setTimeout(() => reject(new Error('securedoc.html never reported the click')), 120_000).unref();
    page.on('console', (m) => {
      const at = /^waxseal-bench-click (\d+(?:\.\d+)?)$/.exec(m.text());
      if (at) resolve(Number(at[1]));
    });
  });
  clicked.catch(() => undefined); // awaited below; a page that failed first must not leave it unhandled
  await page.evaluate(() => document.addEventListener('click', () => console.log(`waxseal-bench-click ${performance.timeOrigin + performance.now()}`), { capture: true, once: true }));
  await page.getByRole('button', { name: 'Open' }).click();
  await page.waitForURL(/\/open\//, { waitUntil: 'commit' });
  await page.waitForLoadState('networkidle');
  const painted = await page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        setTimeout(() => resolve(-1), 120_000);
        new PerformanceObserver((list, observer) => {
          const entry = list.getEntries().find((e) => (e as PerformanceEntry & { identifier?: string }).identifier === 'waxseal-message') as (PerformanceEntry & { renderTime: number }) | undefined;
          if (!entry) return;
          observer.disconnect();
          resolve(performance.timeOrigin + entry.renderTime);
        }).observe({ type: 'element', buffered: true });
      }),
  );
  if (painted < 0) throw new Error('the message was not shown within two minutes');
  // The whole message (attachments listed, "download" offered): the view's last update, marked
  // by the reader. Once the opening has ended, so after the page's own work, not during it.
  await page.waitForFunction(() => document.getElementById('status')?.className === 'visually-hidden', undefined, { polling: 100, timeout: 120_000 });
  const whole = await page.evaluate(() => {
    const mark = performance.getEntriesByName('waxseal:complete')[0] ?? performance.getEntriesByName('waxseal:shown')[0];
    return mark ? performance.timeOrigin + mark.startTime : -1;
  });
  const start = await clicked;
  return { shown: painted - start, whole: whole - start };
}

export interface OpenTimeResult {
  sizeMB: number;
  /** the click on Open in securedoc.html until the message is first painted, best of the runs, ms */
  openMs: number;
  /** the click until the whole message is in the view (attachments listed), best of the runs, ms */
  wholeMs: number;
  /** one AES-256-GCM decryption of the same number of bytes by the same browser's WebCrypto, ms */
  rawMs: number;
}

/**
 * Time from "Open" to the message shown, in headless Chromium, for envelopes sealed by the
 * gateway (by reference, "No passphrase" so no typing is timed), beside raw WebCrypto decryption
 * of as many bytes in the same browser. Includes the key release, the payload download, the
 * chunked decryption, MIME parsing and rendering; a message over 1 MB counts as shown when its
 * headers and text are (its attachments are listed once the whole envelope opened).
 */
export async function benchOpenTime(ks: TestKeyService & { url: string }, credential: string, sizesMB: number[], runs: number): Promise<OpenTimeResult[]> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-open-bench-'));
  const browser = await launchChromium();
  const deps = { client: createKeyServiceClient({ url: ks.url, credential }), i18n: createI18n(LOCALES_DIR), views: VIEWS_DIR };
  const results: OpenTimeResult[] = [];
  try {
    for (const mb of sizesMB) {
      const message = syntheticMessage(mb * 1024 * 1024 - 64 * 1024);
      const sealed = await sealMessage(message, deps);
      const file = path.join(dir, `${mb}.html`);
      await fs.writeFile(file, (await parseEnvelopeMail(sealed.envelope)).html);
      const openT: number[] = [];
      const wholeT: number[] = [];
      const rawT: number[] = [];
      for (let i = 0; i < runs; i++) {
        const page = await browser.newPage();
        await page.goto(pathToFileURL(file).href);
        const timed = await clickToShown(page);
        openT.push(timed.shown);
        wholeT.push(timed.whole);
        rawT.push(
          await page.evaluate(async (size: number) => {
            const data = new Uint8Array(size);
            for (let o = 0; o < size; o += 65536) crypto.getRandomValues(data.subarray(o, Math.min(size, o + 65536)));
            const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
            const iv = crypto.getRandomValues(new Uint8Array(12));
            const sealedBytes = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, data);
            const t0 = performance.now();
            await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, sealedBytes);
            return performance.now() - t0;
          }, message.length),
        );
        await page.close();
      }
      results.push({ sizeMB: mb, openMs: Math.min(...openT), wholeMs: Math.min(...wholeT), rawMs: Math.min(...rawT) });
    }
  } finally {
    await browser.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
  return results;
}
