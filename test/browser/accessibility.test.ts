import t from 'tap';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { buildSecuredoc, type SecuredocMode } from '../../src/envelope/securedoc.ts';
import { createI18n } from '../../src/i18n/create-i18n.ts';
import { SUPPORTED_LOCALES } from '../../src/i18n/locales.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../../src/paths.ts';
import { browserSkip, launchChromium } from '../helpers/chromium.ts';
import { engines } from '../helpers/databases.ts';
import { listenKeyService } from '../helpers/key-service.ts';
import { seriousViolations } from '../helpers/axe.ts';

/**
 * axe-core in real Chromium on what people see: the envelope file in every locale and mode,
 * and the outbox pages. The pages' own CSP forbids injected script, so the test context
 * bypasses CSP for axe alone (the CSP itself is tested elsewhere).
 */
const skip = browserSkip();


t.test('securedoc.html has no serious accessibility problems', { skip }, async (t) => {
  const browser: Browser = await launchChromium();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-a11y-'));
  t.teardown(async () => {
    await browser.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  const i18n = createI18n(LOCALES_DIR);
  const modes: SecuredocMode[] = ['applet', 'server', 'no-script'];
  for (const locale of SUPPORTED_LOCALES) {
    for (const mode of modes) {
      const html = buildSecuredoc(
        {
          locale,
          envelopeId: randomBytes(16).toString('base64url'),
          envelopeSecret: randomBytes(32),
          keyServiceUrl: 'https://keys.example.org',
          sender: 'Ana Pérez <ana@example.org>',
          to: ['bob@example.org'],
          cc: ['carol@example.org'],
          date: new Date('2026-11-27T09:30:00Z'),
          subject: 'Quarterly figures',
          securityLevel: 'medium',
          mode,
          payload: { kind: 'inline', ciphertext: randomBytes(200) },
          expiresAt: new Date('2026-12-31T00:00:00Z'),
        },
        { i18n, views: VIEWS_DIR },
      );
      const file = path.join(dir, `${locale}-${mode}.html`);
      await fs.writeFile(file, html);
      await page.goto(`file://${file}`);
      const violations = await seriousViolations(page);
      t.same(violations.map((v) => `${v.id}: ${v.help}`), [], `${locale}/${mode}: no serious or critical findings`);
    }
  }
});

t.test('the outbox pages have no serious accessibility problems', { skip }, async (t) => {
  const opened = await engines()[0]!.open();
  const ks = await listenKeyService(opened);
  const browser: Browser = await launchChromium();
  t.teardown(async () => {
    await browser.close();
    await ks.close();
    await opened.dispose();
  });
  await ks.services.mail.send({ to: 'ana@example.test', subject: 'Verify your address', text: 'Open https://keys.example.test/verify?t=abc', kind: 'verification' });
  const id = (await ks.services.mail.listOutbox())[0]!.id;
  const page = await (await browser.newContext({ bypassCSP: true })).newPage();
  for (const locale of SUPPORTED_LOCALES) {
    for (const url of [`/outbox?lang=${locale}`, `/outbox/${id}?lang=${locale}`]) {
      await page.goto(`${ks.url}${url}`);
      const violations = await seriousViolations(page);
      t.same(violations.map((v) => `${v.id}: ${v.help}`), [], `${url}: no serious or critical findings`);
    }
  }
});
