import createDOMPurify from 'dompurify';
import { JSDOM } from 'jsdom';
import { sanitizeMessageHtml, type SanitizedHtml } from './sanitize.ts';

/** Server mode: the shared policy on a fresh jsdom window, discarded with the request. */
export function sanitizeOnServer(html: string, opts: Parameters<typeof sanitizeMessageHtml>[2]): SanitizedHtml {
  const { window } = new JSDOM('');
  try {
    return sanitizeMessageHtml(createDOMPurify(window as unknown as Window & typeof globalThis), html, opts);
  } finally {
    window.close();
  }
}
