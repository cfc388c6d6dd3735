// The reader pages as the key service sends them (through the real page renderer), without a
// database: server mode has no script and no script-src; applet mode names only its bundle and
// carries every label it needs; server-mode downloads are the exact bytes.
import { createHash } from 'node:crypto';
import Fastify from 'fastify';
import t from 'tap';
import { createI18n } from '../../src/i18n/create-i18n.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../../src/paths.ts';
import { createPageRenderer, type Page } from '../../src/plugins/pages.ts';
import { readerStartScriptCache } from '../../src/reader/bundle.ts';
import { appletReaderPage, serverAttachment, serverReaderPage, type EnvelopeSummary } from '../../src/reader/reader-pages.ts';
import { attachmentsMessage, hostileMessage, leaf, message, multipart, PNG } from './fixtures.ts';

const summary: EnvelopeSummary = {
  envelopeId: 'AAAAAAAAAAAAAAAAAAAAAA',
  sender: 'Alice Sender <alice@waxseal.test>',
  to: ['bob@example.org'],
  cc: [],
  subject: 'Reports for review',
  sentAt: new Date('2026-11-03T08:15:00Z'),
  expiresAt: null,
  securityLevel: 'medium',
};

async function send(page: Page | Promise<Page>): Promise<{ html: string; csp: string }> {
  const app = Fastify();
  const pages = createPageRenderer({ i18n: createI18n(LOCALES_DIR), views: VIEWS_DIR });
  const resolved = await page;
  app.get('/open/x', (request, reply) => pages.send(request, reply, resolved));
  const res = await app.inject({ url: '/open/x' });
  await app.close();
  t.equal(res.statusCode, 200);
  return { html: res.body, csp: String(res.headers['content-security-policy']) };
}

