import libmime from 'libmime';
import libqp from 'libqp';
import { Splitter } from 'mailsplit';

/** What content rules look at in one message. */
export interface RuleMessage {
  subject: string;
  /** the text of the text/plain and text/html parts (HTML reduced to its text), bounded */
  body: string;
  /** every top-level header field, names lower-case, values unfolded and decoded */
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

// A body part's encoded bytes kept for the rules: enough for MAX_SCANNED_TEXT once decoded.
const MAX_ENCODED_TEXT = MAX_SCANNED_TEXT * 2;

/**
 * Reads a message for the rules with mailsplit (nodemailer's streaming MIME splitter): the
 * top-level header fields, the text of the text/plain and text/html parts (decoded, bounded),
 * and every attachment's name and type. Nothing else is kept, so a 25 MB message costs a few
 * megabytes and a 50 KB one well under a millisecond (postal-mime, which decodes every part,
 * took ~4 ms for 50 KB and 800 MB for 25 MB of text). It is tolerant: a message it cannot make
 * sense of still gets its headers and whatever text it has, so a rule about them still applies.
 */
export async function ruleMessageFromRaw(raw: Uint8Array, envelope: { sender: string; recipients: readonly string[] }): Promise<RuleMessage> {
  const parts = await splitParts(raw);
  const headers = parts.find((p) => p.headers !== null)?.headers ?? [];
  const texts = parts.filter((p) => p.text !== null);
  const plain = texts.filter((p) => p.type === 'text/plain').map((p) => p.text!);
  const html = texts.filter((p) => p.type === 'text/html').map((p) => htmlToText(p.text!));
  return {
    subject: headers.find((h) => h.name === 'subject')?.value ?? '',
    body: [...plain, ...html].join('\n').slice(0, MAX_SCANNED_TEXT),
    headers,
    sender: envelope.sender.toLowerCase(),
    recipients: envelope.recipients.map((r) => r.toLowerCase()),
    attachments: parts.filter((p) => p.attachment).map((p) => ({ name: p.filename, type: p.type })),
    size: raw.byteLength,
  };
}

interface SplitNode {
  type: string;
  root: boolean;
  multipart: string | false;
  contentType: string | false;
  encoding: string | false;
  charset: string | false;
  filename: string | false;
  headers: { getFirst(name: string): string; getList(): { key: string; line: string }[] };
}

interface Part {
  type: string;
  filename: string;
  attachment: boolean;
  /** the top-level part's header fields; null for the others */
  headers: { name: string; value: string }[] | null;
  /** the decoded text of a body part; null for everything else */
  text: string | null;
}

async function splitParts(raw: Uint8Array): Promise<Part[]> {
  // A message of one part (not multipart, not an enclosed message) has its text right after the
  // header block. mailsplit reads the header block alone, and the body is taken as it stands,
  // instead of mailsplit walking it line by line to find boundaries it cannot have.
  const bodyStart = headerBlockLength(raw);
  if (bodyStart > 0) {
    const head = await split(raw.subarray(0, bodyStart));
    const root = head.nodes[0];
    if (head.parts.length === 1 && root && !root.multipart && !/^message\//i.test(root.contentType || '')) {
      const part = head.parts[0]!;
      if (part.text !== null) part.text = decodeBody(Buffer.from(raw.buffer, raw.byteOffset + bodyStart, Math.min(raw.byteLength - bodyStart, MAX_ENCODED_TEXT)), root);
      return head.parts;
    }
  }
  return (await split(raw)).parts;
}

/**
 * Up to and including the empty line that ends the header block; -1 if there is none, or if the
 * message starts with an empty line (no header block: mailsplit reads it all as body).
 */
function headerBlockLength(raw: Uint8Array): number {
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (bytes[0] === 0x0a || (bytes[0] === 0x0d && bytes[1] === 0x0a)) return -1;
  const crlf = bytes.indexOf('\n\r\n');
  const lf = bytes.indexOf('\n\n');
  if (crlf === -1 && lf === -1) return -1;
  return crlf !== -1 && (lf === -1 || crlf < lf) ? crlf + 3 : lf + 2;
}

async function split(raw: Uint8Array): Promise<{ parts: Part[]; nodes: SplitNode[] }> {
  const parts: Part[] = [];
  const nodes: SplitNode[] = [];
  let current: { part: Part; node: SplitNode; chunks: Buffer[]; size: number } | null = null;
  const finish = () => {
    if (current && current.part.text !== null) current.part.text = decodeBody(Buffer.concat(current.chunks), current.node);
    current = null;
  };
  const splitter = new Splitter();
  splitter.on('data', (data: SplitNode & { value?: Buffer }) => {
    if (data.type === 'node') {
      finish();
      nodes.push(data);
      const headers = data.root ? headerList(data) : null;
      if (data.multipart) {
        if (headers) parts.push({ type: 'multipart', filename: '', attachment: false, headers, text: null });
        return;
      }
      const type = (data.contentType || 'text/plain').toLowerCase();
      const disposition = (data.headers.getFirst('content-disposition') || '').toLowerCase();
      const isText = !data.filename && !disposition.startsWith('attachment') && (type === 'text/plain' || type === 'text/html');
      const part: Part = { type, filename: data.filename ? decodeWords(data.filename) : '', attachment: !isText, headers, text: isText ? '' : null };
      parts.push(part);
      current = { part, node: data, chunks: [], size: 0 };
    } else if (data.type === 'body' && current !== null && current.part.text !== null && data.value && current.size < MAX_ENCODED_TEXT) {
      current.chunks.push(data.value);
      current.size += data.value.length;
    }
  });
  // Fed in slices: mailsplit then works on small buffers, whatever the message's size. Written
  // straight in rather than through stream.pipeline, whose set-up and teardown (an abort
  // signal and its exception per message) cost about as much as splitting a 50 KB message.
  await new Promise<void>((resolve, reject) => {
    splitter.once('error', reject);
    splitter.once('end', resolve);
    for (let i = 0; i < raw.byteLength; i += 65536) splitter.write(Buffer.from(raw.buffer, raw.byteOffset + i, Math.min(65536, raw.byteLength - i)));
    splitter.end();
  });
  finish();
  return { parts, nodes };
}

function decodeWords(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    // An encoded word in a charset nobody knows: the rules see it as written.
    return value;
  }
}

function headerList(node: SplitNode): { name: string; value: string }[] {
  return node.headers.getList().map((h) => ({ name: h.key.toLowerCase(), value: decodeWords(libmime.decodeHeader(h.line)?.value ?? '') }));
}

function decodeBody(encoded: Buffer, node: SplitNode): string {
  const encoding = (node.encoding || '7bit').toLowerCase();
  const bytes =
    encoding === 'base64'
      ? Buffer.from(encoded.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64')
      : encoding === 'quoted-printable'
        ? libqp.decode(encoded.toString('latin1'))
        : encoded;
  try {
    return new TextDecoder(node.charset || 'utf-8').decode(bytes);
  } catch {
    // A charset the runtime does not know: read as UTF-8, which keeps ASCII words and digits.
    return new TextDecoder('utf-8').decode(bytes);
  }
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
