// The message view in real headless Chromium, on a small fastify app that hosts only the reader
// (src/reader/reader-pages.ts and the /assets/reader.js bundle), a key endpoint and payloads:
// no database, no opening flow. Envelopes are sealed here with sealEnvelope.
//
// What this proves:
// - applet mode decrypts in the browser (AES-256 through WebCrypto, AES-192 through the pure-JS
//   fallback), shows the message's own headers and text, and every attachment and the whole
//   message download byte-identical (Blob URLs); the secret leaves the address bar, survives a
//   reload, and never reaches a server; payloads on another origin work;
// - a hostile HTML message runs nothing (no script, handler, form, refresh) and loads nothing
//   remote until "Show images", then images only;
// - refused keys, unreachable or damaged payloads and a missing secret each show their message;
// - server mode, with JavaScript disabled in the browser, shows the same hostile message with
//   nothing remote loaded, and images only on its "show images" view;
// - printing shows the message and hides the rest.
import { createServer } from 'node:http';
import { PassThrough } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import t from 'tap';
import type { Browser, Page } from 'playwright-core';
import { generateEnvelopeKeys, sealEnvelope, type EnvelopeAlgorithm } from '../../src/crypto/envelope-crypto.ts';
import { createI18n } from '../../src/i18n/create-i18n.ts';
import { LOCALES_DIR, PUBLIC_DIR, VIEWS_DIR } from '../../src/paths.ts';
import { createPageRenderer } from '../../src/plugins/pages.ts';
import { READER_ASSETS, readerStartScriptCache } from '../../src/reader/bundle.ts';
import { appletReaderPage, serverReaderPage, type EnvelopeSummary } from '../../src/reader/reader-pages.ts';
import { assetRoutes } from '../../src/routes/assets.ts';
import { browserSkip, launchChromium } from '../helpers/chromium.ts';
import { attachmentsMessage, hostileMessage, leaf, message, multipart, PNG } from '../reader/fixtures.ts';

const skip = browserSkip();

type KeyAnswer = 'share' | 'refuse';
type PayloadAnswer = 'ok' | 'tampered' | 'missing' | 'cross-origin' | 'held' | 'held-tampered';

// 'held' payloads stop after their first 1.5 MB until the test lets the rest go, to see what
// the reader shows while a large message is still arriving.
const held = new Map<string, () => void>();
const HELD_BYTES = 1536 * 1024;

interface TestEnvelope {
  id: string;
  secret: string;
  share: string;
  algorithm: EnvelopeAlgorithm;
  raw: Buffer;
  sealed: Uint8Array;
  key: KeyAnswer;
  payload: PayloadAnswer;
}

async function seal(raw: Buffer, algorithm: EnvelopeAlgorithm, key: KeyAnswer = 'share', payload: PayloadAnswer = 'ok'): Promise<TestEnvelope> {
  const keys = generateEnvelopeKeys();
  const sealed = await sealEnvelope({ ...keys, algorithm, recordSize: 4096 }, raw);
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
  return { id: b64(keys.envelopeId), secret: b64(keys.envelopeSecret), share: b64(keys.serverShare), algorithm, raw, sealed, key, payload };
}

function summaryOf(e: TestEnvelope): EnvelopeSummary {
  return { envelopeId: e.id, sender: 'Alice Sender <alice@waxseal.test>', to: ['bob@example.org'], cc: [], subject: null, sentAt: new Date(), expiresAt: null, securityLevel: 'none' };
}

/** Everything the servers received, to prove the envelope secret never reached one. */
const received: string[] = [];

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

