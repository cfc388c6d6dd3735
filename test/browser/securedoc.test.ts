// securedoc.html in real headless Chromium, opened from a file:// URL as a recipient would open
// the attachment, posting to a real local HTTP server that stands in for the key service.
//
// What this proves (protocol principles 3, 4 and 5: passphrases only on the key service,
// the secret in the fragment when the browser decrypts, JS-free envelopes):
// - the page asks for nothing (no text or password input) and loads nothing from the network;
// - its CSP holds: the hashed style and script run, nothing is reported as blocked;
// - applet mode: the envelope secret reaches the key service's page only as the URL fragment,
//   never in the request the server receives;
// - server and no-script modes, and applet mode without JavaScript: the secret is posted as a
//   field, and no-script/server pages contain no script at all;
// - the Open button is reachable and usable with the keyboard.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';
import t from 'tap';
import type { Test } from 'tap';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { buildSecuredoc } from '../../src/envelope/securedoc.ts';
import type { SecuredocInput, SecuredocMode } from '../../src/envelope/securedoc.ts';
import { createI18n } from '../../src/i18n/create-i18n.ts';
import type { Locale } from '../../src/i18n/locales.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../../src/paths.ts';
import { browserSkip, launchChromium } from '../helpers/chromium.ts';

const skip = browserSkip();
const deps = { i18n: createI18n(LOCALES_DIR), views: VIEWS_DIR };
const LOCALES: Locale[] = ['en', 'ja', 'ru', 'de'];

// ---------------------------------------------------------------------------------------------
// Fixtures

/** A real, decodable 1x1 PNG (one opaque teal pixel), built chunk by chunk. */
function tinyPng(): Uint8Array {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(1, 0); // width
  header.writeUInt32BE(1, 4); // height
  header[8] = 8; // bit depth
  header[9] = 6; // colour type: RGBA
  // compression, filter and interlace methods stay 0
  const scanline = Buffer.from([0, 0x00, 0x80, 0x80, 0xff]); // filter byte, then R G B A
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', header),
      chunk('IDAT', deflateSync(scanline)),
      chunk('IEND', Buffer.alloc(0)),
    ]),
  );
}
const PNG = tinyPng();

const SENDER = 'Ana Pérez <ana@example.org>';
const TO = ['山田 太郎 <taro@example.jp>', 'Иван Петров <ivan@example.ru>'];
const CC = ['Jörg Müller <joerg@example.de>'];

/** The button label the page must show, read from the shipped translations. */
function buttonLabel(locale: Locale, mode: SecuredocMode): string {
  const file = JSON.parse(readFileSync(join(LOCALES_DIR, locale, 'envelope.json'), 'utf8')) as {
    securedoc: { open: string; openOnline: string };
  };
  return mode === 'no-script' ? file.securedoc.openOnline : file.securedoc.open;
}

// ---------------------------------------------------------------------------------------------
// The stand-in key service

interface Received {
  method: string;
  path: string;
  contentType: string;
  origin: string | undefined;
  referer: string | undefined;
  body: string;
}

interface FakeKeyService {
  origin: string;
  host: string;
  requests: Received[];
  close(): Promise<void>;
}

