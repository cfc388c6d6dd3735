// The shared sanitising policy (src/reader/sanitize.ts) on jsdom, as server mode runs it; the
// browser test runs the same module in Chromium. Hostile HTML must come out with nothing active
// and nothing remote, cid: images inlined, and remote images counted and held back.
import { JSDOM } from 'jsdom';
import t from 'tap';
import { BLOCKED_IMAGE, frameCsp } from '../../src/reader/sanitize.ts';
import { sanitizeOnServer } from '../../src/reader/sanitize-node.ts';
import { hostileHtml, PNG } from './fixtures.ts';

const REMOTE = 'http://tracker.example';
const related = new Map([['logo@waxseal.test', { mimeType: 'image/png', bytes: new Uint8Array(PNG) }]]);

function parse(document: string): Document {
  return new JSDOM(document).window.document;
}

/** Every URL-bearing value in the document: attributes and style sheets. */
function urlsIn(doc: Document): string[] {
  const out: string[] = [];
  for (const el of Array.from(doc.querySelectorAll('*'))) {
    for (const a of Array.from(el.attributes)) out.push(`${el.localName}[${a.name}]=${a.value}`);
    if (el.localName === 'style') out.push(`style=${el.textContent}`);
  }
  return out;
}

t.test('hostile HTML: nothing active survives', async (t) => {
  const html = hostileHtml(REMOTE);
  for (const allowRemoteImages of [false, true]) {
    const { document } = await sanitizeOnServer(html, { related, allowRemoteImages });
    const doc = parse(document);
    const label = allowRemoteImages ? 'images shown' : 'images blocked';
    t.equal(doc.querySelectorAll('script, noscript, form, input, button, select, textarea, iframe, frame, object, embed, base, link, svg, math, video, audio, source').length, 0, `${label}: no script, form, control, frame, object, embed, base, link, svg, math or media`);
    const metas = Array.from(doc.querySelectorAll('meta'), (m) => m.outerHTML);
    t.equal(metas.length, 3, `${label}: only the frame's own meta elements`);
    t.notMatch(metas.join(''), /refresh/i, `${label}: no meta refresh`);
    const attributes = Array.from(doc.querySelectorAll('*')).flatMap((el) => Array.from(el.attributes, (a) => a.name));
    t.same(attributes.filter((n) => n.startsWith('on')), [], `${label}: no event handler attributes`);
    t.same(attributes.filter((n) => ['action', 'formaction', 'autofocus', 'poster'].includes(n)), [], `${label}: no form or media attributes`);
    t.notMatch(document, /javascript:/i, `${label}: no javascript: URL`);
    t.notMatch(document, /@import|link\.css|\/refresh|\/base\/|\/iframe|\/object|\/embed|video|mxss|svg-image/, `${label}: nothing of the removed elements remains as markup`);
    t.notMatch(document, /PWNED/, `${label}: the script's text is gone too`);
    t.equal(doc.querySelector('#greeting')?.textContent, 'Quarterly results attached.', `${label}: the text is kept`);
    const safe = doc.querySelector('#safelink');
    t.equal(safe?.getAttribute('target'), '_blank', `${label}: links open a new tab`);
    t.equal(safe?.getAttribute('rel'), 'noopener noreferrer', `${label}: without opener or referrer`);
    t.equal(doc.querySelector('#jslink')?.hasAttribute('href'), false, `${label}: the javascript: link lost its href`);
    t.equal(doc.querySelector('img[alt="relative path"]')?.hasAttribute('src'), false, `${label}: a relative image (it would load from this service) is dropped`);
  }
});

t.test('remote images are held back and counted, then allowed', async (t) => {
  const html = hostileHtml(REMOTE);
  const blocked = await sanitizeOnServer(html, { related, allowRemoteImages: false });
  // tracker, protocol-relative, srcset, style attribute, table background, CSS background, image-set
  t.equal(blocked.remoteImages, 7, 'every remote image is counted');
  t.same(urlsIn(parse(blocked.document)).filter((v) => v.includes('tracker.example')), [], 'no remote URL left anywhere: attributes or CSS');
  const placeholders = parse(blocked.document).querySelectorAll('img[data-waxseal-blocked]');
  t.equal(placeholders.length, 2, 'blocked <img> show a placeholder');
  t.equal(placeholders[0]?.getAttribute('src'), BLOCKED_IMAGE);
  t.equal(placeholders[0]?.getAttribute('alt'), 'tracker', 'and keep their alt text');
  t.ok(blocked.document.startsWith(`<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="${frameCsp(false)}">`), 'the frame document begins with its CSP');
  t.equal(frameCsp(false), "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:");

  const shown = await sanitizeOnServer(html, { related, allowRemoteImages: true });
  const doc = parse(shown.document);
  t.equal(doc.querySelector('img[alt=tracker]')?.getAttribute('src'), `${REMOTE}/img-tracker.png`, 'remote images kept when the reader asked');
  t.equal(doc.querySelector('img[alt=srcset]')?.getAttribute('srcset'), `${REMOTE}/img-srcset.png 2x`);
  t.equal(doc.querySelector('table')?.getAttribute('background'), `${REMOTE}/img-table.png`);
  t.match(shown.document, /url\("http:\/\/tracker\.example\/img-css-bg\.png"\)/, 'CSS backgrounds too');
  t.ok(shown.document.includes(`content="${frameCsp(true)}"`), 'the frame CSP allows remote images');
  t.match(frameCsp(true), /img-src data: https: http:;/);
  t.notMatch(shown.document, /import\.css|link\.css/, 'style sheets never load, images shown or not');
});

