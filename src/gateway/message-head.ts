/**
 * Reads the header block of an outgoing message without touching its body.
 *
 * Messages reaching the gateway can be up to 25 MB, and all the gateway needs
 * before sealing is who sent it, who it is for, the subject and the X-PostX
 * overrides. So this scans only as far as the blank line that ends the
 * headers and leaves the body bytes alone; `bodyOffset` says where they start.
 */
import { Buffer } from 'node:buffer';
import addressparser from 'addressparser';
import libmime from 'libmime';
import { MessageError } from './message-errors.ts';

/** Hard limit: larger messages are refused outright. */
export const DEFAULT_MAX_MESSAGE_BYTES = 25 * 1024 * 1024;
/** Above this, envelopes still work but are slow to download and open in a browser. */
export const RECOMMENDED_MAX_MESSAGE_BYTES = 10 * 1024 * 1024;
/**
 * The blank line ending the headers must appear within this many bytes.
 * Real header blocks are a few kilobytes; a megabyte without one means the
 * input is not a message (or is built to make us scan 25 MB line by line).
 */
export const MAX_HEADER_BLOCK_BYTES = 1024 * 1024;

export interface HeaderField {
  /** Name as written in the message, e.g. "Subject". */
  name: string;
  /** Lower-cased name, for lookups. */
  key: string;
  /** Unfolded value with surrounding whitespace trimmed; RFC 2047 words are left encoded. */
  value: string;
}

export interface Mailbox {
  /** Display name, RFC 2047 decoded; empty when the address has none. */
  name: string;
  /** Trimmed and lower-cased. */
  address: string;
}

export interface MessageHead {
  /** Every header field, in message order. */
  headers: readonly HeaderField[];
  /** First mailbox of the first From header. */
  from: Mailbox;
  /**
   * Recipient addresses, trimmed and lower-cased, in header order; group
   * syntax is flattened and entries without an address are dropped.
   */
  to: string[];
  cc: string[];
  bcc: string[];
  /** RFC 2047 decoded; null when there is no Subject header. */
  subject: string | null;
  /** Raw Date header value. */
  date: string | null;
  /** Raw Message-ID value, angle brackets included. */
  messageId: string | null;
  /** Raw In-Reply-To value. */
  inReplyTo: string | null;
  /** Message IDs listed in References, in order, angle brackets included. */
  references: string[];
  /** Raw Reply-To value. */
  replyTo: string | null;
  /** Total message size in bytes. */
  size: number;
  /** Offset of the first body byte (just past the blank line); equals `size` when there is no body. */
  bodyOffset: number;
  /** Line ending of the first header line, so rewritten headers can match the original. */
  lineEnding: '\r\n' | '\n';
  /** First raw value of a header (name is case-insensitive), or null. */
  get(name: string): string | null;
  /** All raw values of a header (name is case-insensitive), in order. */
  getAll(name: string): string[];
}

