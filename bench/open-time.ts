import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createKeyServiceClient } from '../src/gateway/key-client.ts';
import { sealMessage } from '../src/gateway/seal.ts';
import { createI18n } from '../src/i18n/create-i18n.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../src/paths.ts';
import { launchChromium } from '../test/helpers/chromium.ts';
import { parseEnvelopeMail } from '../test/helpers/envelope-file.ts';
import type { TestKeyService } from '../test/helpers/key-service.ts';
import { syntheticMessage } from './seal.ts';

export interface OpenTimeResult {
  sizeMB: number;
  /** click on Open in securedoc.html until the message is on screen, best of the runs, ms */
  openMs: number;
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
      const rawT: number[] = [];
      for (let i = 0; i < runs; i++) {
        const page = await browser.newPage();
        await page.goto(pathToFileURL(file).href);
        const start = Date.now();
        await page.getByRole('button', { name: 'Open' }).click();
        // Checked on every frame: a locator's own polling would add up to 100 ms of its own.
        await page.waitForFunction(() => document.getElementById('message')?.hidden === false, undefined, { polling: 'raf', timeout: 120_000 });
        openT.push(Date.now() - start);
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
      results.push({ sizeMB: mb, openMs: Math.min(...openT), rawMs: Math.min(...rawT) });
    }
  } finally {
    await browser.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
  return results;
}
