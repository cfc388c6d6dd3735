import { createHash } from 'node:crypto';
import type { i18n } from 'i18next';
import { isLocale } from '../i18n/locales.ts';
import type { Locale } from '../i18n/locales.ts';
import { FRAME_SANDBOX } from '../reader/sanitize.ts';
import { sha256Source } from '../crypto/csp-hash.ts';
import Handlebars from 'handlebars';
import { createTemplateCache, type TemplateCache } from './template-cache.ts';

/**
 * How the recipient's browser opens the envelope.
 * - applet: a small inline script moves the envelope secret into the URL fragment, so the key
 *   service page decrypts in the browser and the server never sees the secret.
 * - server: no script (X-PostX-Suppress-Applet-For-Open); the secret is posted and the key
 *   service decrypts for the duration of that opening.
 * - no-script: a JavaScript-free envelope (X-PostX-Use-Script: false) with an "Open Online"
 *   button; opened like server mode.
 */
export type SecuredocMode = 'applet' | 'server' | 'no-script';
export type SecurityLevel = 'high' | 'medium' | 'none';

export interface SecuredocInput {
  locale: Locale;
  /** base64url, 22 characters (128 bits) */
  envelopeId: string;
  /** 32 bytes; the half of the content key that only this file carries */
  envelopeSecret: Uint8Array;
  /** http(s) URL of the key service, e.g. 'https://keys.example.org' */
  keyServiceUrl: string;
  /** display form, e.g. 'Ana Pérez <ana@example.org>' */
  sender: string;
  to: string[];
  cc: string[];
  date: Date;
  /** shown only when given: some profiles keep the subject out of the envelope */
  subject?: string | null;
  securityLevel: SecurityLevel;
  mode: SecuredocMode;
  /** png, jpeg or gif; embedded as a data: URI */
  logo?: { mediaType: string; data: Uint8Array } | null;
  logoLink?: string | null;
  payload: { kind: 'inline'; ciphertext: Uint8Array } | { kind: 'reference'; url: string };
  expiresAt?: Date | null;
  /**
   * X-PostX-Remember-Envelope-Key-Checkbox: the recipient may keep this envelope's key in the
   * browser's storage for local files, so this file opens again without the network. Only
   * applet mode with an inline payload can do that (the file must hold the ciphertext and run
   * script); otherwise the flag changes nothing here.
   */
  rememberKey?: boolean;
}

export interface SecuredocDeps {
  i18n: i18n;
  /** the views directory (the one holding envelope/securedoc.hbs) */
  views: string;
  /** src/reader/bundle.ts buildEnvelopeFileScript(); required for files that open offline */
  envelopeFileScript?: string;
  /** compiled templates kept between envelopes (a gateway's); without it, compiled for this one */
  templates?: TemplateCache;
}

/**
 * Splits an attribute value that a URL parser or base64 decoder reads (both ignore line breaks)
 * into short lines, after escaping so the cut never falls inside a character reference.
 */
function breakable(value: unknown): Handlebars.SafeString {
  const escaped = Handlebars.Utils.escapeExpression(String(value));
  return new Handlebars.SafeString(chunkUnits(escaped, ATTRIBUTE_CHUNK).join('\n'));
}

/** Whether this file can open offline (see SecuredocInput.rememberKey). */
export function opensOffline(input: Pick<SecuredocInput, 'mode' | 'rememberKey' | 'payload'>): boolean {
  return input.mode === 'applet' && input.rememberKey === true && input.payload.kind === 'inline';
}

// The file travels as a 7bit MIME part, so its lines must stay well under the 998-octet limit of
// RFC 5322; 200 leaves room for mail systems that rewrap long lines anyway.
export const SECUREDOC_MAX_LINE = 200;

const PAYLOAD_PLACEHOLDER = 'WAXSEAL-INLINE-PAYLOAD-PLACEHOLDER';
// Where generated text is wrapped; below the hard limit so closing tags still fit on the line.
const TEXT_WRAP_COLUMN = 120;
// Length of the lines that base64 data and long URLs are cut into inside attribute values.
const ATTRIBUTE_CHUNK = 76;

