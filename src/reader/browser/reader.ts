// The applet-mode reader, bundled to /assets/reader.js (src/reader/bundle.ts). It runs on the key
// service's origin: the envelope secret comes from the URL fragment (never sent to any server),
// the server share from POST keyUrl, the ciphertext from payloadUrl; decryption, parsing and
// rendering happen here. Every text it shows comes from the page (views/pages/open/reader.hbs).
import { EnvelopeAuthError, EnvelopeFormatError, openEnvelope, parseEnvelopeHeader } from '../../crypto/envelope-crypto.ts';
import { parseMessage } from '../message-model.ts';
import { offerShareToOpener } from './key-handover.ts';
import { startRequests, STARTED_REQUESTS, type ReaderRequests } from './requests.ts';
import { renderMessage } from './message-view.ts';

const root = document.getElementById('reader') as HTMLElement | null;
const $ = (id: string) => document.getElementById(id) as HTMLElement;

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

/** Opens and shows the message; returns the server share, for offline re-opening. */
async function open(reader: HTMLElement): Promise<string> {
  const { envelopeId = '' } = reader.dataset;
  const secret = envelopeSecret(envelopeId);
  if (!secret) throw new ShownError(reader.dataset['msgMissing'] ?? '');
  if (!globalThis.crypto?.subtle) throw new ShownError(reader.dataset['msgUnsupported'] ?? '');

  // Both requests at once, usually started already by reader-start.js while this bundle loaded.
  const started = (window as unknown as Record<string, ReaderRequests | undefined>)[STARTED_REQUESTS] ?? startRequests(reader);
  const payloadDownload = started.payload;
  const keyResponse = await started.key;
  if (!keyResponse) throw new ShownError(reader.dataset['msgNetwork'] ?? '');
  const key = (await keyResponse.json().catch(() => ({}))) as { share?: unknown; algorithm?: unknown; title?: unknown; detail?: unknown };
  if (!keyResponse.ok || typeof key.share !== 'string' || !SECRET.test(key.share)) {
    // The key service's refusals are problem+json with human sentences in the page's language.
    const title = typeof key.title === 'string' && key.title ? key.title : (reader.dataset['msgNetwork'] ?? '');
    throw new ShownError(title, typeof key.detail === 'string' ? key.detail : '');
  }
  performance.mark('waxseal:key');

  const ciphertext = await payloadDownload;
  if (!ciphertext) throw new ShownError(reader.dataset['msgNetwork'] ?? '');
  performance.mark('waxseal:payload');

  let raw: Uint8Array;
  try {
    // The released key names its algorithm; an envelope claiming another one was changed.
    if (typeof key.algorithm === 'string' && parseEnvelopeHeader(ciphertext).algorithm !== key.algorithm) throw new EnvelopeAuthError('algorithm mismatch');
    raw = await openEnvelope({ serverShare: fromBase64Url(key.share), envelopeSecret: fromBase64Url(secret), expectedEnvelopeId: fromBase64Url(envelopeId) }, ciphertext);
  } catch (err) {
    if (err instanceof EnvelopeAuthError || err instanceof EnvelopeFormatError) throw new ShownError(reader.dataset['msgDamaged'] ?? '');
    throw err;
  }
  performance.mark('waxseal:decrypted');
  if (raw.length > QUICK_VIEW_BYTES) {
    // A large message (attachments, mostly) is shown in two steps: its head and text from the
    // first megabytes at once, then everything, attachments included, once parsed whole.
    // Attachments are listed only from the whole parse, so none is ever offered cut short.
    const head = await parseMessage(raw.subarray(0, QUICK_VIEW_BYTES));
    renderMessage(reader, { ...head, attachments: [] }, raw);
    performance.mark('waxseal:shown');
    renderMessage(reader, await parseMessage(raw), raw);
    performance.mark('waxseal:complete');
  } else {
    renderMessage(reader, await parseMessage(raw), raw);
    performance.mark('waxseal:shown');
  }
  return key.share;
}

// postal-mime decodes every part while it parses: some 7 ms per megabyte of attachment here.
const QUICK_VIEW_BYTES = 2 * 1024 * 1024;

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
    async (share) => {
      const status = $('status');
      status.textContent = root.dataset['msgOpened'] ?? '';
      status.className = 'visually-hidden';
      // Set by the server only when the envelope allows it and the passphrase was typed, in this
      // opening, with "keep the key on this computer" ticked (docs/opening.md).
      if (root.dataset['offerOffline'] === '1') {
        const kept = await offerShareToOpener(root.dataset['envelopeId'] ?? '', share);
        const offline = $('offline-status');
        offline.textContent = (kept ? root.dataset['msgKept'] : root.dataset['msgNotKept']) ?? '';
        offline.hidden = false;
      }
    },
    (err: unknown) => {
      $('status').hidden = true;
      showError(root, err);
    },
  );
}