// What the key service answers to POST /open/:id. It shows the page's own location.hash, the
// place where the real key service's script finds the envelope secret. The data: icon keeps
// the browser from asking for /favicon.ico.
const OPENED_PAGE = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Key service</title></head>
<body><p id="opened">opened</p>
<script>document.body.dataset.hash = location.hash; document.body.dataset.ready = "1";</script>
</body></html>`;

async function startFakeKeyService(): Promise<FakeKeyService> {
  const requests: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        contentType: req.headers['content-type'] ?? '',
        origin: req.headers.origin,
        referer: req.headers.referer,
        body: Buffer.concat(chunks).toString('latin1'),
      });
      if (req.method === 'POST' && /^\/open\/[A-Za-z0-9_-]{22}$/.test(path)) {
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; img-src data:",
          'cache-control': 'no-store',
        });
        res.end(OPENED_PAGE);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Shared browser, server and temporary folder, started only if a browser test runs

let browser: Promise<Browser> | null = null;
let keyService: Promise<FakeKeyService> | null = null;
let tmp: string | null = null;

const getBrowser = (): Promise<Browser> => (browser ??= launchChromium());
const getKeyService = (): Promise<FakeKeyService> => (keyService ??= startFakeKeyService());
const getTmp = (): string => (tmp ??= mkdtempSync(join(tmpdir(), 'waxseal-securedoc-')));

t.teardown(async () => {
  if (browser) await (await browser).close();
  if (keyService) await (await keyService).close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Opening an envelope

interface OpenOptions {
  mode: SecuredocMode;
  locale: Locale;
  javaScriptEnabled: boolean;
  logoLink?: string;
  /** changes the generated page before it is written (for the negative control only) */
  tamper?: (html: string) => string;
  /** another key service URL than the stand-in server's (nothing need answer there) */
  keyServiceUrl?: string;
}

interface Opened {
  locale: Locale;
  page: Page;
  context: BrowserContext;
  ks: FakeKeyService;
  html: string;
  envelopeId: string;
  /** base64url, as the page carries it */
  secret: string;
  secretBytes: Buffer;
  payload: Buffer;
  /** POST action without fragment */
  action: string;
  fileUrl: string;
  button: Locator;
  /** console messages reporting a CSP violation, over the whole life of the page */
  cspConsole: string[];
  /** every request the page made, as "METHOD url" */
  pageRequests: { method: string; url: string }[];
}

// Records securitypolicyviolation events from the very start of every document.
const VIOLATION_RECORDER = `
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', function (e) {
    window.__cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline'));
  }, true);
