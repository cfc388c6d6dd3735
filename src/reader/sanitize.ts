import type { Config, DOMPurify } from 'dompurify';
import { normaliseContentId } from './content-id.ts';
import type { RelatedPart } from './message-model.ts';

/**
 * The one sanitising policy for message HTML, used by both modes: DOMPurify on the browser's own
 * DOM in applet mode (src/reader/browser/reader.ts), on jsdom in server mode (sanitize-node.ts).
 * Isomorphic: no Node or browser globals beyond btoa and the DOM that DOMPurify brings.
 *
 * Three independent layers stand between a hostile message and the reader:
 * 1. this sanitiser: no script, forms, controls, frames, objects, meta/base/link, event handlers
 *    or javascript: URLs; remote images and CSS url() held back (and counted) until the reader
 *    asks; cid: images inlined as data: URIs;
 * 2. the frame document's own CSP (frameCsp), which is the real guarantee that nothing remote
 *    loads: whatever the sanitiser misses (a CSS escape hiding a url(), say) is still refused;
 * 3. the iframe's sandbox (FRAME_SANDBOX): no scripts, no forms, no same-origin access.
 */

/** Links may open a new tab, outside the sandbox; nothing else is allowed in the frame. */
export const FRAME_SANDBOX = 'allow-popups allow-popups-to-escape-sandbox';

export interface SanitizeOptions {
  /** the message's cid: parts, keyed by normalised Content-ID (see normaliseContentId) */
  related: Map<string, RelatedPart>;
  allowRemoteImages: boolean;
}

export interface SanitizedHtml {
  /** a whole document for the frame's srcdoc; it begins with its CSP */
  document: string;
  /** remote images and CSS resources found (held back unless allowRemoteImages) */
  remoteImages: number;
}

/**
 * The policy the frame document carries itself. A srcdoc frame also inherits the page's policy
 * and a <meta> can only add restrictions, so readerPageCsp must allow at least this much.
 */
export function frameCsp(allowRemoteImages: boolean): string {
  return `default-src 'none'; style-src 'unsafe-inline'; img-src data:${allowRemoteImages ? ' https: http:' : ''}; font-src data:`;
}

/**
 * What the reader page's own CSP must add for its frame (see frameCsp): the message's inline
 * styles, data: fonts and images, and remote images when they may be shown. The page itself
 * prints nothing of the message outside the frame (every value is escaped text), so inline
 * style on the page risks no injection.
 */
export function readerPageCsp(allowRemoteImages: boolean): Record<string, string> {
  return {
    'style-src': "'self' 'unsafe-inline'",
    'img-src': `'self' data:${allowRemoteImages ? ' https: http:' : ''}`,
    'font-src': 'data:',
  };
}

/**
 * Shared DOMPurify settings. The HTML profile only (no SVG or MathML: mail does not need them and
 * they are where most sanitiser bypasses live); the whole document, so <style> in <head> survives.
 */
export const PURIFY_CONFIG: Config = {
  USE_PROFILES: { html: true },
  WHOLE_DOCUMENT: true,
  ALLOW_DATA_ATTR: false,
  ALLOW_UNKNOWN_PROTOCOLS: false,
  FORBID_TAGS: [
    'script', 'noscript', 'template', 'slot', 'shadow', 'content', 'element', 'decorator',
    'form', 'input', 'button', 'select', 'option', 'optgroup', 'textarea', 'datalist', 'output', 'keygen',
    'meta', 'base', 'link', 'title',
    'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'portal',
    'audio', 'video', 'source', 'track', 'canvas', 'dialog',
  ],
  FORBID_ATTR: ['action', 'formaction', 'method', 'enctype', 'ping', 'poster', 'popover', 'popovertarget', 'popovertargetaction', 'commandfor', 'command', 'autofocus', 'download', 'target'],
};

// A grey picture frame standing in for a remote image until the reader asks for it.
export const BLOCKED_IMAGE =
  'data:image/svg+xml,' +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24"><rect x="1" y="3" width="22" height="18" rx="2" fill="#eef1f5" stroke="#5f6b7a"/><circle cx="8" cy="9" r="2" fill="#5f6b7a"/><path d="M3 19l6-6 4 4 3-3 5 5z" fill="#5f6b7a"/></svg>',
  );

// The frame's own base style, before the message's: readable text, images that fit.
const FRAME_STYLE =
  'body{margin:.75rem;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;color:#1b1f24;background:#fff;overflow-wrap:anywhere}' +
  'img{max-width:100%}img[data-waxseal-blocked]{background:#eef1f5;outline:1px dashed #5f6b7a}';

const INLINE_IMAGE_TYPE = /^image\/(png|jpe?g|pjpeg|gif|webp|bmp|avif|x-icon|vnd\.microsoft\.icon|svg\+xml)$/i;
const DATA_IMAGE = /^data:image\/[a-z0-9.+-]+[;,]/i;
const REMOTE = /^(https?:)?\/\//i;
const LINK = /^(https?:|mailto:|tel:)/i;

type Resolved = { kind: 'keep'; url: string } | { kind: 'remote'; url: string } | { kind: 'drop' };

