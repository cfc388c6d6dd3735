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

/**
 * Reads a message for the rules with postal-mime, which is tolerant: a message it cannot make
 * sense of still gets its headers and whatever text it has, so a rule about them still applies.
 */
export async function ruleMessageFromRaw(raw: Uint8Array, envelope: { sender: string; recipients: readonly string[] }): Promise<RuleMessage> {
  const email = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer' });
  const html = email.html ? htmlToText(email.html) : '';
  const body = [email.text ?? '', html].filter(Boolean).join('\n').slice(0, MAX_SCANNED_TEXT);
  return {
    subject: email.subject ?? '',
    body,
    headers: email.headers.map((h) => ({ name: h.key.toLowerCase(), value: h.value })),
    sender: envelope.sender.toLowerCase(),
    recipients: envelope.recipients.map((r) => r.toLowerCase()),
    attachments: email.attachments.map((a) => ({ name: a.filename ?? '', type: (a.mimeType ?? '').toLowerCase() })),
    size: raw.byteLength,
  };
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
