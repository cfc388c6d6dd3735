import type { Kysely } from 'kysely';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { DB } from '../../db/schema.ts';
import * as repo from './mail-repository.ts';
import type { OutboxKind } from './mail-repository.ts';
import { parseSmtpUrl } from './smtp-url.ts';

export type { OutboxKind } from './mail-repository.ts';

export interface OutgoingMail {
  /** One or more addresses as a To header value ("Name <a@example.org>, b@example.org"). */
  to: string;
  subject: string;
  text: string;
  html?: string;
  kind: OutboxKind;
  /** Extra header fields (Auto-Submitted, List-Unsubscribe, ...). Values must be single-line. */
  headers?: Record<string, string>;
}

export interface OutboxEntry {
  id: string;
  createdAt: Date;
  to: string;
  subject: string;
  kind: OutboxKind;
}

export interface MailService {
  /** Where mail goes: an SMTP server when SMTP_URL is set, otherwise the outbox table. */
  readonly mode: 'smtp' | 'outbox';
  /** `messageId` is the Message-ID header value, angle brackets included. */
  send(mail: OutgoingMail): Promise<{ delivered: 'smtp' | 'outbox'; messageId: string }>;
  /** Newest first. */
  listOutbox(limit?: number): Promise<OutboxEntry[]>;
  /** The stored message exactly as it would have been sent, or null when there is no such mail. */
  readOutbox(id: string): Promise<Buffer | null>;
  close(): Promise<void>;
}

/**
 * An SMTP server did not take a message. `transient` says whether trying again later may
 * succeed (a 4xx reply, a connection that failed or dropped) or not (a 5xx reply, a refused
 * login, a TLS requirement the server cannot meet). The message never holds the SMTP password.
 */
export class MailDeliveryError extends Error {
  readonly transient: boolean;
  /** The SMTP reply code, when the server answered with one. */
  readonly responseCode: number | null;
  constructor(message: string, transient: boolean, responseCode: number | null) {
    super(message);
    this.name = 'MailDeliveryError';
    this.transient = transient;
    this.responseCode = responseCode;
  }
}

const KINDS: readonly OutboxKind[] = ['verification', 'reset', 'receipt', 'other'];
const DEFAULT_LIST_LIMIT = 50;
const MAX_LIST_LIMIT = 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// RFC 5322 field names: printable ASCII except the colon.
const FIELD_NAME = /^[!-9;-~]+$/;
// Control characters other than tab; CR and LF above all, which would start a new header field.
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
// Fields the service writes itself; a caller's copy would contradict them or leak Bcc.
const RESERVED_FIELDS = new Set(['from', 'sender', 'to', 'cc', 'bcc', 'subject', 'date', 'message-id', 'mime-version']);
// Errors from nodemailer without a reply code that retrying will not cure.
const PERMANENT_CODES = new Set(['EAUTH', 'ENOAUTH', 'ETLS', 'EREQUIRETLS', 'EENVELOPE', 'EMESSAGE', 'ECONFIG']);

