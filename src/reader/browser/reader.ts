// The applet-mode reader, bundled to /assets/reader.js (src/reader/bundle.ts). It runs on the key
// service's origin: the envelope secret comes from the URL fragment (never sent to any server),
// the server share from POST keyUrl, the ciphertext from payloadUrl. A worker
// (reader-worker.ts) decrypts and parses; this page shows what it reports. Every text it shows
// comes from the page (views/pages/open/reader.hbs).
import { offerShareToOpener } from './key-handover.ts';
import { SECRET, startOpening, STARTED_OPENING, type StartedOpening } from './start-opening.ts';
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

/** Opens and shows the message; returns the server share, for offline re-opening. */
async function open(reader: HTMLElement): Promise<string> {
  if (!globalThis.crypto?.subtle || typeof Worker === 'undefined') throw new ShownError(reader.dataset['msgUnsupported'] ?? '');
  // Usually started already by reader-start.js from the page's head.
  const slot = window as unknown as Record<string, StartedOpening | null | undefined>;
  if (slot[STARTED_OPENING] === undefined) slot[STARTED_OPENING] = startOpening(reader.dataset);
  const started = slot[STARTED_OPENING];
  if (!started) throw new ShownError(reader.dataset['msgMissing'] ?? '');

  const key = await started.key;
  if (!key) throw new ShownError(reader.dataset['msgNetwork'] ?? '');
  if (!key.ok || !key.share || !SECRET.test(key.share)) {
    // The key service's refusals are problem+json with human sentences in the page's language.
    throw new ShownError(key.title || (reader.dataset['msgNetwork'] ?? ''), key.detail ?? '');
  }
  performance.mark('waxseal:key');
  const share = key.share;

  let headShown = false;
  let ended = false;
  return new Promise((resolve, reject) => {
    started.listen((report) => {
      // The whole message or a failure ends the opening; nothing after either is shown.
      if (ended) return;
      if (report.kind !== 'head') ended = true;
      switch (report.kind) {
        case 'head':
          // A large message: its head and text while the rest arrives; no attachments or
          // "download" until the whole message is here.
          renderMessage(reader, report.message, null);
          headShown = true;
          performance.mark('waxseal:shown');
          return;
        case 'whole':
          renderMessage(reader, report.message, report.raw);
          performance.mark(headShown ? 'waxseal:complete' : 'waxseal:shown');
          resolve(share);
          return;
        case 'failed': {
          const sentence = { damaged: 'msgDamaged', network: 'msgNetwork', unsupported: 'msgUnsupported' }[report.reason];
          reject(new ShownError(reader.dataset[sentence] ?? ''));
        }
      }
    });
  });
}

function showError(reader: HTMLElement, err: unknown): void {
  // A message shown from its first records is withdrawn when the rest does not open.
  $('message').hidden = true;
  $('body').replaceChildren();
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