`;

async function openEnvelope(options: OpenOptions): Promise<Opened> {
  const [b, ks] = await Promise.all([getBrowser(), getKeyService()]);
  ks.requests.length = 0;

  const secretBytes = randomBytes(32);
  const envelopeId = randomBytes(16).toString('base64url');
  const payload = randomBytes(300);
  const input: SecuredocInput = {
    locale: options.locale,
    envelopeId,
    envelopeSecret: new Uint8Array(secretBytes),
    keyServiceUrl: options.keyServiceUrl ?? ks.origin,
    sender: SENDER,
    to: TO,
    cc: CC,
    date: new Date('2025-03-01T09:30:00Z'),
    subject: 'Quarterly figures',
    securityLevel: 'high',
    mode: options.mode,
    logo: { mediaType: 'image/png', data: PNG },
    logoLink: options.logoLink ?? null,
    payload: { kind: 'inline', ciphertext: new Uint8Array(payload) },
    expiresAt: new Date('2025-04-01T00:00:00Z'),
  };
  let html = buildSecuredoc(input, deps);
  if (options.tamper) html = options.tamper(html);
  const file = join(getTmp(), `${envelopeId}-${options.mode}-${options.locale}.html`);
  writeFileSync(file, html, 'ascii');
  const fileUrl = pathToFileURL(file).href;

  const context = await b.newContext({ javaScriptEnabled: options.javaScriptEnabled });
  await context.addInitScript(VIOLATION_RECORDER);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const cspConsole: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) cspConsole.push(message.text());
  });
  const pageRequests: { method: string; url: string }[] = [];
  page.on('request', (request) => pageRequests.push({ method: request.method(), url: request.url() }));

  await page.goto(fileUrl, { waitUntil: 'load' });
  return {
    locale: options.locale,
    page,
    context,
    ks,
    html,
    envelopeId,
    secret: secretBytes.toString('base64url'),
    secretBytes,
    payload,
    action: `${options.keyServiceUrl ?? ks.origin}/open/${envelopeId}`,
    fileUrl,
    button: page.getByRole('button', { name: buttonLabel(options.locale, options.mode), exact: true }),
    cspConsole,
    pageRequests,
  };
}

/** Violations reported to the page's own securitypolicyviolation listener (JavaScript on). */
async function recordedViolations(page: Page): Promise<string[]> {
  // Violation events are queued as tasks; let them run first.
  return page.evaluate(
    () =>
      new Promise<string[]>((resolve) => {
        setTimeout(() => resolve((window as unknown as { __cspViolations?: string[] }).__cspViolations ?? []), 50);
      }),
  );
}

/** Submits the form (by clicking, or by the given action) and waits for the key service page. */
async function submit(opened: Opened, act: () => Promise<void> = () => opened.button.click()): Promise<{
  received: Received;
  fields: URLSearchParams;
  url: URL;
}> {
  const { page, ks } = opened;
  const arrived = page.waitForURL((url) => url.origin === ks.origin, { waitUntil: 'load' });
  await act();
  await arrived;
  await page.locator('#opened').waitFor();
  const posts = ks.requests.filter((r) => r.method === 'POST');
  const received = posts.at(-1);
  if (!received) throw new Error('the key service received no POST');
  return { received, fields: new URLSearchParams(received.body), url: new URL(page.url()) };
}

/** Tab from the top of the page until the Open button has focus; fails after 30 presses. */
async function tabToButton(opened: Opened): Promise<number> {
  for (let presses = 1; presses <= 30; presses++) {
    await opened.page.keyboard.press('Tab');
    if (await opened.button.evaluate((el) => el === document.activeElement)) return presses;
  }
  throw new Error('the Open button never received keyboard focus');
}

// ---------------------------------------------------------------------------------------------
// Shared assertions

/** The envelope page before submitting: content, no inputs, logo, CSP quiet, nothing loaded. */
async function checkEnvelopePage(t: Test, opened: Opened, javaScriptEnabled: boolean): Promise<void> {
  const { page, button, ks } = opened;
  t.equal(new URL(page.url()).protocol, 'file:', 'opened from a file:// URL');
  t.equal(await page.locator('html').getAttribute('lang'), opened.locale, 'the page declares its language');

  const text = (await page.locator('body').innerText()).replace(/\s+/g, ' ');
  t.ok(text.includes(SENDER), 'shows the sender');
  for (const recipient of [...TO, ...CC]) t.ok(text.includes(recipient), `shows the recipient ${recipient}`);
  t.ok(text.includes(ks.host), 'shows the key service host');

  t.equal(await page.locator('input[type=password]').count(), 0, 'no password input');
  t.equal(
    await page.locator('input:not([type=hidden]), textarea, select, [contenteditable]').count(),
    0,
    'every input is hidden: nothing to type into',
  );
  t.equal(await page.getByRole('textbox').count(), 0, 'no textbox in the accessibility tree');
  t.equal(await page.locator('input[type=hidden][name=secret]').count(), 1, 'the secret is a hidden field before submitting');
  t.equal(await button.count(), 1, 'exactly one Open button, found by role and localized name');
  t.ok(await button.isVisible(), 'the Open button is visible');

  const logo = page.locator('header img');
  t.equal(await logo.count(), 1, 'one logo');
  t.equal(
    await logo.evaluate((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth),
    1,
    'the PNG logo decoded from its data: URI (CSP allows it)',
  );

  if (javaScriptEnabled) t.same(await recordedViolations(page), [], 'no securitypolicyviolation event');
  t.same(opened.cspConsole, [], 'no CSP violation on the console');
  t.same(
    opened.pageRequests.filter((r) => !r.url.startsWith('file:')),
    [],
    'the page loaded nothing but its own file',
  );
  t.same(ks.requests, [], 'the key service heard nothing before the click');
}

/** After submitting: one request, the form POST, and nothing else, from page or browser. */
function checkOnlyThePost(t: Test, opened: Opened, received: Received): void {
  t.same(
    opened.ks.requests.map((r) => `${r.method} ${r.path}`),
    [`POST /open/${opened.envelopeId}`],
    'the key service received exactly one request: POST /open/:id',
  );
  t.equal(received.contentType, 'application/x-www-form-urlencoded', 'an ordinary urlencoded form post');
  // What the key service's open route must accept: a file:// page has an opaque origin.
  t.equal(received.origin, 'null', 'Origin: null (the file:// page has an opaque origin)');
  t.equal(received.referer, undefined, 'no Referer: the local file path is not disclosed');
  t.same(
    opened.pageRequests.filter((r) => !r.url.startsWith('file:')),
    [{ method: 'POST', url: opened.action }],
    'the only network request is the form POST (no fragment, no query)',
  );
  t.same(opened.cspConsole, [], 'no CSP violation on the console, up to and after the POST');
}

function checkPayload(t: Test, opened: Opened, fields: URLSearchParams): void {
  t.equal(fields.get('v'), '1', 'format version field');
  const posted = fields.get('payload');
  t.ok(posted, 'the payload field was posted');
  t.equal((posted ?? '').replace(/\s+/g, ''), opened.payload.toString('base64'), 'the posted payload is the inline ciphertext');
}

/** The secret must appear in no form in what the server received. */
function checkSecretNotSent(t: Test, opened: Opened, received: Received, fields: URLSearchParams): void {
  const forms: [string, string][] = [
    ['base64url', opened.secret],
    ['base64', opened.secretBytes.toString('base64')],
    ['urlencoded base64', encodeURIComponent(opened.secretBytes.toString('base64'))],
    ['hex', opened.secretBytes.toString('hex')],
  ];
  for (const [name, form] of forms) t.notOk(received.body.includes(form), `the POST body does not contain the secret (${name})`);
  t.notOk(received.path.includes(opened.secret), 'the request path does not contain the secret');
  t.notOk(/(^|&)secret=/.test(received.body), 'no secret= field in the POST body');
  t.notOk(fields.has('secret'), 'the parsed form has no secret');
}

async function checkSecretInFragment(t: Test, opened: Opened, url: URL): Promise<void> {
  t.equal(opened.page.url(), `${opened.action}#${opened.secret}`, 'the key service page URL is /open/:id#<secret>');
  t.equal(url.hash, `#${opened.secret}`, 'the fragment is exactly the secret');
  t.equal(
    await opened.page.locator('body').getAttribute('data-hash'),
    `#${opened.secret}`,
    "the key service page's own script reads the secret from location.hash",
  );
}

