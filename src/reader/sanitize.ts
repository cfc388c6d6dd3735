import type { DOMPurify } from 'dompurify';

/**
 * The one sanitising policy for message HTML, used by both modes (DOMPurify on the browser's DOM
 * in applet mode, on jsdom in server mode). Three layers stand between a hostile message and the
 * reader: this sanitiser; the frame's own CSP (no script, images only as data: unless the reader
 * asked for remote ones); and a sandboxed iframe without allow-scripts, allow-forms or
 * allow-same-origin.
 */
const FORBID_TAGS = ['form', 'input', 'button', 'textarea', 'select', 'option', 'meta', 'base', 'link', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'script', 'noscript'];
const FORBID_ATTR = ['action', 'formaction', 'background', 'srcset', 'ping', 'poster'];
const REMOTE = /^\s*(https?:)?\/\//i;

export interface SanitizedHtml {
  /** a whole document for the frame's srcdoc, its CSP first */
  document: string;
  /** remote images held back (0 when the reader allowed them) */
  remoteImages: number;
}

export function frameCsp(allowRemoteImages: boolean): string {
  return `default-src 'none'; style-src 'unsafe-inline'; font-src data:; img-src data:${allowRemoteImages ? ' https: http:' : ''}`;
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function sanitizeMessageHtml(
  purify: DOMPurify,
  html: string,
  opts: { inline: Map<string, { mimeType: string; bytes: Uint8Array }>; allowRemoteImages: boolean },
): SanitizedHtml {
  let remoteImages = 0;
  purify.addHook('afterSanitizeAttributes', (node) => {
    const el = node as Element;
    if (el.tagName === 'A') {
      el.setAttribute('target', '_blank');
      el.setAttribute('rel', 'noopener noreferrer');
    }
    const src = el.getAttribute('src');
    if (src !== null) {
      const cid = /^cid:(.+)$/i.exec(src.trim());
      if (cid) {
        const part = opts.inline.get(decodeURIComponent(cid[1]!));
        if (part && /^image\//i.test(part.mimeType)) el.setAttribute('src', `data:${part.mimeType};base64,${toBase64(part.bytes)}`);
        else el.removeAttribute('src');
      } else if (REMOTE.test(src)) {
        if (!opts.allowRemoteImages) {
          remoteImages++;
          el.removeAttribute('src');
          el.setAttribute('data-blocked-src', '');
        }
      } else if (!/^data:image\//i.test(src.trim())) {
        el.removeAttribute('src');
      }
    }
    const style = el.getAttribute('style');
    if (style !== null && /url\s*\(/i.test(style) && !opts.allowRemoteImages) {
      el.setAttribute('style', style.replace(/url\s*\([^)]*\)/gi, 'none'));
      remoteImages++;
    }
  });
  try {
    const clean = purify.sanitize(html, { FORBID_TAGS, FORBID_ATTR, WHOLE_DOCUMENT: false, ALLOW_DATA_ATTR: false, ADD_ATTR: ['target'] });
    const document = `<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${frameCsp(opts.allowRemoteImages)}"><meta name="referrer" content="no-referrer"></head><body>${clean}</body></html>`;
    return { document, remoteImages };
  } finally {
    purify.removeHook('afterSanitizeAttributes');
  }
}
