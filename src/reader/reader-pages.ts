import type { Locale } from '../i18n/locales.ts';
import type { Page } from '../plugins/pages.ts';
import { parseMessage } from './message-model.ts';
import { sanitizeOnServer } from './sanitize-node.ts';

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

// The message frame is a sandboxed srcdoc document: no scripts, no forms, no same-origin access.
// Links may open in a new tab (outside the sandbox), nothing else.
export const FRAME_SANDBOX = 'allow-popups allow-popups-to-escape-sandbox';

export function formatSize(bytes: number, locale: Locale): string {
  const [value, unit] = bytes >= 1024 * 1024 ? [bytes / (1024 * 1024), 'megabyte'] : bytes >= 1024 ? [bytes / 1024, 'kilobyte'] : [bytes, 'byte'];
  return new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: 'short', maximumFractionDigits: value < 10 ? 1 : 0 }).format(value);
}

/**
 * Applet mode: an empty reader that /assets/reader.js fills. The script takes the envelope secret
 * from the URL fragment, asks `keyUrl` for the server share, fetches and decrypts the payload,
 * and renders the message; every label it needs is rendered here, in the page's locale.
 * The page allows remote images at its own level because a srcdoc frame inherits the page's
 * policy; the frame's own stricter policy (data: images only) is what holds them back.
 */
export function appletReaderPage(input: { locale: Locale; summary: EnvelopeSummary; keyUrl: string; payloadUrl: string; allowRememberKey: boolean }): Page {
  const payloadOrigin = /^https?:\/\//.test(input.payloadUrl) ? new URL(input.payloadUrl).origin : null;
  return {
    view: 'pages/open/reader.hbs',
    titleKey: 'reader:title',
    locale: input.locale,
    scripts: ['/assets/reader.js'],
    csp: {
      'img-src': "'self' data: blob: https: http:",
      'connect-src': payloadOrigin ? `'self' ${payloadOrigin}` : "'self'",
      // Offline re-opening (allowRememberKey) is not offered yet: see docs/opening.md.
    },
    data: { applet: true, summary: input.summary, keyUrl: input.keyUrl, payloadUrl: input.payloadUrl, envelopeId: input.summary.envelopeId },
  };
}

/** Server mode: the decrypted message rendered here; the result has no script at all. */
export async function serverReaderPage(input: { locale: Locale; summary: EnvelopeSummary; raw: Uint8Array; showRemoteImages: boolean; basePath: string }): Promise<Page> {
  const message = await parseMessage(input.raw);
  const sanitized = message.html ? sanitizeOnServer(message.html, { inline: message.inline, allowRemoteImages: input.showRemoteImages }) : null;
  return {
    view: 'pages/open/reader.hbs',
    titleKey: 'reader:title',
    locale: input.locale,
    csp: { 'img-src': input.showRemoteImages ? "'self' data: https: http:" : "'self' data:" },
    data: {
      applet: false,
      summary: input.summary,
      message: {
        from: message.from,
        to: message.to,
        cc: message.cc,
        date: message.date ? new Date(message.date) : null,
        subject: message.subject,
        text: sanitized ? null : message.text,
        frame: sanitized?.document ?? null,
        remoteImages: sanitized?.remoteImages ?? 0,
        attachments: message.attachments.map((a) => ({ ...a, bytes: undefined, size: formatSize(a.size, input.locale), url: `${input.basePath}/attachments/${a.index}` })),
      },
      sandbox: FRAME_SANDBOX,
      basePath: input.basePath,
    },
  };
}

/** One attachment of the decrypted message, byte for byte; null when there is none at `index`. */
export async function serverAttachment(raw: Uint8Array, index: number): Promise<{ filename: string; contentType: string; bytes: Uint8Array } | null> {
  const message = await parseMessage(raw);
  const found = message.attachments.find((a) => a.index === index);
  return found ? { filename: found.filename, contentType: found.mimeType, bytes: found.bytes } : null;
}
