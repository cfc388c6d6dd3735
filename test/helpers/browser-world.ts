import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from './chromium.ts';
import type { OpenedDatabase } from './databases.ts';
import { listenKeyService, type TestKeyService } from './key-service.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';

export interface BrowserWorld {
  ks: TestKeyService & { url: string };
  /** where the key service's mail arrives (a real SMTP peer) */
  sink: SmtpSink;
  /** a scratch folder for envelope files */
  dir: string;
  browser: Browser;
}

/**
 * What the browser suites share: a key service listening over the given database, mailing a real
 * SMTP sink, a scratch folder and headless Chromium, all taken down by `teardown`.
 */
export async function startBrowserWorld(opened: OpenedDatabase, teardown: (fn: () => Promise<void>) => void, name: string): Promise<BrowserWorld> {
  const sink = await startSmtpSink();
  const ks = await listenKeyService(opened, { SMTP_URL: sink.url, MAIL_FROM: 'Secure Mail <keys@example.test>' });
  const dir = mkdtempSync(join(tmpdir(), `waxseal-${name}-`));
  const browser = await launchChromium();
  teardown(async () => {
    await browser.close();
    await ks.close();
    await sink.close();
    await opened.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  return { ks, sink, dir, browser };
}
