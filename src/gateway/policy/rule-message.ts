import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Splitter } from 'mailsplit';
import PostalMime from 'postal-mime';

/** What content rules look at in one message. */
export interface RuleMessage {
  subject: string;
  /** the text of the text/plain and text/html parts (HTML reduced to its text), bounded */
  body: string;
  /** every header field, names lower-case, values unfolded and decoded */
  headers: { name: string; value: string }[];
  sender: string;
  recipients: string[];
  attachments: { name: string; type: string }[];
  /** bytes, as the MTA handed it */
  size: number;
}

// Detectors and regular expressions read at most this much body text: a rule set's cost per
// message stays bounded whatever the message.
export const MAX_SCANNED_TEXT = 2 * 1024 * 1024;

// postal-mime builds the whole message in memory (decoded parts, text as strings): 25 MB of
// text took some 800 MB. Larger messages are read by postal-mime only up to this point (the
// headers and the first text), and their attachments are listed by mailsplit, which streams.
const FULL_PARSE_LIMIT = 4 * 1024 * 1024;

/**
 * Reads a message for the rules with postal-mime, which is tolerant: a message it cannot make
 * sense of still gets its headers and whatever text it has, so a rule about them still applies.
 */
export async function ruleMessageFromRaw(raw: Uint8Array, envelope: { sender: string; recipients: readonly string[] }): Promise<RuleMessage> {
  const large = raw.byteLength > FULL_PARSE_LIMIT;
  const email = await PostalMime.parse(large ? raw.subarray(0, FULL_PARSE_LIMIT) : raw, { attachmentEncoding: 'arraybuffer' });
  const html = email.html ? htmlToText(email.html) : '';
  const body = [email.text ?? '', html].filter(Boolean).join('\n').slice(0, MAX_SCANNED_TEXT);
  return {
    subject: email.subject ?? '',
    body,
    headers: email.headers.map((h) => ({ name: h.key.toLowerCase(), value: h.value })),
    sender: envelope.sender.toLowerCase(),
    recipients: envelope.recipients.map((r) => r.toLowerCase()),
    attachments: large ? await streamedAttachments(raw) : email.attachments.map((a) => ({ name: a.filename ?? '', type: (a.mimeType ?? '').toLowerCase() })),
    size: raw.byteLength,
  };
}

interface SplitNode {
  type: string;
  multipart: string | false;
  contentType: string | false;
  filename: string | false;
  headers: { getFirst(name: string): string };
}

/** Every non-multipart part that is an attachment (a file name, or not text), from mailsplit's stream of part headers. */
async function streamedAttachments(raw: Uint8Array): Promise<{ name: string; type: string }[]> {
  const found: { name: string; type: string }[] = [];
  const splitter = new Splitter();
  splitter.on('data', (data: SplitNode) => {
    if (data.type !== 'node' || data.multipart) return;
    const type = (data.contentType || 'text/plain').toLowerCase();
    const disposition = (data.headers.getFirst('content-disposition') || '').toLowerCase();
    const isBody = !data.filename && !disposition.startsWith('attachment') && (type === 'text/plain' || type === 'text/html');
    if (!isBody) found.push({ name: data.filename || '', type });
  });
  const chunks = function* () {
    for (let i = 0; i < raw.byteLength; i += 65536) yield Buffer.from(raw.buffer, raw.byteOffset + i, Math.min(65536, raw.byteLength - i));
  };
  await pipeline(Readable.from(chunks()), splitter);
  return found;
}

// Enough to find words and numbers in HTML: tags become spaces, common entities their characters.
function htmlToText(html: string): string {
  return html
    .slice(0, MAX_SCANNED_TEXT * 2)
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&amp;/gi, '&')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&quot;/gi, '"')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/[ \t]+/g, ' ');
}