const LOGO_TYPES: Record<string, (data: Uint8Array) => boolean> = {
  'image/png': (d) => startsWith(d, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  'image/jpeg': (d) => startsWith(d, [0xff, 0xd8, 0xff]),
  'image/gif': (d) => startsWith(d, [0x47, 0x49, 0x46, 0x38, 0x37, 0x61]) || startsWith(d, [0x47, 0x49, 0x46, 0x38, 0x39, 0x61]),
};

// The page's only style sheet. No url(), no @import, no web fonts: the file must render with no
// network access and the CSP allows nothing else. Colours keep a contrast ratio of at least
// 7:1 for body text and 4.5:1 for everything else (WCAG AA/AAA).
const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body {
  margin: 0; background: #eef1f5; color: #1b1f24;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, sans-serif;
}
.banner {
  display: flex; align-items: center; gap: 1rem; flex-wrap: wrap;
  max-width: 44rem; margin: 0 auto; padding: 1.25rem 1rem 0.5rem;
}
.banner img { display: block; max-height: 64px; max-width: 240px; }
.banner p { margin: 0; font-weight: 600; color: #3d4652; }
main {
  max-width: 44rem; margin: 0 auto 1.5rem; padding: 1.5rem;
  background: #ffffff; border: 1px solid #c5ccd6; border-radius: 8px;
}
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 0.75rem; }
h2 { font-size: 1.125rem; margin: 1.5rem 0 0.5rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 0; }
dt { font-weight: 600; color: #3d4652; }
dd { margin: 0; overflow-wrap: anywhere; }
dd ul { list-style: none; margin: 0; padding: 0; }
ol { padding-left: 1.5rem; }
li { margin: 0.25rem 0; }
.note { color: #3d4652; }
form { margin: 1.5rem 0 0.5rem; }
button {
  font: inherit; font-weight: 600; cursor: pointer;
  min-width: 10rem; padding: 0.75rem 1.5rem;
  color: #ffffff; background: #0a4d8c; border: 2px solid #0a4d8c; border-radius: 6px;
}
button:hover { background: #083c6d; border-color: #083c6d; }
button:focus-visible { outline: 3px solid #1b1f24; outline-offset: 3px; }
footer { max-width: 44rem; margin: 0 auto 2rem; padding: 0 1rem; font-size: 0.875rem; color: #3d4652; }
.visually-hidden {
  position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; border: 0;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap;
}
@media (max-width: 30rem) {
  dl { grid-template-columns: 1fr; }
  dd { margin-bottom: 0.5rem; }
}
@media (forced-colors: active) {
  button { border-color: ButtonText; }
}
`;

// Added for files that open offline: the message view (the same ids and classes as the key
// service's reader page, views/pages/open/reader.hbs).
const OFFLINE_STYLE = `
button.secondary { color: #0a4d8c; background: #ffffff; }
button.secondary:hover { color: #ffffff; }
.actions { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; margin: 1rem 0; }
.message-frame { display: block; width: 100%; height: 70vh; border: 1px solid #c5ccd6; border-radius: 6px; background: #ffffff; }
.message-text { white-space: pre-wrap; overflow-wrap: anywhere; font: inherit; }
.attachments { list-style: none; padding: 0; }
/* The message's Cc and Date rows can be hidden; shown, they join the details grid. */
dl > div:not([hidden]) { display: contents; }
.hint { color: #3d4652; }
@media print { .no-print, header, footer, #details, #open-section, #offline { display: none; } }
`;

// applet mode only. On submit, the envelope secret leaves the posted fields and becomes the
// action URL's fragment: the browser keeps the fragment on the key service's page (where its own
// script derives the key) but never sends it to the server. form.action is read rather than the
// attribute because the attribute may be split over several lines, which the URL parser drops.
// If this script does not run, the secret is posted as a field and the key service opens the
// message itself; that fallback is intended.
const SCRIPT = `
(function () {
  "use strict";
  var form = document.getElementById("open-form");
  if (!form) { return; }
  form.addEventListener("submit", function () {
    var field = form.elements.namedItem("secret");
    if (!field || !field.value) { return; }
    var secret = field.value;
    var action = String(form.action).split("#")[0];
    field.parentNode.removeChild(field);
    form.action = action + "#" + secret;
  });
}());
`;

/**
 * Builds securedoc.html: a self-contained page whose only active part is a form that takes the
 * recipient to the key service.
 *
 * The page never asks for a passphrase (no input the user types into): a local file can be
 * forged by anyone, so passphrases are typed only on the key service's own origin.
 *
 * The result is pure ASCII with LF line endings and lines of at most SECUREDOC_MAX_LINE
 * characters, ready to be attached as a 7bit MIME part. Invalid input throws TypeError.
 */
export function buildSecuredoc(input: SecuredocInput, deps: SecuredocDeps): string {
  const checked = validate(input);
  const templates = deps.templates ?? createTemplateCache(deps);
  const t = deps.i18n.getFixedT(input.locale);
  const dates = templates.dates(input.locale);

  const applet = input.mode === 'applet';
  const offline = opensOffline(input);
  if (offline && !deps.envelopeFileScript) throw new TypeError('envelopeFileScript is required for an envelope that opens offline');
  const style = offline ? STYLE + OFFLINE_STYLE : STYLE;
  const script = offline ? deps.envelopeFileScript! : applet ? SCRIPT : null;
  const csp = [
    "default-src 'none'",
    'img-src data:',
    // The offline message view shows the message's HTML in a srcdoc frame, which inherits this
    // policy: its inline styles need 'unsafe-inline' (a hash beside it would switch that off).
    // The page itself takes no untrusted markup: the script sets only text, the frame is
    // sandboxed without scripts and carries its own policy (src/reader/sanitize.ts).
    offline ? "style-src 'unsafe-inline'" : `style-src '${sha256Source(style)}'`,
    ...(offline ? ['font-src data:'] : []),
    `script-src ${script === null ? "'none'" : `'${sha256Source(script)}'`}`,
    `form-action ${checked.keyService.origin}`,
    "base-uri 'none'",
  ].join(';\n');

  const data = {
    lang: input.locale,
    csp,
    style,
    script,
    logo: input.logo
      ? { src: `data:${checked.logoType};base64,${Buffer.from(input.logo.data).toString('base64')}` }
      : null,
    logoLink: checked.logoLink,
    sender: input.sender,
    to: input.to,
    cc: input.cc,
    date: { iso: input.date.toISOString(), text: dates.format(input.date) },
    subject: typeof input.subject === 'string' ? input.subject : null,
    expires: input.expiresAt ? { iso: input.expiresAt.toISOString(), text: dates.format(input.expiresAt) } : null,
    keyServiceHost: checked.keyService.host,
    levelKey: `envelope:level.${input.securityLevel}`,
    action: checked.action,
    mode: input.mode,
    secret: Buffer.from(input.envelopeSecret).toString('base64url'),
    // A placeholder: the payload (up to megabytes of base64) is put in after the page is made
    // 7bit-safe, so that work costs the same for a 1 KB and a 2 MB envelope. Base64 is ASCII and
    // has no character that needs escaping in a double-quoted attribute.
    payload: input.payload.kind === 'inline' ? PAYLOAD_PLACEHOLDER : null,
    payloadUrl: checked.payloadUrl,
    button: t(input.mode === 'no-script' ? 'envelope:securedoc.openOnline' : 'envelope:securedoc.open'),
    offline: offline ? { envelopeId: input.envelopeId, sandbox: FRAME_SANDBOX } : null,
  };

  const render = templates.compile(input.locale, templates.view('envelope/securedoc.hbs'), { name: 'securedoc template' });
  const page = toSevenBitHtml(render(data, { helpers: { breakable } }));
  if (input.payload.kind !== 'inline') return page;
  const payload = chunkUnits(Buffer.from(input.payload.ciphertext).toString('base64'), ATTRIBUTE_CHUNK).join('\n');
  return page.replace(PAYLOAD_PLACEHOLDER, () => payload);
}

interface Checked {
  keyService: URL;
  action: string;
  logoType: string | null;
  logoLink: string | null;
  payloadUrl: string | null;
}

function validate(input: SecuredocInput): Checked {
  if (!isLocale(input.locale)) throw new TypeError(`unsupported locale: ${String(input.locale)}`);
  if (typeof input.envelopeId !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(input.envelopeId)) {
    throw new TypeError('envelopeId must be 22 base64url characters');
  }
  if (!(input.envelopeSecret instanceof Uint8Array) || input.envelopeSecret.length !== 32) {
    throw new TypeError('envelopeSecret must be 32 bytes');
  }
  const keyService = parseHttpUrl(input.keyServiceUrl, 'keyServiceUrl');
  if (keyService.search !== '' || keyService.hash !== '') {
    throw new TypeError('keyServiceUrl must not have a query or a fragment');
  }
  // The origin goes into the CSP as a host-source, so the host must be a plain DNS name or IPv4
  // literal (the URL parser lets through characters such as '"' that would break the policy).
  // IPv6 literals are refused: CSP host-sources cannot express them, browsers drop the source,
  // form-action becomes 'none' and the Open button would silently do nothing.
  if (!/^(?:[a-z0-9-]+\.)*[a-z0-9-]+$/.test(keyService.hostname)) {
    throw new TypeError('keyServiceUrl has an unusable host (use a DNS name or an IPv4 address)');
  }
  if (typeof input.sender !== 'string' || input.sender.trim() === '') throw new TypeError('sender is required');
  for (const [name, list] of [['to', input.to], ['cc', input.cc]] as const) {
    if (!Array.isArray(list) || !list.every((entry) => typeof entry === 'string')) {
      throw new TypeError(`${name} must be a list of strings`);
    }
  }
  if (!isValidDate(input.date)) throw new TypeError('date must be a valid Date');
  if (input.expiresAt !== undefined && input.expiresAt !== null && !isValidDate(input.expiresAt)) {
    throw new TypeError('expiresAt must be a valid Date or null');
  }
  if (input.subject !== undefined && input.subject !== null && typeof input.subject !== 'string') {
    throw new TypeError('subject must be a string or null');
  }
  if (!['high', 'medium', 'none'].includes(input.securityLevel)) throw new TypeError('unknown securityLevel');
  if (!['applet', 'server', 'no-script'].includes(input.mode)) throw new TypeError('unknown mode');

  let logoType: string | null = null;
  if (input.logo) {
    const type = String(input.logo.mediaType).toLowerCase().trim();
    const sniff = Object.hasOwn(LOGO_TYPES, type) ? LOGO_TYPES[type] : undefined;
    if (!sniff) throw new TypeError('logo must be image/png, image/jpeg or image/gif');
    // The declared type must match the bytes, so nothing else (an SVG with script, say) can be
    // smuggled in under an image type.
    if (!(input.logo.data instanceof Uint8Array) || !sniff(input.logo.data)) {
      throw new TypeError(`logo data is not ${type}`);
    }
    logoType = type;
  }
  const logoLink = input.logoLink ? parseHttpUrl(input.logoLink, 'logoLink').href : null;

  let payloadUrl: string | null = null;
  if (input.payload?.kind === 'inline') {
    if (!(input.payload.ciphertext instanceof Uint8Array) || input.payload.ciphertext.length === 0) {
      throw new TypeError('inline payload must be a non-empty Uint8Array');
    }
  } else if (input.payload?.kind === 'reference') {
    payloadUrl = parseHttpUrl(input.payload.url, 'payload url').href;
  } else {
    throw new TypeError('payload must be inline or a reference');
  }

  const base = keyService.href.replace(/\/+$/, '');
  return { keyService, action: `${base}/open/${input.envelopeId}`, logoType, logoLink, payloadUrl };
}

function parseHttpUrl(value: unknown, name: string): URL {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new TypeError(`${name} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`${name} must be an http(s) URL`);
  if (url.username !== '' || url.password !== '') throw new TypeError(`${name} must not carry credentials`);
  return url;
}

function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

function startsWith(data: Uint8Array, prefix: number[]): boolean {
  return data.length >= prefix.length && prefix.every((byte, i) => data[i] === byte);
}


// Splits text into units that must not be cut: a character reference ("&amp;", "&#x27;") or a
// single code point.
function splitUnits(text: string): string[] {
  return text.match(/&#?[A-Za-z0-9]+;|[\s\S]/gu) ?? [];
}

function chunkUnits(text: string, size: number): string[] {
  // Fast path for base64 and plain URLs (an inline payload can be megabytes long).
  if (!/[^\x20-\x25\x27-\x7e]/.test(text)) {
    const lines: string[] = [];
    for (let i = 0; i < text.length; i += size) lines.push(text.slice(i, i + size));
    return lines.length > 0 ? lines : [''];
  }
  const lines: string[] = [];
  let line = '';
  for (const unit of splitUnits(text)) {
    if (line.length > 0 && line.length + unit.length > size) {
      lines.push(line);
      line = '';
    }
    line += unit;
  }
  if (line.length > 0 || lines.length === 0) lines.push(line);
  return lines;
}

function toReference(char: string): string {
  return `&#x${(char.codePointAt(0) ?? 0).toString(16)};`;
}

/**
 * Turns the rendered page into something a 7bit MIME part can carry: every non-ASCII character
 * becomes a numeric character reference, and long runs of text are wrapped.
 *
 * Text is wrapped at a space where there is one (a line break renders as a space). Text without
 * spaces (Japanese, Chinese, a long address) is cut with an empty comment holding the line
 * break, "<!--\n-->", which renders as nothing at all. Tag and attribute text is left alone:
 * the template keeps tags short, and long attribute values were already split where that is
 * harmless. Style and script text must already be ASCII, since their CSP hashes cover it.
 *
 * The tokenizer only needs to handle what our template produces: Handlebars escapes '<' and '>'
 * in every value, so any '<' in the output starts markup.
 */
function toSevenBitHtml(html: string): string {
  let out = '';
  let column = 0;
  const emit = (text: string): void => {
    out += text;
    const lastBreak = text.lastIndexOf('\n');
    column = lastBreak === -1 ? column + text.length : text.length - lastBreak - 1;
  };

  let i = 0;
  while (i < html.length) {
    if (html.startsWith('<!--', i)) {
      const end = html.indexOf('-->', i + 4);
      const stop = end === -1 ? html.length : end + 3;
      emit(asciiOnly(html.slice(i, stop)));
      i = stop;
      continue;
    }
    if (html[i] === '<') {
      const end = html.indexOf('>', i);
      const stop = end === -1 ? html.length : end + 1;
      const tag = html.slice(i, stop);
      emit(asciiOnly(tag));
      i = stop;
      const raw = /^<(style|script|title)\b/i.exec(tag);
      if (raw?.[1] !== undefined) {
        const name = raw[1].toLowerCase();
        const closing = new RegExp(`</${name}`, 'gi');
        closing.lastIndex = i;
        const close = closing.exec(html);
        const contentEnd = close === null ? html.length : close.index;
        const content = html.slice(i, contentEnd);
        if (name === 'title') {
          // RCDATA: character references work but comments do not, so wrap at spaces only.
          emit(wrapText(content, column, false));
        } else {
          if (!/^[\x00-\x7f]*$/.test(content)) throw new Error(`inline ${name} must be ASCII`);
          emit(content);
        }
        i = contentEnd;
      }
      continue;
    }
    const next = html.indexOf('<', i);
    const stop = next === -1 ? html.length : next;
    emit(wrapText(html.slice(i, stop), column));
    i = stop;
  }

  const tooLong = out.split('\n').findIndex((line) => line.length > SECUREDOC_MAX_LINE);
  if (tooLong !== -1) throw new Error(`securedoc line ${tooLong + 1} is longer than ${SECUREDOC_MAX_LINE} characters`);
  if (!/^[\x09\x0a\x20-\x7e]*$/.test(out)) throw new Error('securedoc output is not printable ASCII');
  return out;
}

// Control characters (other than tab and line feed) have no business in the page; a CR from a
// header value would also break the LF-only rule. They become spaces.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

function asciiOnly(text: string): string {
  return text.replace(CONTROL, ' ').replace(/[^\x00-\x7f]/gu, toReference);
}

function wrapText(text: string, startColumn: number, commentBreaks = true): string {
  const parts: string[] = [];
  let column = startColumn;
  // Index in parts of the last space on the current line, if any.
  let lastSpace = -1;
  for (const rawUnit of splitUnits(text.replace(CONTROL, ' '))) {
    const unit = /^[\x00-\x7f]/.test(rawUnit) ? rawUnit : toReference(rawUnit);
    if (unit === '\n') {
      parts.push(unit);
      column = 0;
      lastSpace = -1;
      continue;
    }
    if (column + unit.length > TEXT_WRAP_COLUMN) {
      if (unit === ' ') {
        parts.push('\n');
        column = 0;
        lastSpace = -1;
        continue;
      }
      if (lastSpace !== -1) {
        parts[lastSpace] = '\n';
        column = parts.slice(lastSpace + 1).join('').length;
        lastSpace = -1;
      } else if (commentBreaks) {
        parts.push('<!--\n-->');
        column = 3;
      }
    }
    if (unit === ' ') lastSpace = parts.length;
    parts.push(unit);
    column += unit.length;
  }
  return parts.join('');
}
