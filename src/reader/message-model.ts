import PostalMime from 'postal-mime';
import type { Address, Attachment, Email, PostalMimeOptions } from 'postal-mime';
import { normaliseContentId } from './content-id.ts';

/**
 * The decrypted message (RFC 5322 bytes) as the reader shows it. Isomorphic: the browser bundle
 * (applet mode) and the server (server mode) build the same model from the same bytes, so both
 * modes list the same attachments under the same numbers.
 */

export interface MessageAttachment {
  /** position in `attachments`; server mode downloads it at basePath/attachments/INDEX */
  index: number;
  /** safe to use as a download name: no path separators or control characters */
  filename: string;
  mimeType: string;
  size: number;
  /** the part's content after transfer decoding, exactly as the sender attached it */
  bytes: Uint8Array;
}

/** A part the HTML refers to as cid:ID (an inline image). Never listed as an attachment. */
export interface RelatedPart {
  mimeType: string;
  bytes: Uint8Array;
}

export interface MessageModel {
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  /** null when the Date header is missing or unreadable */
  date: Date | null;
  /** the plain text body; null when the message has none */
  text: string | null;
  /** the HTML body as the sender wrote it (NOT sanitised); null when there is none */
  html: string | null;
  attachments: MessageAttachment[];
  /** Content-ID without angle brackets, lower-cased → part */
  related: Map<string, RelatedPart>;
}

// Shared with the Node and browser parsers alike. Nested messages with Content-Disposition
// attachment stay attachments (downloadable as .eml); inline ones are shown in the body.
const PARSER_OPTIONS: PostalMimeOptions = { attachmentEncoding: 'arraybuffer' };

interface CollectAttachment {
  collectAttachment(node: unknown, content: ArrayBuffer, related: boolean, rfc822DepthExceeded: boolean): void;
}

/**
 * postal-mime rewrites text/calendar parts (line endings forced to LF, one final newline), so an
 * invitation would not download byte-identical. This parser keeps every attachment's decoded
 * bytes as they were. It hooks postal-mime's internal collectAttachment (the one place where
 * attachments are made); test/reader/message-model.test.ts fails if a new version changes that.
 */
class ExactAttachmentParser extends PostalMime {
  collectAttachment(node: unknown, content: ArrayBuffer, related: boolean, rfc822DepthExceeded: boolean): void {
    (PostalMime.prototype as unknown as CollectAttachment).collectAttachment.call(this, node, content, related, rfc822DepthExceeded);
    const list = (this as unknown as { attachments: Attachment[] }).attachments;
    const last = list[list.length - 1];
    if (last && content) last.content = content;
  }
}

export async function parseMessage(raw: Uint8Array): Promise<MessageModel> {
  const email: Email = await new ExactAttachmentParser(PARSER_OPTIONS).parse(raw);
  const html = email.html && email.html.trim() !== '' ? email.html : null;
  const text = email.text && email.text.trim() !== '' ? email.text : null;
  const referenced = html ? referencedContentIds(html) : new Set<string>();

  const related = new Map<string, RelatedPart>();
  const attachments: MessageAttachment[] = [];
  for (const part of email.attachments) {
    const bytes = toBytes(part.content);
    const cid = part.contentId ? normaliseContentId(part.contentId) : null;
    if (cid && html) related.set(cid, { mimeType: part.mimeType, bytes });
    // A part the HTML shows inline is not listed again, unless the sender also marked it as an
    // attachment; a related part the HTML never mentions would otherwise be lost, so it is listed.
    if (cid && referenced.has(cid) && part.disposition !== 'attachment') continue;
    attachments.push({ index: attachments.length, filename: downloadName(part, attachments.length), mimeType: part.mimeType, size: bytes.length, bytes });
  }

  return {
    from: email.from ? formatAddresses([email.from]).join(', ') : '',
    to: formatAddresses(email.to ?? []),
    cc: formatAddresses(email.cc ?? []),
    subject: email.subject ?? '',
    date: parseDate(email.date),
    text,
    html,
    attachments,
    related,
  };
}

function referencedContentIds(html: string): Set<string> {
  const ids = new Set<string>();
  for (const m of html.matchAll(/cid:([^"'\s)>]+)/gi)) ids.add(normaliseContentId(m[1]!));
  return ids;
}

function toBytes(content: Attachment['content']): Uint8Array {
  if (content instanceof Uint8Array) return content;
  if (content instanceof ArrayBuffer) return new Uint8Array(content);
  return new TextEncoder().encode(content);
}

function formatAddresses(list: Address[]): string[] {
  return list.map((a) => {
    if (a.group !== undefined) return `${a.name}: ${formatAddresses(a.group).join(', ')};`;
    if (a.name && a.address) return `${a.name} <${a.address}>`;
    return a.address || a.name;
  });
}

function parseDate(value: string | undefined): Date | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

const EXTENSIONS: Record<string, string> = {
  'message/rfc822': '.eml',
  'application/pdf': '.pdf',
  'image/png': '.png',
  'image/jpeg': '.jpg',
  'image/gif': '.gif',
  'text/plain': '.txt',
  'text/html': '.html',
  'text/calendar': '.ics',
  'application/zip': '.zip',
};

/**
 * The name the file is saved under: the sender's name without anything a file system would
 * read as a folder or that a terminal would interpret, or a made-up one when there is none.
 */
function downloadName(part: Attachment, index: number): string {
  const given = (part.filename ?? '')
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
    .replace(/[/\\]/g, '_')
    .replace(/^[.\s]+/, '')
    .trim();
  if (given !== '') return given;
  return `attachment-${index + 1}${EXTENSIONS[part.mimeType] ?? ''}`;
}