function checkSecretPosted(t: Test, opened: Opened, received: Received, fields: URLSearchParams, url: URL): void {
  t.ok(received.body.includes(`secret=${opened.secret}`), 'the POST body carries secret=<the secret>');
  t.equal(fields.get('secret'), opened.secret, 'the posted secret field is the envelope secret');
  t.equal(url.hash, '', 'no fragment on the key service page');
  t.equal(opened.page.url(), opened.action, 'the key service page URL is exactly /open/:id');
}

// ---------------------------------------------------------------------------------------------
// Tests

t.test('applet mode: the secret travels only in the URL fragment', { skip }, async (t) => {
  for (const locale of LOCALES) {
    await t.test(locale, async (t) => {
      const opened = await openEnvelope({ mode: 'applet', locale, javaScriptEnabled: true });
      t.teardown(() => opened.context.close());
      t.equal(await opened.page.locator('script').count(), 1, 'the applet page has its one inline script');
      await checkEnvelopePage(t, opened, true);

      const { received, fields, url } = await submit(opened);
      checkOnlyThePost(t, opened, received);
      checkSecretNotSent(t, opened, received, fields);
      await checkSecretInFragment(t, opened, url);
      checkPayload(t, opened, fields);
      t.equal(fields.get('mode'), 'applet', 'mode field says applet');
    });
  }
});

