// The applet-mode reader, bundled to /assets/reader.js (src/reader/bundle.ts). It runs on the key
// service's origin: the envelope secret comes from the URL fragment (never sent to any server),
// the server share from POST keyUrl, the ciphertext from payloadUrl; decryption, parsing and
// rendering happen here. Every text it shows comes from the page (views/pages/open/reader.hbs).
import DOMPurify from 'dompurify';
import { EnvelopeAuthError, EnvelopeFormatError, openEnvelope, parseEnvelopeHeader } from '../../crypto/envelope-crypto.ts';
import { formatSize, parseMessage, type MessageModel } from '../message-model.ts';
import { FRAME_SANDBOX, sanitizeMessageHtml } from '../sanitize.ts';

const root = document.getElementById('reader') as HTMLElement | null;
const $ = (id: string) => document.getElementById(id) as HTMLElement;
const lang = document.documentElement.lang || 'en';

/** A failure the reader is told about: a sentence from the page, or the server's problem. */
class ShownError extends Error {
  readonly title: string;
  readonly detail: string;
  constructor(title: string, detail = '') {
    super(title);
    this.title = title;
    this.detail = detail;
  }
}

const SECRET = /^[A-Za-z0-9_-]{43}$/;

function fromBase64Url(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/**
 * The envelope secret: from the fragment on first load, then from this tab's sessionStorage (a
 * reload, or the language chooser). It is removed from the address bar at once, so it is not
 * copied, bookmarked, kept in history or shown over a shoulder.
 */
function envelopeSecret(envelopeId: string): string | null {
  const key = `waxseal:secret:${envelopeId}`;
  const fromHash = location.hash.replace(/^#/, '');
  if (SECRET.test(fromHash)) {
    try {
      sessionStorage.setItem(key, fromHash);
    } catch {
      // Storage may be refused (privacy settings): the message still opens, a reload will not.
    }
    history.replaceState(history.state, '', location.pathname + location.search);
    return fromHash;
  }
  let stored: string | null = null;
  try {
    stored = sessionStorage.getItem(key);
  } catch {
    stored = null;
  }
  return stored && SECRET.test(stored) ? stored : null;
}

/** Saves bytes under a name: a Blob URL on a download link, nothing sent anywhere. */
function save(name: string, bytes: Uint8Array, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // The download has its own copy once it started; the URL is only needed until then.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function renderBody(message: MessageModel, allowRemoteImages: boolean): void {
  const body = $('body');
  body.replaceChildren();
  const notice = $('images-notice');
  notice.hidden = true;
  if (message.html) {
    const sanitized = sanitizeMessageHtml(DOMPurify, message.html, { related: message.related, allowRemoteImages });
    const frame = document.createElement('iframe');
    frame.className = 'message-frame';
    frame.title = root?.dataset['labelFrame'] ?? '';
    frame.setAttribute('sandbox', root?.dataset['sandbox'] || FRAME_SANDBOX);
    frame.setAttribute('referrerpolicy', 'no-referrer');
    frame.srcdoc = sanitized.document;
    body.append(frame);
    notice.hidden = allowRemoteImages || sanitized.remoteImages === 0;
  } else if (message.text) {
    const pre = document.createElement('pre');
    pre.className = 'message-text';
    pre.textContent = message.text;
    body.append(pre);
  }
}

function render(message: MessageModel, raw: Uint8Array): void {
  $('subject').textContent = message.subject || (root?.dataset['labelNoSubject'] ?? '');
  $('from').textContent = message.from;
  $('to').textContent = message.to.join(', ');
  $('cc').textContent = message.cc.join(', ');
  $('cc-row').hidden = message.cc.length === 0;
  $('date').textContent = message.date ? new Intl.DateTimeFormat(lang, { dateStyle: 'full', timeStyle: 'long' }).format(message.date) : '';
  $('date-row').hidden = message.date === null;
  renderBody(message, false);
  $('show-images').addEventListener('click', () => {
    renderBody(message, true);
    // The button is gone with the notice: keep the keyboard user in the message.
    ($('body').querySelector('iframe') as HTMLElement | null)?.focus();
  });

  const list = $('attachments');
  for (const att of message.attachments) {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary';
    button.textContent = att.filename;
    button.addEventListener('click', () => save(att.filename, att.bytes, 'application/octet-stream'));
    const info = document.createElement('span');
    info.className = 'hint';
    info.textContent = ` (${att.mimeType}, ${formatSize(att.size, lang)})`;
    li.append(button, info);
    list.append(li);
  }
  $('attachments-section').hidden = message.attachments.length === 0;
  $('download-eml').addEventListener('click', () => save('message.eml', raw, 'message/rfc822'));
  $('print').addEventListener('click', () => window.print());
  $('message').hidden = false;
}

async function open(reader: HTMLElement): Promise<void> {
  const { envelopeId = '', keyUrl = '', payloadUrl = '' } = reader.dataset;
  const secret = envelopeSecret(envelopeId);
  if (!secret) throw new ShownError(reader.dataset['msgMissing'] ?? '');
  if (!globalThis.crypto?.subtle) throw new ShownError(reader.dataset['msgUnsupported'] ?? '');

  const keyResponse = await fetch(keyUrl, { method: 'POST', credentials: 'same-origin', headers: { accept: 'application/json' } }).catch(() => null);
  if (!keyResponse) throw new ShownError(reader.dataset['msgNetwork'] ?? '');
  const key = (await keyResponse.json().catch(() => ({}))) as { share?: unknown; algorithm?: unknown; title?: unknown; detail?: unknown };
  if (!keyResponse.ok || typeof key.share !== 'string' || !SECRET.test(key.share)) {
    // The key service's refusals are problem+json with human sentences in the page's language.
    const title = typeof key.title === 'string' && key.title ? key.title : (reader.dataset['msgNetwork'] ?? '');
    throw new ShownError(title, typeof key.detail === 'string' ? key.detail : '');
  }

  const payloadResponse = await fetch(payloadUrl, { credentials: 'omit' }).catch(() => null);
  if (!payloadResponse?.ok) throw new ShownError(reader.dataset['msgNetwork'] ?? '');
  const ciphertext = await payloadResponse
    .arrayBuffer()
    .then((b) => new Uint8Array(b))
    .catch(() => null);
  if (!ciphertext) throw new ShownError(reader.dataset['msgNetwork'] ?? '');

  let raw: Uint8Array;
  try {
    // The released key names its algorithm; an envelope claiming another one was changed.
    if (typeof key.algorithm === 'string' && parseEnvelopeHeader(ciphertext).algorithm !== key.algorithm) throw new EnvelopeAuthError('algorithm mismatch');
    raw = await openEnvelope({ serverShare: fromBase64Url(key.share), envelopeSecret: fromBase64Url(secret), expectedEnvelopeId: fromBase64Url(envelopeId) }, ciphertext);
  } catch (err) {
    if (err instanceof EnvelopeAuthError || err instanceof EnvelopeFormatError) throw new ShownError(reader.dataset['msgDamaged'] ?? '');
    throw err;
  }
  render(await parseMessage(raw), raw);
}

function showError(reader: HTMLElement, err: unknown): void {
  const shown = err instanceof ShownError ? err : new ShownError(reader.dataset['msgUnsupported'] ?? '');
  const template = $('error-template') as HTMLTemplateElement;
  const box = template.content.cloneNode(true) as DocumentFragment;
  (box.querySelector('.error-title') as HTMLElement).textContent = shown.title;
  const detail = box.querySelector('.error-detail') as HTMLElement;
  if (shown.detail) detail.textContent = shown.detail;
  else detail.remove();
  // Filled into a live region that was already on the page, so screen readers announce it.
  $('error-region').replaceChildren(box);
}

if (root) {
  open(root).then(
    () => {
      const status = $('status');
      status.textContent = root.dataset['msgOpened'] ?? '';
      status.className = 'visually-hidden';
    },
    (err: unknown) => {
      $('status').hidden = true;
      showError(root, err);
    },
  );
}
