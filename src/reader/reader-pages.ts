import type { Locale } from '../i18n/locales.ts';
import type { OfflineOffer } from '../domain/releases/offline-offer.ts';
import type { Page } from '../plugins/pages.ts';
import { formatSize } from './format-size.ts';
import { parseMessage } from './message-model.ts';
import { FRAME_SANDBOX, readerPageCsp } from './sanitize.ts';
import { sanitizeOnServer } from './sanitize-node.ts';

export { FRAME_SANDBOX, formatSize };

export interface EnvelopeSummary {
  envelopeId: string;
  sender: string;
  to: string[];
  cc: string[];
  subject: string | null;
  sentAt: Date;
  expiresAt: Date | null;
  securityLevel: 'high' | 'medium' | 'none';
}

/**
 * Applet mode: the reader page before the message is known. /assets/reader.js takes the envelope
 * secret from the URL fragment (then from this tab's sessionStorage, so a reload still works),
 * asks `keyUrl` for the server share, fetches and decrypts the payload, parses and renders the
 * message. Every label and error message it shows is rendered here, in the page's locale, so the
 * bundle carries no translations.
 *
 * The page's CSP allows remote images from the start: the message frame is a srcdoc document,
 * which inherits this policy and can only tighten it, so "Show images" (re-rendering the frame
 * with a looser policy of its own, without reloading) needs the page to allow them. Until then
 * the frame's own policy (data: images only) holds them back.
 */
export function appletReaderPage(input: { locale: Locale; summary: EnvelopeSummary; keyUrl: string; payloadUrl: string; offline: OfflineOffer; startScript: string }): Page {
  const payloadOrigin = /^https?:\/\//i.test(input.payloadUrl) ? new URL(input.payloadUrl).origin : null;
  const self = `/open/${input.summary.envelopeId}`;
  return {
    view: 'pages/open/reader.hbs',
    titleKey: 'reader:title',
    locale: input.locale,
    // The start script (reader-start.ts, inline) starts the opening while reader.js loads.
    startScript: { source: input.startScript, data: { 'envelope-id': input.summary.envelopeId, 'key-url': input.keyUrl, 'payload-url': input.payloadUrl } },
    scripts: ['/assets/reader.js'],
    csp: {
      ...readerPageCsp(true),
      // The payload may live on another origin (a payload URL of the profile); CORS is open there.
      'connect-src': payloadOrigin ? `'self' ${payloadOrigin}` : "'self'",
    },
    data: {
      applet: true,
      summary: input.summary,
      keyUrl: input.keyUrl,
      payloadUrl: input.payloadUrl,
      envelopeId: input.summary.envelopeId,
      sandbox: FRAME_SANDBOX,
      // Offline re-opening (src/domain/releases/offline-offer.ts): hand the share to the envelope
      // file now, or offer the passphrase page with the box to tick.
      offline: {
        handOver: input.offline === 'hand-over',
        offerUrl: input.offline === 'offer' ? `/signin?${new URLSearchParams({ next: self, reauth: '1', offline: '1' })}` : null,
      },
    },
  };
}

/**
 * Server mode: the decrypted message rendered on the server. The page has no script at all;
 * remote images are allowed by the page's CSP only on the view that shows them (?images=1).
 */
export async function serverReaderPage(input: { locale: Locale; summary: EnvelopeSummary; raw: Uint8Array; showRemoteImages: boolean; basePath: string }): Promise<Page> {
  const message = await parseMessage(input.raw);
  const sanitized = message.html ? await sanitizeOnServer(message.html, { related: message.related, allowRemoteImages: input.showRemoteImages }) : null;
  return {
    view: 'pages/open/reader.hbs',
    titleKey: 'reader:title',
    locale: input.locale,
    csp: readerPageCsp(input.showRemoteImages),
    data: {
      applet: false,
      summary: input.summary,
      sandbox: FRAME_SANDBOX,
      basePath: input.basePath,
      message: {
        from: message.from,
        to: message.to,
        cc: message.cc,
        date: message.date,
        subject: message.subject,
        text: sanitized ? null : message.text,
        frame: sanitized?.document ?? null,
        imagesBlocked: sanitized !== null && !input.showRemoteImages && sanitized.remoteImages > 0,
        showImagesUrl: `${input.basePath}?images=1`,
        emlUrl: `${input.basePath}/message.eml`,
        attachments: message.attachments.map((a) => ({
          filename: a.filename,
          mimeType: a.mimeType,
          size: formatSize(a.size, input.locale),
          url: `${input.basePath}/attachments/${a.index}`,
        })),
      },
    },
  };
}

/** One attachment of the decrypted message, byte for byte; null when there is none at `index`. */
export async function serverAttachment(raw: Uint8Array, index: number): Promise<{ filename: string; contentType: string; bytes: Uint8Array } | null> {
  const message = await parseMessage(raw);
  const found = Number.isInteger(index) ? message.attachments[index] : undefined;
  return found ? { filename: found.filename, contentType: found.mimeType, bytes: found.bytes } : null;
}