t.test('applet mode: opening again after going back still keeps the secret out of the request', { skip }, async (t) => {
  const opened = await openEnvelope({ mode: 'applet', locale: 'en', javaScriptEnabled: true });
  t.teardown(() => opened.context.close());
  const first = await submit(opened);
  checkSecretNotSent(t, opened, first.received, first.fields);
  await checkSecretInFragment(t, opened, first.url);

  await opened.page.goBack({ waitUntil: 'load' });
  t.equal(opened.page.url(), opened.fileUrl, 'back on the envelope page');
  const second = await submit(opened);
  t.equal(opened.ks.requests.filter((r) => r.method === 'POST').length, 2, 'two POSTs in all');
  checkSecretNotSent(t, opened, second.received, second.fields);
  await checkSecretInFragment(t, opened, second.url);
  checkPayload(t, opened, second.fields);
  t.same(opened.cspConsole, [], 'no CSP violation');
});

t.test('server mode: the secret is posted and the page has no script', { skip }, async (t) => {
  for (const locale of LOCALES) {
    await t.test(locale, async (t) => {
      const opened = await openEnvelope({ mode: 'server', locale, javaScriptEnabled: true });
      t.teardown(() => opened.context.close());
      t.equal(await opened.page.locator('script').count(), 0, 'no script element in the page');
      t.notOk(/<script/i.test(opened.html), 'no <script in the file');
      await checkEnvelopePage(t, opened, true);

      const { received, fields, url } = await submit(opened);
      checkOnlyThePost(t, opened, received);
      checkSecretPosted(t, opened, received, fields, url);
      checkPayload(t, opened, fields);
      t.equal(fields.get('mode'), 'server', 'mode field says server');
    });
  }
});

t.test('no-script mode: "Open Online" posts the secret with JavaScript disabled', { skip }, async (t) => {
  for (const locale of LOCALES) {
    await t.test(locale, async (t) => {
      const opened = await openEnvelope({ mode: 'no-script', locale, javaScriptEnabled: false });
      t.teardown(() => opened.context.close());
      t.equal(await opened.page.locator('script').count(), 0, 'no script element in the page');
      t.notOk(/<script/i.test(opened.html), 'no <script in the file');
      t.equal(
        (await opened.page.locator('form button').innerText()).trim(),
        buttonLabel(locale, 'no-script'),
        'the button label is the localized "Open Online"',
      );
      await checkEnvelopePage(t, opened, false);

      const { received, fields, url } = await submit(opened);
      checkOnlyThePost(t, opened, received);
      checkSecretPosted(t, opened, received, fields, url);
      checkPayload(t, opened, fields);
      t.equal(fields.get('mode'), 'no-script', 'mode field says no-script');
    });
  }

  await t.test('with JavaScript enabled it behaves the same', async (t) => {
    const opened = await openEnvelope({ mode: 'no-script', locale: 'en', javaScriptEnabled: true });
    t.teardown(() => opened.context.close());
    await checkEnvelopePage(t, opened, true);
    const { received, fields, url } = await submit(opened);
    checkOnlyThePost(t, opened, received);
    checkSecretPosted(t, opened, received, fields, url);
  });
});

t.test('applet mode with JavaScript disabled falls back to posting the secret', { skip }, async (t) => {
  for (const locale of ['en', 'ja'] as const) {
    await t.test(locale, async (t) => {
      const opened = await openEnvelope({ mode: 'applet', locale, javaScriptEnabled: false });
      t.teardown(() => opened.context.close());
      await checkEnvelopePage(t, opened, false);

      const { received, fields, url } = await submit(opened);
      checkOnlyThePost(t, opened, received);
      // By design: without script the key service opens the message itself (server-side).
      checkSecretPosted(t, opened, received, fields, url);
      checkPayload(t, opened, fields);
      t.equal(fields.get('mode'), 'applet', 'mode field still says applet');
    });
  }
});

