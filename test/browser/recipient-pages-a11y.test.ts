import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { SESSION_COOKIE } from '../../src/domain/accounts/session-service.ts';
import { createKeyServiceClient } from '../../src/gateway/key-client.ts';
import { sealMessage } from '../../src/gateway/seal.ts';
import { createI18n } from '../../src/i18n/create-i18n.ts';
import { SUPPORTED_LOCALES } from '../../src/i18n/locales.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../../src/paths.ts';
import { browserSkip, launchChromium } from '../helpers/chromium.ts';
import { buildCorpus } from '../helpers/corpus.ts';
import { engines } from '../helpers/databases.ts';
import { parseEnvelopeMail } from '../helpers/envelope-file.ts';
import { listenKeyService, provisionProfile } from '../helpers/key-service.ts';
import { seriousProblems } from '../helpers/axe.ts';

/**
 * axe-core in real Chromium on every page a recipient meets, in all 12 locales: account pages,
 * every state of an opening, and the message view in both modes. The context bypasses CSP so
 * axe can be injected (the CSP is tested elsewhere). Accessibility does not depend on the
 * database engine, so this runs on the embedded one only.
 */
const skip = browserSkip();
const pglite = engines()[0]!;

const serious = seriousProblems;

t.test('recipient pages have no serious accessibility problems in any locale', { skip }, async (t) => {
  const opened = await pglite.open();
  const ks = await listenKeyService(opened);
  const dir = mkdtempSync(join(tmpdir(), 'waxseal-a11y-'));
  const browser = await launchChromium();
  t.teardown(async () => {
    await browser.close();
    await ks.close();
    await opened.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const i18n = createI18n(LOCALES_DIR);
  const message = Buffer.from(buildCorpus().find((m) => m.name === 'html with inline cid images')!.bytes);
  const seal = async (profile: string, settings: object, headers = '') => {
    const credential = await provisionProfile(ks, profile, settings);
    const sealed = await sealMessage(Buffer.concat([Buffer.from(headers), message]), { client: createKeyServiceClient({ url: ks.url, credential }), i18n, views: VIEWS_DIR });
    const file = join(dir, `${profile}.html`);
    writeFileSync(file, (await parseEnvelopeMail(sealed.envelope)).html);
    return { url: pathToFileURL(file).href, id: sealed.envelopeId };
  };
  const open = await seal('Open', { securityLevel: 'none' });
  const server = await seal('Server', { securityLevel: 'none' }, 'X-PostX-Use-Script: false\r\n');
  const medium = await seal('Medium', { securityLevel: 'medium' });
  const locked = await seal('Locked', { securityLevel: 'none' });
  await opened.database.db.updateTable('envelopes').set({ locked_at: new Date(), lock_reason: 'Wrong recipient' }).where('id', '=', locked.id).execute();
  const expired = await seal('Expired', { securityLevel: 'none' });
  await opened.database.db.updateTable('envelopes').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', expired.id).execute();

  const account = await opened.database.db.insertInto('accounts').values({ name: 'Mallory', passphrase_hash: 'x', security_phrase: 'blue kettle', locale: 'en' }).returning('id').executeTakeFirstOrThrow();
  await opened.database.db.insertInto('account_addresses').values({ account_id: account.id, address: 'mallory@example.org', verified_at: new Date() }).execute();
  const { cookie } = await ks.services.sessions.create(account.id, { remember: true });
  const host = new URL(ks.url).hostname;

  for (const locale of SUPPORTED_LOCALES) {
    const context = await browser.newContext({ bypassCSP: true, acceptDownloads: true });
    const page = await context.newPage();
    const found: string[] = [];
    const visit = async (label: string, go: () => Promise<unknown>) => {
      await go();
      await page.waitForLoadState('load');
      for (const v of await serious(page)) found.push(`${label}: ${v}`);
    };
    const clickOpen = (file: string) => async () => {
      await page.goto(file);
      await Promise.all([page.waitForURL(/^http:/), page.locator('form button[type=submit]').click()]);
    };
    await visit('sign in', () => page.goto(`${ks.url}/signin?lang=${locale}`));
    t.equal(await page.getAttribute('html', 'lang'), locale, `${locale}: the page is in the chosen language`);
    await visit('register', () => page.goto(`${ks.url}/register`));
    await visit('reset', () => page.goto(`${ks.url}/reset`));
    await visit('verify', () => page.goto(`${ks.url}/verify`));
    await visit('unknown envelope', () => page.goto(`${ks.url}/open/${randomBytes(16).toString('base64url')}`));
    await visit('no opening', () => page.goto(`${ks.url}/open/${open.id}`));
    await visit('locked', clickOpen(locked.url));
    await visit('expired', clickOpen(expired.url));
    await visit('reader, applet', async () => {
      await clickOpen(open.url)();
      await page.frameLocator('iframe.message-frame').locator('img').first().waitFor();
    });
    await visit('reader, server mode', clickOpen(server.url));
    await context.addCookies([{ name: SESSION_COOKIE, value: cookie, domain: host, path: '/', secure: true, httpOnly: true, sameSite: 'Lax' }]);
    await visit('account', () => page.goto(`${ks.url}/account`));
    await visit('not a recipient', clickOpen(medium.url));
    await visit('re-authenticate', () => page.goto(`${ks.url}/signin?next=/account&reauth=1`));
    t.same(found, [], `${locale}: no serious or critical findings`);
    await context.close();
  }
});
