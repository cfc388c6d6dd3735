// The script of an envelope file (securedoc.html) whose envelope allows offline re-opening
// (X-PostX-Remember-Envelope-Key-Checkbox), built by src/reader/bundle.ts and put inline by
// src/envelope/securedoc.ts. Envelope files without that flag carry a few lines instead
// (securedoc.ts, SCRIPT) that only do step 1.
//
// 1. "Open": the envelope secret moves from the posted fields into the action URL's fragment,
//    and the key service opens in a window of its own, so that its reader page can hand the
//    server share back to this window (key-handover.ts) when the recipient asked for that.
// 2. Once this file's storage holds the share, "Read it here" decrypts the inline payload and
//    shows the message in this page, with no network at all; "Forget" deletes the share.
import { EnvelopeAuthError, EnvelopeFormatError, openEnvelope } from '../../crypto/envelope-crypto.ts';
import { parseMessage } from '../message-model.ts';
import { handoverMessage, storageKey, SHARE_PATTERN, type HandoverMessage } from './key-handover.ts';
import { renderMessage } from './message-view.ts';
import { fromBase64 } from './base64.ts';

const $ = (id: string) => document.getElementById(id) as HTMLElement | null;
const text = (id: string) => $(id)?.textContent?.trim() ?? '';

/** localStorage, or null where the browser refuses it to local files. */
function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

function readShare(envelopeId: string): string | null {
  try {
    const share = storage()?.getItem(storageKey(envelopeId)) ?? null;
    return share && SHARE_PATTERN.test(share) ? share : null;
  } catch {
    return null;
  }
}

function start(form: HTMLFormElement, root: HTMLElement): void {
  const envelopeId = root.dataset['envelopeId'] ?? '';
  const keyService = new URL(form.action).origin;
  const secretField = form.elements.namedItem('secret') as HTMLInputElement | null;
  const payloadField = form.elements.namedItem('payload') as HTMLInputElement | null;
  // Read now: "Open" removes the secret from the form.
  const secret = secretField?.value ?? '';
  let keyWindow: Window | null = null;

  const offline = $('offline');
  const status = $('offline-status');
  const say = (message: string) => {
    if (status) status.textContent = message;
  };
  const refresh = () => {
    if (offline) offline.hidden = readShare(envelopeId) === null;
  };

  form.addEventListener('submit', () => {
    if (secretField?.value) {
      const action = String(form.action).split('#')[0];
      secretField.remove();
      form.action = `${action}#${secret}`;
    }
    // A named window opened by this script keeps `opener`; a form's own target="_blank" would not.
    // If the browser refuses the window, the key service opens here, without offline re-opening.
    const name = `waxseal-${envelopeId}`;
    keyWindow = window.open('', name);
    if (keyWindow) form.target = name;
  });

  window.addEventListener('message', (event: MessageEvent) => {
    if (keyWindow === null || event.source !== keyWindow || event.origin !== keyService) return;
    const message = handoverMessage(event.data, envelopeId);
    const reply = (m: HandoverMessage) => keyWindow?.postMessage(m, keyService);
    if (message?.waxseal === 'ready') reply({ waxseal: 'keep', envelopeId });
    if (message?.waxseal === 'key') {
      let kept = false;
      try {
        const store = storage();
        if (store) {
          store.setItem(storageKey(envelopeId), message.share);
          kept = true;
        }
      } catch {
        kept = false;
      }
      reply({ waxseal: kept ? 'kept' : 'refused', envelopeId });
      refresh();
    }
  });

  $('offline-read')?.addEventListener('click', () => {
    const share = readShare(envelopeId);
    if (!share || !payloadField || !SHARE_PATTERN.test(secret)) return;
    say(text('msg-opening'));
    openHere(root, envelopeId, share, secret, payloadField.value).then(
      () => {
        say(text('msg-opened'));
        $('message')?.focus();
      },
      (err: unknown) => {
        if (err instanceof EnvelopeAuthError || err instanceof EnvelopeFormatError) {
          // A share that does not open this file is of no use to keep.
          storage()?.removeItem(storageKey(envelopeId));
          refresh();
          say(text('msg-damaged'));
        } else {
          say(text('msg-unsupported'));
        }
      },
    );
  });

  $('offline-forget')?.addEventListener('click', () => {
    try {
      storage()?.removeItem(storageKey(envelopeId));
    } catch {
      // Nothing stored, or storage gone: either way nothing is kept.
    }
    const message = $('message');
    if (message) message.hidden = true;
    $('body')?.replaceChildren();
    refresh();
    say(text('msg-forgotten'));
  });

  refresh();
}

async function openHere(root: HTMLElement, envelopeId: string, share: string, secret: string, payload: string): Promise<void> {
  if (!globalThis.crypto?.subtle) throw new Error('no WebCrypto');
  const raw = await openEnvelope({ serverShare: fromBase64(share), envelopeSecret: fromBase64(secret), expectedEnvelopeId: fromBase64(envelopeId) }, fromBase64(payload));
  // Labels live in the page as text (attributes are not wrapped for 7bit mail); the shared view
  // reads them from data-* attributes.
  root.dataset['labelFrame'] = text('label-frame');
  root.dataset['labelNoSubject'] = text('label-no-subject');
  renderMessage(root, await parseMessage(raw), raw, { remoteImages: false });
}

const form = document.getElementById('open-form') as HTMLFormElement | null;
const root = $('reader');
if (form && root) start(form, root);