const decode = (s: string) => s.replace(/&#x3D;/g, '=').replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

t.test('server mode: a text message with attachments, no script at all', async (t) => {
  const { raw, files } = attachmentsMessage();
  const { html, csp } = await send(serverReaderPage({ locale: 'en', summary, raw, showRemoteImages: false, basePath: '/open/ID' }));
  t.notMatch(html, /<script/i, 'no script element');
  t.notMatch(csp, /script-src/, 'the CSP allows no script');
  t.notMatch(csp, /connect-src/, 'nor any connection');
  t.match(csp, /default-src 'none'/);
  t.match(html, /<h1 id="subject">Reports for review<\/h1>/, 'the subject from the message');
  t.match(html, /<dd>Dana &lt;dana@example.org&gt;<\/dd>/, 'Cc, escaped');
  t.match(html, /<pre class="message-text">Three reports attached\./, 'the text in a pre block');
  for (const [i, f] of files.entries()) t.ok(html.includes(`<a href="/open/ID/attachments/${i}" download="${f.filename}">${f.filename}</a>`), `${f.filename} links to its download`);
  t.match(html, /\(application\/octet-stream, 70 kB\)/, 'type and size');
  t.match(html, /href="\/open\/ID\/message.eml" download="message.eml">Download the whole message \(.eml\)</);
  t.match(decode(html), /use your browser's print command/);
});

t.test('server mode: text is escaped, never markup', async (t) => {
  const raw = message({ subject: '<i>s</i>' }, leaf('text/plain; charset=utf-8', '<img src=x onerror=alert(1)>\n'));
  const { html } = await send(serverReaderPage({ locale: 'en', summary, raw, showRemoteImages: false, basePath: '/open/ID' }));
  t.match(html, /&lt;img src&#x3D;x onerror&#x3D;alert\(1\)&gt;/);
  t.match(html, /<h1 id="subject">&lt;i&gt;s&lt;\/i&gt;<\/h1>/);
  t.notMatch(html, /<img src=x/);
});

t.test('server mode: hostile HTML in a sandboxed frame, remote images only on request', async (t) => {
  const raw = hostileMessage('http://tracker.example');
  const blocked = await send(serverReaderPage({ locale: 'en', summary, raw, showRemoteImages: false, basePath: '/open/ID' }));
  t.notMatch(blocked.html, /<script/i);
  t.notMatch(blocked.csp, /script-src/);
  t.match(blocked.html, /<iframe class="message-frame" title="Message text" sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer" srcdoc="/, 'a sandboxed srcdoc frame without scripts, forms or same-origin');
  const srcdoc = decode(/srcdoc="([^"]*)"/.exec(blocked.html)?.[1] ?? '');
  t.ok(srcdoc.startsWith(`<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:">`));
  t.notMatch(srcdoc, /tracker\.example/, 'no remote URL in the frame');
  t.match(blocked.html, /Images from the internet are blocked to protect your privacy\. <a class="button secondary" href="\/open\/ID\?images&#x3D;1">Show images<\/a>/);
  t.match(blocked.csp, /img-src 'self' data:(;|$)/, 'the page allows no remote image');
  t.match(blocked.csp, /style-src 'self' 'unsafe-inline'/, "the frame's inline styles need the page to allow them (a srcdoc frame inherits the page's CSP)");
  t.match(blocked.csp, /font-src data:/);

  const shown = await send(serverReaderPage({ locale: 'en', summary, raw, showRemoteImages: true, basePath: '/open/ID' }));
  t.match(shown.csp, /img-src 'self' data: https: http:/, 'remote images allowed on the page that shows them');
  t.match(decode(shown.html), /img-src data: https: http:/, 'and in the frame');
  t.notMatch(shown.html, /Show images/, 'no notice once shown');
  t.notMatch(shown.html, /<script/i);
});

t.test('server mode: cid images are inlined, not listed', async (t) => {
  const raw = message(
    {},
    multipart('related', [leaf('text/html; charset=utf-8', '<p>Logo</p><img src="cid:logo@x" alt="logo">'), leaf('image/png', PNG, [['Content-ID', '<logo@x>'], ['Content-Disposition', 'inline; filename="logo.png"']])]),
  );
  const { html } = await send(serverReaderPage({ locale: 'en', summary, raw, showRemoteImages: false, basePath: '/open/ID' }));
  t.match(decode(html), `src="data:image/png;base64,${PNG.toString('base64')}"`);
  t.notMatch(html, /attachments-heading/, 'no attachment list');
});

t.test('serverAttachment: the exact bytes, or null', async (t) => {
  const { raw, files } = attachmentsMessage();
  for (const [i, f] of files.entries()) {
    const found = await serverAttachment(raw, i);
    t.equal(found?.filename, f.filename);
    t.equal(found?.contentType, f.mimeType);
    t.ok(found && Buffer.from(found.bytes).equals(f.bytes), `${f.filename}: byte-identical`);
  }
  t.equal(await serverAttachment(raw, files.length), null);
  t.equal(await serverAttachment(raw, -1), null);
  t.equal(await serverAttachment(raw, 0.5), null);
});

t.test('applet mode: the start script by its hash, the bundle, and every label rendered into the page', async (t) => {
  const startScript = await readerStartScriptCache()();
  const { html, csp } = await send(appletReaderPage({ locale: 'en', summary, keyUrl: '/open/ID/key', payloadUrl: 'https://payloads.example:8443/p/ID', offline: 'offer', startScript }));
  t.same(
    html.match(/<script[^>]*>/g),
    ['<script data-envelope-id="AAAAAAAAAAAAAAAAAAAAAA" data-key-url="/open/ID/key" data-payload-url="https://payloads.example:8443/p/ID">', '<script src="/assets/reader.js" defer>'],
    'the inline start script with its data, then the same-origin bundle',
  );
  t.ok(html.indexOf(startScript) < html.indexOf('<link rel="stylesheet"'), 'the start script comes before the style sheet, so nothing waits for it');
  t.ok(startScript.length < 4096 && !startScript.includes('</script'), 'it is small and cannot end its element early');
  const hash = createHash('sha256').update(startScript).digest('base64');
  t.ok(csp.includes(`script-src 'self' 'sha256-${hash}'`), 'the CSP allows exactly that inline script, by hash, and no other');
  t.notMatch(csp, /script-src[^;]*unsafe/, 'never unsafe-inline or unsafe-eval for scripts');
  t.match(csp, /connect-src 'self' https:\/\/payloads\.example:8443(;|$)/, 'the payload origin may be fetched');
  t.match(csp, /img-src 'self' data: https: http:/, 'remote images allowed at page level: Show images re-renders the frame without reloading');
  t.match(csp, /style-src 'self' 'unsafe-inline'/);
  t.match(html, /data-key-url="\/open\/ID\/key"/);
  t.match(html, /data-envelope-id="AAAAAAAAAAAAAAAAAAAAAA"/);
  t.match(html, /role="status" aria-live="polite">Opening your message…</);
  t.match(html, /id="error-region" role="alert"/);
  for (const text of ['This secure message cannot be opened', 'could not be downloaded', 'opened without the key', 'Open the secure message attachment from the email again', 'Show images', 'Download the whole message (.eml)', '>Print<', 'Attachments']) {
    t.ok(html.includes(text), `the page carries "${text}"`);
  }
  t.notMatch(html, /reader:/, 'no untranslated key');
  const { html: direct } = await send(appletReaderPage({ locale: 'de', summary, keyUrl: '/k', payloadUrl: '/payloads/ID', offline: 'none', startScript }));
  t.match(direct, /<html lang="de"/);
  t.notMatch(direct, /Opening your message/, 'the labels follow the locale');
});
