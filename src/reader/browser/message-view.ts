// The message view shared by the applet reader (reader.ts) and the envelope file's offline
// reader (envelope-file.ts): headers as text, HTML sanitised into a sandboxed srcdoc frame,
// attachments and the whole message saved through Blob URLs (nothing sent anywhere).
import DOMPurify from 'dompurify';
import { formatSize } from '../format-size.ts';
import type { MessageModel } from '../message-model.ts';
import { FRAME_SANDBOX, sanitizeMessageHtml } from '../sanitize.ts';

const $ = (id: string) => document.getElementById(id) as HTMLElement;

/** Saves bytes under a name: a Blob URL on a download link, nothing sent anywhere. */
export function save(name: string, bytes: Uint8Array, type: string): void {
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

function renderBody(root: HTMLElement, message: MessageModel, allowRemoteImages: boolean): void {
  const body = $('body');
  body.replaceChildren();
  const notice = $('images-notice');
  notice.hidden = true;
  if (message.html) {
    const sanitized = sanitizeMessageHtml(DOMPurify, message.html, { related: message.related, allowRemoteImages });
    const frame = document.createElement('iframe');
    frame.className = 'message-frame';
    frame.title = root.dataset['labelFrame'] ?? '';
    frame.setAttribute('sandbox', root.dataset['sandbox'] || FRAME_SANDBOX);
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

/**
 * Fills the message view: the elements with the ids below, on the key service's reader page
 * (views/pages/open/reader.hbs) and in an envelope file that opens offline
 * (views/envelope/securedoc.hbs). `raw` is the whole message, or null while only its beginning
 * is shown. `root` carries the labels as data-* attributes, so this code
 * holds no text of its own.
 */
export function renderMessage(root: HTMLElement, message: MessageModel, raw: Uint8Array | null, opts: { remoteImages: boolean } = { remoteImages: true }): void {
  $('subject').textContent = message.subject || (root.dataset['labelNoSubject'] ?? '');
  $('from').textContent = message.from;
  $('to').textContent = message.to.join(', ');
  $('cc').textContent = message.cc.join(', ');
  $('cc-row').hidden = message.cc.length === 0;
  $('date').textContent = message.date ? new Intl.DateTimeFormat(document.documentElement.lang || 'en', { dateStyle: 'full', timeStyle: 'long' }).format(message.date) : '';
  $('date-row').hidden = message.date === null;
  renderBody(root, message, false);
  // Offline there is no network to ask: remote images are not offered at all.
  if (!opts.remoteImages) $('images-notice').hidden = true;
  // Handlers are assigned, not added, so that rendering again replaces them.
  $('show-images').onclick = () => {
    renderBody(root, message, true);
    // The button is gone with the notice: keep the keyboard user in the message.
    ($('body').querySelector('iframe') as HTMLElement | null)?.focus();
  };

  const list = $('attachments');
  list.replaceChildren();
  for (const att of message.attachments) {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary';
    button.textContent = att.filename;
    button.addEventListener('click', () => save(att.filename, att.bytes, 'application/octet-stream'));
    const info = document.createElement('span');
    info.className = 'hint';
    info.textContent = ` (${att.mimeType}, ${formatSize(att.size, document.documentElement.lang || 'en')})`;
    li.append(button, info);
    list.append(li);
  }
  $('attachments-section').hidden = message.attachments.length === 0;
  // Offered once the whole message is here (raw is null while a large one is still arriving).
  const eml = $('download-eml');
  eml.hidden = raw === null;
  eml.onclick = () => raw && save('message.eml', raw, 'message/rfc822');
  $('print').onclick = () => window.print();
  $('message').hidden = false;
}