t.test('keyboard: Tab reaches the Open button and Enter submits', { skip }, async (t) => {
  await t.test('applet, past the logo link', async (t) => {
    const opened = await openEnvelope({
      mode: 'applet',
      locale: 'de',
      javaScriptEnabled: true,
      logoLink: 'https://www.example.org/',
    });
    t.teardown(() => opened.context.close());
    await checkEnvelopePage(t, opened, true);
    const presses = await tabToButton(opened);
    t.equal(presses, 2, 'two Tabs: the logo link, then the Open button');
    const { received, fields, url } = await submit(opened, () => opened.page.keyboard.press('Enter'));
    checkOnlyThePost(t, opened, received);
    checkSecretNotSent(t, opened, received, fields);
    await checkSecretInFragment(t, opened, url);
  });

  await t.test('no-script, JavaScript disabled', async (t) => {
    const opened = await openEnvelope({ mode: 'no-script', locale: 'ru', javaScriptEnabled: false });
    t.teardown(() => opened.context.close());
    const presses = await tabToButton(opened);
    t.equal(presses, 1, 'one Tab: the Open Online button is the first stop');
    const { received, fields, url } = await submit(opened, () => opened.page.keyboard.press('Enter'));
    checkOnlyThePost(t, opened, received);
    checkSecretPosted(t, opened, received, fields, url);
  });
});

// The checks above must notice a broken applet. Here the script's text no longer matches the
// hash in the page's CSP, so Chromium blocks it, as it would if the script or the policy were
// changed without the other: the violation is seen and the secret goes out as a field.
t.test('negative control: a blocked applet script is detected', { skip }, async (t) => {
  const opened = await openEnvelope({
    mode: 'applet',
    locale: 'en',
    javaScriptEnabled: true,
    tamper: (html) => {
      const changed = html.replace('"use strict";', '"use strict"; /* changed */');
      if (changed === html) throw new Error('tamper found nothing to change');
      return changed;
    },
  });
  t.teardown(() => opened.context.close());
  const violations = await recordedViolations(opened.page);
  t.ok(violations.some((v) => v.startsWith('script-src')), 'the securitypolicyviolation recorder saw the script blocked');
  t.ok(opened.cspConsole.length > 0, 'the console recorder saw the violation');
  const { received, fields, url } = await submit(opened);
  t.equal(fields.get('secret'), opened.secret, 'with the script blocked the secret is posted');
  t.equal(url.hash, '', 'and no fragment reaches the key service page');
  t.ok(received.body.includes(`secret=${opened.secret}`), 'so checkSecretNotSent would fail');
});

// A CSP host-source cannot be an IPv6 literal: Chromium reports "contains an invalid source ...
// It will be ignored", form-action becomes 'none', and the Open button does nothing. So such a
// URL must be refused when building, or (if that ever changes) its button must actually post.
t.test(
  'an IPv6 key service URL is refused, or its Open button works',
  { skip },
  async (t) => {
    let opened: Opened;
    try {
      opened = await openEnvelope({ mode: 'applet', locale: 'en', javaScriptEnabled: true, keyServiceUrl: 'http://[::1]:9' });
    } catch (error) {
      t.type(error, TypeError, 'buildSecuredoc refuses the URL');
      return;
    }
    t.teardown(() => opened.context.close());
    // Nothing listens on [::1]:9: the request is enough to show the browser let the form go.
    const posted = opened.page.waitForRequest((request) => request.method() === 'POST', { timeout: 5_000 }).then(
      () => true,
      () => false,
    );
    await opened.button.focus();
    await opened.page.keyboard.press('Enter');
    t.ok(await posted, 'the browser sent the form');
    t.same(opened.cspConsole, [], 'no CSP complaint about the form-action source');
  },
);