t.test('cid: images become data: URIs, in attributes and in CSS', async (t) => {
  const { document, remoteImages } = await sanitizeOnServer(
    '<html><head><style>.a { background: url(cid:logo@waxseal.test) }</style></head><body><img src="cid:LOGO@waxseal.test" alt="logo"><img src="cid:missing@x" alt="missing"><td background="cid:logo@waxseal.test"></td></body></html>',
    { related, allowRemoteImages: false },
  );
  const dataUri = `data:image/png;base64,${PNG.toString('base64')}`;
  const doc = parse(document);
  t.equal(doc.querySelector('img[alt=logo]')?.getAttribute('src'), dataUri, 'Content-IDs match case-insensitively');
  t.equal(doc.querySelector('img[alt=missing]')?.hasAttribute('src'), false, 'an unknown cid: is dropped');
  t.match(document, `url("${dataUri}")`);
  t.equal(remoteImages, 0, 'nothing remote');
});

t.test('non-image related parts are never inlined', async (t) => {
  const parts = new Map([['page@x', { mimeType: 'text/html', bytes: new TextEncoder().encode('<script>alert(1)</script>') }]]);
  const { document } = await sanitizeOnServer('<img src="cid:page@x" alt="p">', { related: parts, allowRemoteImages: true });
  t.notMatch(document, /data:text/, 'no data: URI of another type');
});

t.test('links: only web, mail and phone links; anchors stay inside the frame', async (t) => {
  const { document } = await sanitizeOnServer(
    '<a id=a href="https://example.org/x">a</a><a id=b href="//example.org/y">b</a><a id=c href="mailto:bob@example.org">c</a><a id=d href="#part2">d</a><a id=e href="/account/delete">e</a><a id=f href="data:text/html,<script>x</script>">f</a><a id=g href="vbscript:x">g</a><a id=h href="https://example.org/" target="_self" download="x.exe">h</a>',
    { related, allowRemoteImages: false },
  );
  const doc = parse(document);
  const href = (id: string) => doc.getElementById(id)?.getAttribute('href') ?? null;
  t.equal(href('a'), 'https://example.org/x');
  t.equal(href('b'), 'https://example.org/y', 'protocol-relative links use https');
  t.equal(href('c'), 'mailto:bob@example.org');
  t.equal(href('d'), '#part2');
  t.equal(doc.getElementById('d')?.hasAttribute('target'), false, 'an anchor scrolls the frame');
  t.equal(href('e'), null, 'a relative link would point at this service: dropped');
  t.equal(href('f'), null, 'data: links dropped');
  t.equal(href('g'), null, 'other schemes dropped');
  t.equal(doc.getElementById('h')?.getAttribute('target'), '_blank', "the message's own target is replaced");
  t.equal(doc.getElementById('h')?.hasAttribute('download'), false, 'no download attribute');
});

t.test('styles of the message are kept (head and body), imports are not', async (t) => {
  const { document } = await sanitizeOnServer('<html><head><style>p { color: #c00 }</style></head><body bgcolor="#eee" style="margin:0"><p style="font-weight:bold">x</p></body></html>', {
    related,
    allowRemoteImages: false,
  });
  const doc = parse(document);
  t.match(Array.from(doc.querySelectorAll('style'), (s) => s.textContent).join(''), /p \{ color: #c00 \}/, 'a <style> in <head> survives');
  t.equal(doc.body.getAttribute('bgcolor'), '#eee', 'body attributes survive');
  t.equal(doc.body.getAttribute('style'), 'margin:0');
  t.equal(doc.querySelector('p')?.getAttribute('style'), 'font-weight:bold');
});