async function startApps(envelopes: Map<string, TestEnvelope>) {
  const payloads = Fastify();
  payloads.addHook('onRequest', async (request) => void received.push(`payloads ${request.method} ${request.url} ${JSON.stringify(request.headers)}`));
  payloads.get('/p/:id', async (request, reply) => {
    const e = envelopes.get((request.params as { id: string }).id);
    if (!e) return reply.code(404).send();
    return reply.header('access-control-allow-origin', '*').type('application/octet-stream').send(Buffer.from(e.sealed));
  });
  const payloadOrigin = await listen(payloads);

  const app = Fastify();
  const pages = createPageRenderer({ i18n: createI18n(LOCALES_DIR), views: VIEWS_DIR });
  app.addHook('onRequest', async (request) => void received.push(`app ${request.method} ${request.url} ${JSON.stringify(request.headers)}`));
  app.addHook('preHandler', async (request) => void received.push(`body ${JSON.stringify(request.body ?? null)}`));
  await app.register(assetRoutes, { publicDir: PUBLIC_DIR, lazy: READER_ASSETS });
  const startScript = readerStartScriptCache();
  app.get('/open/:id', async (request, reply) => {
    const e = envelopes.get((request.params as { id: string }).id)!;
    const payloadUrl = e.payload === 'cross-origin' ? `${payloadOrigin}/p/${e.id}` : `/payloads/${e.id}`;
    return pages.send(request, reply, appletReaderPage({ locale: 'en', summary: summaryOf(e), keyUrl: `/open/${e.id}/key`, payloadUrl, offline: 'none', startScript: await startScript() }));
  });
  app.post('/open/:id/key', async (request, reply) => {
    const e = envelopes.get((request.params as { id: string }).id)!;
    if (e.key === 'refuse') {
      return reply.code(403).type('application/problem+json').send({ type: 'about:blank', status: 403, title: 'The sender has locked this message', detail: "The sender's reason: sent by mistake" });
    }
    return { share: e.share, algorithm: e.algorithm };
  });
  app.get('/payloads/:id', async (request, reply) => {
    const e = envelopes.get((request.params as { id: string }).id)!;
    if (e.payload === 'missing') return reply.code(404).send();
    const bytes = Buffer.from(e.sealed);
    if (e.payload === 'tampered' || e.payload === 'held-tampered') bytes[bytes.length - 20]! ^= 0x01;
    if (e.payload === 'held' || e.payload === 'held-tampered') {
      const body = new PassThrough();
      body.write(bytes.subarray(0, HELD_BYTES));
      held.set(e.id, () => body.end(bytes.subarray(HELD_BYTES)));
      return reply.type('application/octet-stream').header('content-length', bytes.length).send(body);
    }
    return reply.type('application/octet-stream').send(bytes);
  });
  app.get('/server/:id', async (request, reply) => {
    const e = envelopes.get((request.params as { id: string }).id)!;
    const images = (request.query as { images?: string }).images === '1';
    return pages.send(request, reply, await serverReaderPage({ locale: 'en', summary: summaryOf(e), raw: e.raw, showRemoteImages: images, basePath: `/server/${e.id}` }));
  });
  const url = await listen(app);
  return { url, close: async () => void (await Promise.all([app.close(), payloads.close()])) };
}

