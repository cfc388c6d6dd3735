import type { DOMPurify } from 'dompurify';
import { sanitizeMessageHtml, type SanitizedHtml, type SanitizeOptions } from './sanitize.ts';

/**
 * Server mode: the shared policy (sanitize.ts) on a fresh jsdom window, closed when done, so
 * nothing of one message outlives its rendering. jsdom is loaded on first use: most processes
 * never open a message in server mode, and it is the heaviest module of the reader.
 * jsdom's default settings load no resources and run no script.
 */
export async function sanitizeOnServer(html: string, opts: SanitizeOptions): Promise<SanitizedHtml> {
  const [{ JSDOM }, { default: createDOMPurify }] = await Promise.all([import('jsdom'), import('dompurify')]);
  const { window } = new JSDOM('');
  try {
    const purify = createDOMPurify(window as unknown as Window & typeof globalThis) as DOMPurify;
    return sanitizeMessageHtml(purify, html, opts);
  } finally {
    window.close();
  }
}