export function createMailService(deps: { db: Kysely<DB>; smtpUrl: string | null; from: string; now?: () => Date }): MailService {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  const from = singleLine('from', deps.from);
  if (!new MailComposer({ from }).compile().getEnvelope().from) {
    throw new Error('the sender address for outgoing mail is not an e-mail address');
  }
  const smtp = deps.smtpUrl === null ? null : openSmtp(deps.smtpUrl);

  async function compose(mail: OutgoingMail) {
    // Checked in both modes, so a mistake shows up before the outbox's CHECK constraint would catch it.
    if (!KINDS.includes(mail.kind)) throw new TypeError(`${JSON.stringify(mail.kind)} is not a kind of mail`);
    const to = singleLine('to', mail.to);
    const subject = singleLine('subject', mail.subject);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(mail.headers ?? {})) {
      if (!FIELD_NAME.test(name)) throw new TypeError(`${JSON.stringify(name)} is not a valid header field name`);
      if (RESERVED_FIELDS.has(name.toLowerCase()) || name.toLowerCase().startsWith('content-')) {
        throw new TypeError(`the header field ${name} is set by the mail service, not by callers`);
      }
      headers[name] = singleLine(`header ${name}`, value);
    }
    const node = new MailComposer({
      from,
      to,
      subject,
      // SMTP needs CRLF line ends and nodemailer keeps body line ends as given.
      text: toCrlf(mail.text),
      ...(mail.html === undefined ? {} : { html: toCrlf(mail.html) }),
      headers,
      date: now(),
      // Bodies are strings; nothing may make the composer read a file or fetch a URL.
      disableFileAccess: true,
      disableUrlAccess: true,
    }).compile();
    const envelope = node.getEnvelope();
    if (envelope.to.length === 0) throw new TypeError('the mail has no recipient address');
    const messageId = node.messageId();
    let raw = await node.build();
    // DATA ends the message with CRLF either way; adding it here keeps the outbox copy and the
    // bytes an SMTP server receives identical.
    if (raw.at(-2) !== 0x0d || raw.at(-1) !== 0x0a) raw = Buffer.concat([raw, Buffer.from('\r\n')]);
    return { raw, messageId, envelope: { from: envelope.from as string, to: envelope.to }, to, subject };
  }

  return {
    mode: smtp === null ? 'outbox' : 'smtp',
    async send(mail) {
      const built = await compose(mail);
      if (smtp === null) {
        await repo.insertOutboxMail(db, { toAddress: built.to, subject: built.subject, raw: built.raw, kind: mail.kind, createdAt: now() });
        return { delivered: 'outbox', messageId: built.messageId };
      }
      await smtp.send(built.envelope, built.raw);
      return { delivered: 'smtp', messageId: built.messageId };
    },
    async listOutbox(limit = DEFAULT_LIST_LIMIT) {
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
        throw new RangeError(`the outbox limit must be an integer from 1 to ${MAX_LIST_LIMIT}`);
      }
      const rows = await repo.listOutboxMail(db, limit);
      return rows.map((r) => ({ id: r.id, createdAt: r.created_at, to: r.to_address, subject: r.subject, kind: r.kind }));
    },
    async readOutbox(id) {
      // The column is a uuid: anything else would be a query error rather than "not found".
      if (!UUID.test(id)) return null;
      const row = await repo.findOutboxRaw(db, id);
      return row ? Buffer.from(row.raw) : null;
    },
    async close() {
      smtp?.close();
    },
  };
}

function toCrlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

function singleLine(what: string, value: string): string {
  if (typeof value !== 'string') throw new TypeError(`the ${what} must be a string`);
  if (CONTROL.test(value)) throw new TypeError(`the ${what} must not contain line breaks or control characters`);
  return value;
}

function openSmtp(url: string) {
  const options: SMTPTransport.Options = parseSmtpUrl(url);
  const where = `${String(options.host).includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
  const transport = nodemailer.createTransport(options);
  // Every form in which the password could appear in a server reply or an error text:
  // as given, and base64 as AUTH LOGIN and AUTH PLAIN send it.
  const secrets: string[] = [];
  const auth = options.auth as { user: string; pass: string } | undefined;
  if (auth) {
    secrets.push(auth.pass, Buffer.from(auth.pass).toString('base64'), Buffer.from(`\0${auth.user}\0${auth.pass}`).toString('base64'));
  }
  const redact = (text: string) => secrets.reduce((t, s) => t.split(s).join('[redacted]'), text);

  return {
    async send(envelope: { from: string; to: string[] }, raw: Buffer) {
      try {
        await transport.sendMail({ envelope, raw });
      } catch (err) {
        throw toDeliveryError(err, where, redact);
      }
    },
    close() {
      transport.close();
    },
  };
}

function toDeliveryError(err: unknown, where: string, redact: (text: string) => string): MailDeliveryError {
  const e = (err ?? {}) as { message?: unknown; code?: unknown; responseCode?: unknown; response?: unknown };
  const code = typeof e.code === 'string' ? e.code : null;
  const responseCode = typeof e.responseCode === 'number' && e.responseCode >= 200 && e.responseCode < 600 ? e.responseCode : null;
  const clip = (text: string) => redact(text.replace(/\s+/g, ' ').trim()).slice(0, 300);
  if (responseCode !== null && responseCode >= 400) {
    const transient = responseCode < 500;
    const reply = typeof e.response === 'string' ? clip(e.response) : String(responseCode);
    const verdict = transient ? 'temporarily (try again later)' : 'permanently';
    const what = code === 'EAUTH' ? 'the login' : 'the mail';
    return new MailDeliveryError(`the SMTP server ${where} refused ${what} ${verdict}: ${reply}`, transient, responseCode);
  }
  const detail = clip(typeof e.message === 'string' ? e.message : String(err));
  if (code !== null && PERMANENT_CODES.has(code)) {
    return new MailDeliveryError(`sending through the SMTP server ${where} failed (${code}): ${detail}`, false, responseCode);
  }
  return new MailDeliveryError(`could not deliver to the SMTP server ${where}${code ? ` (${code})` : ''}: ${detail}`, true, responseCode);
}