export interface MessageHeadLimits {
  maxBytes: number;
  /** The recipients come from elsewhere (the SMTP envelope), so the headers may name none. */
  headerRecipientsOptional?: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

// RFC 5322 field-name: printable ASCII except colon.
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

export function readMessageHead(message: Uint8Array, limits: MessageHeadLimits): MessageHead {
  const size = message.byteLength;
  if (size === 0 || isAllWhitespace(message)) {
    throw new MessageError('message_empty', 'The message is empty: it has no headers and no body.');
  }
  if (size > limits.maxBytes) {
    throw new MessageError(
      'message_too_large',
      `The message is ${describeSize(size, limits.maxBytes)}, over the ${formatSize(limits.maxBytes)} limit for encrypted mail; ` +
        'send fewer or smaller attachments, or share large files by link.',
    );
  }

  const { lines, bodyOffset } = splitHeaderLines(message);
  const headers = unfold(message, lines);

  const index = new Map<string, string[]>();
  for (const field of headers) {
    const list = index.get(field.key);
    if (list) list.push(field.value);
    else index.set(field.key, [field.value]);
  }
  const getAll = (name: string): string[] => [...(index.get(name.toLowerCase()) ?? [])];
  const get = (name: string): string | null => index.get(name.toLowerCase())?.[0] ?? null;

  const fromRaw = get('from');
  const from = fromRaw === null ? undefined : parseAddressList(fromRaw).find((m) => m.address.includes('@'));
  if (!from) {
    throw new MessageError(
      'message_malformed',
      fromRaw === null
        ? 'The message has no From header; add one with the sender\'s address, e.g. "From: Ana <ana@example.com>".'
        : `From: "${preview(fromRaw)}" has no email address; use a form like "Ana <ana@example.com>".`,
      { header: 'From' },
    );
  }

  const addresses = (name: string): string[] => getAll(name).flatMap((v) => parseAddressList(v).map((m) => m.address));
  const to = addresses('to');
  const cc = addresses('cc');
  const bcc = addresses('bcc');
  // With the SMTP envelope's recipients known (a mail filter), "To: undisclosed-recipients:;"
  // is a normal message; only a message on its own must name its recipients.
  if (to.length + cc.length + bcc.length === 0 && !limits.headerRecipientsOptional) {
    throw new MessageError(
      'message_malformed',
      'The message has no recipients: To, Cc and Bcc are all missing or empty; add at least one address.',
      { header: 'To' },
    );
  }

  const subjectRaw = get('subject');
  const firstLine = lines[0];
  const lineEnding = firstLine !== undefined && firstLine.crlf ? '\r\n' : '\n';

  return {
    headers,
    from,
    to,
    cc,
    bcc,
    subject: subjectRaw === null ? null : decodeWords(subjectRaw),
    date: get('date'),
    messageId: get('message-id'),
    inReplyTo: get('in-reply-to'),
    references: parseMessageIds(getAll('references').join(' ')),
    replyTo: get('reply-to'),
    size,
    bodyOffset,
    lineEnding,
    get,
    getAll,
  };
}

/** A sentence for the sender when a message is accepted but larger than recommended, else null. */
export function messageSizeWarning(size: number): string | null {
  if (size <= RECOMMENDED_MAX_MESSAGE_BYTES) return null;
  return (
    `This message is ${describeSize(size, RECOMMENDED_MAX_MESSAGE_BYTES)}; envelopes over ${formatSize(RECOMMENDED_MAX_MESSAGE_BYTES)} ` +
    'are slow for recipients to download and open, so consider sharing large files by link.'
  );
}

interface Line {
  start: number;
  /** Exclusive, line terminator excluded. */
  end: number;
  crlf: boolean;
}

function splitHeaderLines(message: Uint8Array): { lines: Line[]; bodyOffset: number } {
  const size = message.byteLength;
  const lines: Line[] = [];
  let pos = 0;
  for (;;) {
    const nl = message.indexOf(LF, pos);
    if (nl === -1 || nl >= MAX_HEADER_BLOCK_BYTES) {
      // RFC 5322 makes the body optional, so a short message that is all
      // headers (last line possibly unterminated) is still a message.
      if (nl === -1 && size <= MAX_HEADER_BLOCK_BYTES) {
        if (pos < size) {
          const end = message[size - 1] === CR ? size - 1 : size;
          if (end > pos) lines.push({ start: pos, end, crlf: false });
        }
        return { lines, bodyOffset: size };
      }
      throw new MessageError(
        'message_malformed',
        `The message has no blank line ending its headers within the first ${formatSize(MAX_HEADER_BLOCK_BYTES)}; ` +
          'it is not a valid email message.',
      );
    }
    const crlf = nl > pos && message[nl - 1] === CR;
    const end = crlf ? nl - 1 : nl;
    if (end === pos) return { lines, bodyOffset: nl + 1 };
    lines.push({ start: pos, end, crlf });
    pos = nl + 1;
  }
}

function unfold(message: Uint8Array, lines: Line[]): HeaderField[] {
  // Fatal so that invalid UTF-8 is detected and the field falls back to latin1
  // instead of silently turning bytes into U+FFFD.
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const fields: HeaderField[] = [];
  let name = '';
  let parts: Uint8Array[] = [];

  const flush = (): void => {
    if (parts.length === 0) return;
    const bytes = parts.length === 1 ? parts[0]! : concat(parts);
    fields.push({ name, key: name.toLowerCase(), value: decodeHeaderBytes(bytes, utf8).trim() });
    parts = [];
  };

  lines.forEach((line, i) => {
    const first = message[line.start];
    if (first === SP || first === HT) {
      if (parts.length === 0) {
        throw new MessageError(
          'message_malformed',
          `Header line ${i + 1} starts with whitespace, so it continues a header that does not exist: "${previewBytes(message, line)}".`,
        );
      }
      // Unfolding removes only the line break; the leading whitespace stays.
      parts.push(message.subarray(line.start, line.end));
      return;
    }
    flush();
    const colon = message.indexOf(COLON, line.start);
    const rawName = colon === -1 || colon >= line.end ? null : latin1(message.subarray(line.start, colon));
    // RFC 5322 obsolete syntax allows whitespace between the name and the colon.
    const trimmed = rawName?.replace(/[ \t]+$/, '') ?? null;
    if (trimmed === null || !FIELD_NAME.test(trimmed)) {
      throw new MessageError(
        'message_malformed',
        `Header line ${i + 1} is not a "Name: value" header: "${previewBytes(message, line)}".`,
      );
    }
    name = trimmed;
    parts = [message.subarray(colon + 1, line.end)];
  });
  flush();
  return fields;
}

function decodeHeaderBytes(bytes: Uint8Array, utf8: TextDecoder): string {
  try {
    return utf8.decode(bytes);
  } catch {
    // 8-bit headers that are not UTF-8 are almost always Latin-1 or a close
    // Windows relative; latin1 keeps every byte recoverable.
    return latin1(bytes);
  }
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

function isAllWhitespace(message: Uint8Array): boolean {
  // Only look at a short prefix: a long message is never whitespace only in practice,
  // and scanning 25 MB here would defeat the point of reading the head alone.
  const limit = Math.min(message.byteLength, 4096);
  for (let i = 0; i < limit; i++) {
    const b = message[i];
    if (b !== SP && b !== HT && b !== CR && b !== LF) return false;
  }
  return limit === message.byteLength;
}

function parseAddressList(value: string): Mailbox[] {
  const out: Mailbox[] = [];
  const walk = (entries: addressparser.AddressOrGroup[]): void => {
    for (const entry of entries) {
      if ('group' in entry) {
        walk(entry.group);
        continue;
      }
      const address = entry.address.trim().toLowerCase();
      if (address === '') continue;
      out.push({ name: decodeWords(entry.name).trim(), address });
    }
  };
  walk(addressparser(value));
  return out;
}

function decodeWords(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    // A broken encoded word should not make the whole message unreadable.
    return value;
  }
}

function parseMessageIds(value: string): string[] {
  const ids = value.match(/<[^<>]*>/g);
  if (ids) return ids;
  return value.split(/\s+/).filter((s) => s !== '');
}

const KB = 1024;
const MB = 1024 * 1024;

/** "25 MB", "10.5 MB", "2 KB", "10 bytes": whole numbers as they are, others with one decimal. */
function formatSize(bytes: number): string {
  const [unit, name] = bytes >= MB ? [MB, 'MB'] : bytes >= KB ? [KB, 'KB'] : [1, 'bytes'];
  const value = bytes / unit;
  return `${Number.isInteger(value) ? value.toFixed(0) : value.toFixed(1)} ${name}`;
}

/** Size with one decimal, plus the exact byte count when rounding would hide the difference from `limit`. */
function describeSize(size: number, limit: number): string {
  const [unit, name] = size >= MB ? [MB, 'MB'] : size >= KB ? [KB, 'KB'] : [1, 'bytes'];
  if (unit === 1) return `${size} bytes`;
  const shown = (size / unit).toFixed(1);
  if (Number(shown) * unit > limit) return `${shown} ${name}`;
  return `${shown} ${name} (${size.toLocaleString('en-US')} bytes)`;
}

function preview(text: string): string {
  const clean = text.replace(/[\x00-\x1f\x7f]/g, ' ');
  return clean.length > 60 ? `${clean.slice(0, 57)}...` : clean;
}

function previewBytes(message: Uint8Array, line: Line): string {
  return preview(latin1(message.subarray(line.start, Math.min(line.end, line.start + 200))));
}
