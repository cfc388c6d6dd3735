// The applet-mode reader, bundled to /assets/reader.js. It runs on the key service's origin:
// the envelope secret comes from the URL fragment (never sent to any server), the server share
// from POST keyUrl, the ciphertext from payloadUrl; decryption and rendering happen here.
import DOMPurify from 'dompurify';
import { EnvelopeAuthError, EnvelopeFormatError, openEnvelope } from '../../crypto/envelope-crypto.ts';
import { parseMessage, type MessageView } from '../message-model.ts';
import { sanitizeMessageHtml } from '../sanitize.ts';

const SANDBOX = 'allow-popups allow-popups-to-escape-sandbox';
const root = document.getElementById('reader') as HTMLElement;
const $ = (id: string) => document.getElementById(id) as HTMLElement;

class ShownError extends Error {
  readonly title: string;
  readonly detail: string;
  constructor(title: string, detail = '') {
    super(title);
    this.title = title;
    this.detail = detail;
  }
}

function fromBase64Url(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** The secret: from the fragment on first load, then from this tab's storage (a reload). */
function envelopeSecret(envelopeId: string): string | null {
  const key = `waxseal:secret:${envelopeId}`;
  const fromHash = location.hash.replace(/^#/, '');
  if (/^[A-Za-z0-9_-]{43}$/.test(fromHash)) {
    sessionStorage.setItem(key, fromHash);
    // Out of the address bar, so it is not copied, bookmarked or shown over a shoulder.
    history.replaceState(null, '', location.pathname + location.search);
    return fromHash;
  }
  return sessionStorage.getItem(key);
}

function download(name: string, bytes: Uint8Array, type: string) {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function formatSize(bytes: number): string {
  const [value, unit] = bytes >= 1048576 ? [bytes / 1048576, 'megabyte'] : bytes >= 1024 ? [bytes / 1024, 'kilobyte'] : [bytes, 'byte'];
  return new Intl.NumberFormat(document.documentElement.lang, { style: 'unit', unit, unitDisplay: 'short', maximumFractionDigits: value < 10 ? 1 : 0 }).format(value);
}

function renderBody(message: MessageView, allowRemoteImages: boolean) {
  const body = $('body');
  body.replaceChildren();
  if (message.html) {
    const sanitized = sanitizeMessageHtml(DOMPurify, message.html, { inline: message.inline, allowRemoteImages });
    const frame = document.createElement('iframe');
    frame.className = 'message-frame';
    frame.title = root.dataset.labelFrame ?? '';
    frame.setAttribute('sandbox', SANDBOX);
    frame.srcdoc = sanitized.document;
    body.append(frame);
    $('images-notice').hidden = sanitized.remoteImages === 0;
  } else {
    const pre = document.createElement('pre');
    pre.className = 'message-text';
    pre.textContent = message.text ?? '';
    body.append(pre);
  }
}

function render(message: MessageView, raw: Uint8Array) {
  $('subject').textContent = message.subject || $('subject').textContent;
  $('from').textContent = message.from;
  $('to').textContent = message.to.join(', ');
  $('cc').textContent = message.cc.join(', ');
  $('cc').hidden = $('cc-label').hidden = message.cc.length === 0;
  $('date').textContent = message.date ? new Date(message.date).toLocaleString(document.documentElement.lang) : '';
  renderBody(message, false);
  $('show-images').addEventListener('click', () => renderBody(message, true));
  const list = $('attachments');
  for (const att of message.attachments) {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary';
    button.textContent = att.filename;
    button.addEventListener('click', () => download(att.filename, att.bytes, 'application/octet-stream'));
    const info = document.createElement('span');
    info.className = 'hint';
    info.textContent = ` (${att.mimeType}, ${formatSize(att.size)})`;
    li.append(button, info);
    list.append(li);
  }
  $('attachments-section').hidden = message.attachments.length === 0;
  $('download-eml').addEventListener('click', () => download('message.eml', raw, 'message/rfc822'));
  $('print').addEventListener('click', () => window.print());
  $('message').hidden = false;
}

async function open() {
  const envelopeId = root.dataset.envelopeId!;
  const secret = envelopeSecret(envelopeId);
  if (!secret) throw new ShownError(root.dataset.msgMissing!);
  const keyResponse = await fetch(root.dataset.keyUrl!, { method: 'POST', credentials: 'same-origin' }).catch(() => null);
  if (!keyResponse) throw new ShownError(root.dataset.msgNetwork!);
  const key = (await keyResponse.json().catch(() => ({}))) as { share?: string; title?: string; detail?: string };
  if (!keyResponse.ok || !key.share) throw new ShownError(key.title ?? root.dataset.msgNetwork!, key.detail ?? '');
  const payloadResponse = await fetch(root.dataset.payloadUrl!, { credentials: 'omit' }).catch(() => null);
  if (!payloadResponse?.ok) throw new ShownError(root.dataset.msgNetwork!);
  const ciphertext = new Uint8Array(await payloadResponse.arrayBuffer());
  let raw: Uint8Array;
  try {
    raw = await openEnvelope({ serverShare: fromBase64Url(key.share), envelopeSecret: fromBase64Url(secret), expectedEnvelopeId: fromBase64Url(envelopeId) }, ciphertext);
  } catch (err) {
    if (err instanceof EnvelopeAuthError || err instanceof EnvelopeFormatError) throw new ShownError(root.dataset.msgDamaged!);
    throw err;
  }
  render(await parseMessage(raw), raw);
}

open().then(
  () => {
    $('status').textContent = '';
    $('status').hidden = true;
  },
  (err: unknown) => {
    $('status').hidden = true;
    const shown = err instanceof ShownError ? err : new ShownError(root.dataset.msgUnsupported!);
    $('error-title').textContent = shown.title;
    $('error-detail').textContent = shown.detail;
    $('error').hidden = false;
  },
);