/** A stand-in for the internet: counts every request a message makes. */
async function startInternet() {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    if ((req.url ?? '').startsWith('/img-')) res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
    else res.writeHead(200, { 'content-type': 'text/plain' }).end('x');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function download(page: Page, click: () => Promise<void>): Promise<{ name: string; bytes: Buffer }> {
  const [dl] = await Promise.all([page.waitForEvent('download'), click()]);
  return { name: dl.suggestedFilename(), bytes: readFileSync((await dl.path())!) };
}

t.test('the message view in Chromium', { skip }, async (t) => {
  const internet = await startInternet();
  const { raw: attachmentsRaw, files } = attachmentsMessage();
  const cidMessage = message(
    { subject: 'Site photo', cc: 'Dana <dana@example.org>' },
    multipart('related', [
      leaf('text/html; charset=utf-8', '<html><head><style>.big { color: rgb(200, 0, 0) }</style></head><body><p class="big">The front of the site:</p><img id="photo" src="cid:front@waxseal.test" alt="front"></body></html>'),
      leaf('image/png', PNG, [['Content-ID', '<front@waxseal.test>'], ['Content-Disposition', 'inline; filename="front.png"']]),
    ]),
  );
  // Large enough for the two-step view: head and text first, then every attachment.
  const bigFile = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 2654435761) >>> 24));
  const largeMessage = message(
    { subject: 'Drawings' },
    multipart('mixed', [leaf('text/plain; charset=utf-8', 'The drawings are attached.'), leaf('application/octet-stream', bigFile, [['Content-Disposition', 'attachment; filename="drawings.bin"']])]),
  );
  // A text longer than the first tries at the two-step view: it must never be shown cut short.
  const longText = `${'Every clause of the contract is quoted below for the record.\n'.repeat(5000)}End of the long letter.`;
  const longTextMessage = message(
    { subject: 'Contract' },
    multipart('mixed', [leaf('text/plain; charset=utf-8', longText), leaf('application/octet-stream', bigFile, [['Content-Disposition', 'attachment; filename="contract.bin"']])]),
  );
  const list = await Promise.all([
    seal(attachmentsRaw, 'aes-256-gcm'),
    seal(cidMessage, 'aes-192-gcm', 'share', 'cross-origin'),
    seal(hostileMessage(internet.origin), 'aes-256-gcm'),
    seal(attachmentsRaw, 'aes-256-gcm', 'share', 'tampered'),
    seal(attachmentsRaw, 'aes-256-gcm', 'refuse'),
    seal(attachmentsRaw, 'aes-256-gcm', 'share', 'missing'),
    seal(largeMessage, 'aes-256-gcm', 'share', 'held'),
    seal(largeMessage, 'aes-256-gcm', 'share', 'held-tampered'),
    seal(longTextMessage, 'aes-256-gcm', 'share', 'held'),
  ]);
  const [plain, aes192, hostile, tampered, refused, missing, large, largeTampered, longLetter] = list as [TestEnvelope, TestEnvelope, TestEnvelope, TestEnvelope, TestEnvelope, TestEnvelope, TestEnvelope, TestEnvelope, TestEnvelope];
  const apps = await startApps(new Map(list.map((e) => [e.id, e])));
  const browser: Browser = await launchChromium();
  t.teardown(async () => {
    await browser.close();
    await apps.close();
    await internet.close();
  });
  const errors: string[] = [];
  const newPage = async (options: { javaScriptEnabled?: boolean } = {}) => {
    const context = await browser.newContext({ acceptDownloads: true, ...options });
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    return page;
  };

  await t.test('AES-256: headers, text, every attachment and the .eml byte-identical', async (t) => {
    const page = await newPage();
    await page.goto(`${apps.url}/open/${plain.id}#${plain.secret}`);
    await page.getByText('Three reports attached.').waitFor();
    t.equal(await page.locator('#subject').textContent(), 'Reports for review', "the subject from the message's own headers");
    t.equal(await page.locator('#from').textContent(), 'Alice Sender <alice@waxseal.test>');
    t.equal(await page.locator('#to').textContent(), 'Bob Recipient <bob@example.org>');
    t.equal(await page.locator('#cc').textContent(), 'Dana <dana@example.org>');
    t.match(await page.locator('#date').textContent(), /2026/);
    t.equal(await page.locator('#status').textContent(), 'Your message is open.', 'the live region says the message is open');
    t.notMatch(page.url(), /#/, 'the secret is gone from the address bar');
    t.match(await page.locator('#attachments').textContent(), /\(application\/octet-stream, 70 kB\)/, 'type and size listed');

    for (const f of files) {
      const got = await download(page, () => page.getByRole('button', { name: f.filename, exact: true }).click());
      t.equal(got.name, f.filename, `${f.filename}: saved under its name`);
      t.ok(got.bytes.equals(f.bytes), `${f.filename}: byte-identical`);
    }
    const eml = await download(page, () => page.getByRole('button', { name: 'Download the whole message (.eml)' }).click());
    t.equal(eml.name, 'message.eml');
    t.ok(eml.bytes.equals(plain.raw), 'the .eml is the original message, byte for byte');

    await page.evaluate(() => {
      window.print = () => document.documentElement.setAttribute('data-printed', 'yes');
    });
    await page.getByRole('button', { name: 'Print' }).click();
    t.equal(await page.getAttribute('html', 'data-printed'), 'yes', 'Print opens the print dialog');
    await page.emulateMedia({ media: 'print' });
    t.ok(await page.getByText('Three reports attached.').isVisible(), 'printing shows the message');
    t.ok(await page.locator('#from').isVisible(), 'and its headers');
    for (const hidden of ['header.site', 'footer.site', '.actions', '#attachments-section', '#status']) t.notOk(await page.locator(hidden).isVisible(), `printing hides ${hidden}`);
    await page.emulateMedia({ media: 'screen' });

    await page.reload();
    await page.getByText('Three reports attached.').waitFor();
    t.pass('a reload opens the message again (the secret is kept for this tab)');
    await page.context().close();
  });

  await t.test('a large message: its text while the rest still downloads, then every attachment, whole', async (t) => {
    const page = await newPage();
    await page.goto(`${apps.url}/open/${large.id}#${large.secret}`);
    await page.getByText('The drawings are attached.').waitFor();
    // The rest is sent only below: the text above came from the first records.
    t.notOk(await page.locator('#attachments-section').isVisible(), 'no attachment is offered before the whole message is in');
    t.notOk(await page.getByRole('button', { name: 'Download the whole message (.eml)' }).isVisible(), 'nor the whole message');
    t.equal(await page.locator('#status').textContent(), 'Opening your message…', 'and the page still says it is opening');
    held.get(large.id)!();
    await page.locator('#status', { hasText: 'Your message is open.' }).waitFor();
    t.match(await page.locator('#attachments').textContent(), /drawings\.bin \(application\/octet-stream, 3(\.\d)? MB\)/, 'listed with its whole size once parsed');
    const got = await download(page, () => page.getByRole('button', { name: 'drawings.bin', exact: true }).click());
    t.ok(got.bytes.equals(bigFile), 'the attachment beyond the first megabytes downloads byte-identical');
    const eml = await download(page, () => page.getByRole('button', { name: 'Download the whole message (.eml)' }).click());
    t.ok(eml.bytes.equals(large.raw), 'and the whole message, byte for byte');
    await page.context().close();
  });

  await t.test('a large message with a long text: the text shown first is the whole text', async (t) => {
    const page = await newPage();
    await page.goto(`${apps.url}/open/${longLetter.id}#${longLetter.secret}`);
    await page.locator('#from').getByText(/./).waitFor();
    // Shown while the rest is still held back (released only below).
    t.equal(await page.locator('#status').textContent(), 'Opening your message…');
    t.equal((await page.locator('pre.message-text').textContent())?.trimEnd(), longText, 'with every line of its text, none cut off');
    held.get(longLetter.id)!();
    await page.locator('#status', { hasText: 'Your message is open.' }).waitFor();
    t.match(await page.locator('#attachments').textContent(), /contract\.bin/);
    await page.context().close();
  });

  await t.test('a large message damaged near its end: the text shown first is withdrawn', async (t) => {
    const page = await newPage();
    await page.goto(`${apps.url}/open/${largeTampered.id}#${largeTampered.secret}`);
    await page.getByText('The drawings are attached.').waitFor();
    held.get(largeTampered.id)!();
    const alert = page.getByRole('alert');
    await alert.getByText(/./).first().waitFor();
    t.match(await alert.textContent(), /the attachment is damaged or was changed/, 'the reader is told');
    t.notOk(await page.locator('#message').isVisible(), 'the message is no longer shown');
    t.equal(await page.locator('#body').innerHTML(), '', 'nor left in the page');
    await page.context().close();
  });

  await t.test('AES-192 (pure-JS fallback), payload on another origin, cid image, message styles', async (t) => {
    const page = await newPage();
    await page.goto(`${apps.url}/open/${aes192.id}#${aes192.secret}`);
    const frame = page.frameLocator('iframe.message-frame');
    await frame.getByText('The front of the site:').waitFor();
    t.equal(await page.locator('#subject').textContent(), 'Site photo');
    const photo = await frame.locator('#photo').evaluate((img: HTMLImageElement) => ({ width: img.naturalWidth, src: img.src.slice(0, 22) }));
    t.same(photo, { width: 2, src: 'data:image/png;base64,' }, 'the cid: image is shown from a data: URI');
    t.equal(await frame.locator('p.big').evaluate((p) => getComputedStyle(p).color), 'rgb(200, 0, 0)', "the message's own styles apply");
    t.equal(await page.locator('#attachments-section').isVisible(), false, 'an inline image is not an attachment');
    await page.context().close();
  });

  await t.test('hostile HTML: nothing runs, nothing loads until Show images, then images only', async (t) => {
    const page = await newPage();
    await page.goto(`${apps.url}/open/${hostile.id}#${hostile.secret}`);
    const frame = page.frameLocator('iframe.message-frame');
    await frame.getByText('Quarterly results attached.').waitFor();
    await frame.locator('#jslink').click();
    await frame.locator('td').hover();
    await page.waitForTimeout(500);
    t.same(internet.hits, [], 'nothing was requested from the "internet"');
    t.equal(await page.evaluate(() => window.name), '', 'no script or handler ran (it would have named the window)');
    t.equal(await page.title(), 'Secure message', 'the page title is untouched');
    t.equal(await frame.locator('form, input, button, script, iframe, object, embed, svg').count(), 0, 'no form, control, script, frame, object or svg in the frame');
    const sandbox = await page.locator('iframe.message-frame').getAttribute('sandbox');
    t.equal(sandbox, 'allow-popups allow-popups-to-escape-sandbox');
    t.ok(await page.getByText('Images from the internet are blocked to protect your privacy.').isVisible(), 'the notice is shown');

    await page.getByRole('button', { name: 'Show images' }).click();
    await frame.getByText('Quarterly results attached.').waitFor();
    await page.waitForFunction(() => true);
    for (let i = 0; i < 50 && !internet.hits.includes('/img-tracker.png'); i++) await page.waitForTimeout(100);
    t.ok(internet.hits.length > 0, `remote images load once the reader asks (${internet.hits.length} requests)`);
    t.ok(internet.hits.includes('/img-tracker.png'), 'the <img> among them');
    t.same(internet.hits.filter((h) => !h.startsWith('/img-')), [], 'and nothing but images: no script, handler, form, refresh, style sheet or frame');
    t.equal(await page.evaluate(() => window.name), '', 'still no script ran');
    t.notOk(await page.getByText('Images from the internet are blocked').isVisible(), 'the notice is gone');
    internet.hits.length = 0;
    await page.context().close();
  });

  await t.test('failures each show their message', async (t) => {
    const cases: [string, string, RegExp][] = [
      ['damaged payload', `/open/${tampered.id}#${tampered.secret}`, /This secure message cannot be opened: the attachment is damaged or was changed/],
      ['refused key', `/open/${refused.id}#${refused.secret}`, /The sender has locked this message[\s\S]*sent by mistake/],
      ['payload not found', `/open/${missing.id}#${missing.secret}`, /The encrypted message could not be downloaded/],
      ['secret missing', `/open/${plain.id}`, /opened without the key[\s\S]*Open the secure message attachment from the email again/],
    ];
    for (const [name, path, expected] of cases) {
      const page = await newPage();
      await page.goto(`${apps.url}${path}`);
      const alert = page.getByRole('alert');
      await alert.getByText(/./).first().waitFor();
      t.match(await alert.textContent(), expected, `${name}: the reader is told`);
      t.notOk(await page.locator('#status').isVisible(), `${name}: no longer "opening"`);
      t.notOk(await page.locator('#message').isVisible(), `${name}: no message`);
      await page.context().close();
    }
  });

  await t.test('server mode with JavaScript disabled: the text shows, nothing remote loads', async (t) => {
    const page = await newPage({ javaScriptEnabled: false });
    await page.goto(`${apps.url}/server/${hostile.id}`);
    const frame = page.frameLocator('iframe.message-frame');
    await frame.getByText('Quarterly results attached.').waitFor();
    t.equal(await page.locator('script').count(), 0, 'the page has no script');
    await page.waitForTimeout(500);
    t.same(internet.hits, [], 'nothing was requested from the "internet"');
    t.equal(await frame.locator('form, input, button, script, iframe, object, embed, svg').count(), 0);
    await Promise.all([page.waitForURL(/images=1/), page.getByRole('link', { name: 'Show images' }).click()]);
    await frame.getByText('Quarterly results attached.').waitFor();
    for (let i = 0; i < 50 && !internet.hits.includes('/img-tracker.png'); i++) await page.waitForTimeout(100);
    t.ok(internet.hits.includes('/img-tracker.png'), 'images load on the view that shows them');
    t.same(internet.hits.filter((h) => !h.startsWith('/img-')), [], 'and nothing else');
    await page.context().close();
  });

  t.same(errors, [], 'no page errors');
  const log = received.join('\n');
  for (const e of list) t.notOk(log.includes(e.secret), `the envelope secret of ${e.id} never reached a server`);
});