export function sanitizeMessageHtml(purify: DOMPurify, html: string, opts: SanitizeOptions): SanitizedHtml {
  let remoteImages = 0;
  const dataUris = new Map<string, string | null>();

  /** What an image URL becomes: cid: → data:, data:image stays, remote is counted, rest dropped. */
  const resolveImage = (raw: string): Resolved => {
    const url = raw.trim();
    if (/^cid:/i.test(url)) {
      const id = normaliseContentId(url.slice(4));
      if (!dataUris.has(id)) {
        const part = opts.related.get(id);
        dataUris.set(id, part && INLINE_IMAGE_TYPE.test(part.mimeType) ? `data:${part.mimeType.toLowerCase()};base64,${toBase64(part.bytes)}` : null);
      }
      const data = dataUris.get(id);
      return data ? { kind: 'keep', url: data } : { kind: 'drop' };
    }
    if (DATA_IMAGE.test(url)) return { kind: 'keep', url };
    if (REMOTE.test(url)) {
      remoteImages++;
      return { kind: 'remote', url };
    }
    // Relative URLs would resolve against this service's origin: never meant for a message.
    return { kind: 'drop' };
  };

  // One pass over url(...) and over quoted strings that name a remote URL: image-set("https://…")
  // and friends take plain strings, so such a string goes the same way as a remote url().
  const rewriteCss = (css: string): string =>
    css
      // An imported style sheet is a remote load of its own and never an image: always gone.
      .replace(/@import\b[^;]*;?/gi, '')
      .replace(/url\(\s*(?:"([^"]*)"|'([^']*)'|([^)]*?))\s*\)|(["'])\s*((?:https?:)?\/\/[^"'\n]*)\4/gi, (match, dq?: string, sq?: string, bare?: string, _q?: string, str?: string) => {
        if (str !== undefined) {
          remoteImages++;
          return opts.allowRemoteImages ? match : '""';
        }
        const found = resolveImage(dq ?? sq ?? bare ?? '');
        if (found.kind === 'drop' || (found.kind === 'remote' && !opts.allowRemoteImages)) return 'none';
        return `url("${found.url.replace(/["'\\\n\r\f<>]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}")`;
      });

  const root = purify.sanitize(html, { ...PURIFY_CONFIG, RETURN_DOM: true }) as unknown as HTMLElement;
  const doc = root.ownerDocument;
  const head = root.querySelector('head');
  const body = root.querySelector('body') ?? doc.createElement('body');

  for (const el of [body, ...Array.from(body.querySelectorAll('*')), ...Array.from(head?.querySelectorAll('style') ?? [])]) {
    const tag = el.localName;
    if (tag === 'style') {
      el.textContent = rewriteCss(el.textContent ?? '');
      continue;
    }
    if (tag === 'a' || tag === 'area') {
      const href = el.getAttribute('href')?.trim();
      if (href === undefined) {
        // nothing to do
      } else if (href.startsWith('#')) {
        // an anchor inside the message: scrolls the frame, no new tab
      } else if (LINK.test(href) || href.startsWith('//')) {
        el.setAttribute('href', href.startsWith('//') ? `https:${href}` : href);
        el.setAttribute('target', '_blank');
        el.setAttribute('rel', 'noopener noreferrer');
      } else {
        el.removeAttribute('href');
      }
    }
    for (const name of ['src', 'background']) {
      const value = el.getAttribute(name);
      if (value === null) continue;
      if (name === 'src' && tag !== 'img') {
        el.removeAttribute(name);
        continue;
      }
      const found = resolveImage(value);
      if (found.kind === 'drop') el.removeAttribute(name);
      else if (found.kind === 'remote' && !opts.allowRemoteImages) {
        if (name === 'src') {
          el.setAttribute('src', BLOCKED_IMAGE);
          el.setAttribute('data-waxseal-blocked', '');
        } else el.removeAttribute(name);
      } else el.setAttribute(name, found.url);
    }
    const srcset = el.getAttribute('srcset');
    if (srcset !== null) {
      // Candidates are "URL descriptor" pairs separated by commas; every one must be allowed.
      const urls = srcset.split(/,\s+/).map((c) => c.trim().split(/\s+/)[0] ?? '');
      const resolved = urls.map(resolveImage);
      if (tag !== 'img' || resolved.some((r) => r.kind === 'drop' || (r.kind === 'remote' && !opts.allowRemoteImages))) el.removeAttribute('srcset');
    }
    const style = el.getAttribute('style');
    if (style !== null) el.setAttribute('style', rewriteCss(style));
  }

  // A style element's text cannot hold </style> after parsing; the replace keeps it that way.
  const styles = Array.from(head?.querySelectorAll('style') ?? [], (s) => `<style>${(s.textContent ?? '').replace(/<\/style/gi, '<\\/style')}</style>`).join('');
  const bodyAttributes = Array.from(body.attributes, (a) => ` ${a.name}="${escapeAttribute(a.value)}"`).join('');
  const document =
    `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="${frameCsp(opts.allowRemoteImages)}">` +
    `<meta charset="utf-8"><meta name="referrer" content="no-referrer"><style>${FRAME_STYLE}</style>${styles}</head>` +
    `<body${bodyAttributes}>${body.innerHTML}</body></html>`;
  return { document, remoteImages };
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
