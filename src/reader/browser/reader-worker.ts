// The applet reader's decrypting worker, bundled to /assets/reader-worker.js: the crypto core
// and the MIME parser, off the page's main thread, so the page stays responsive and lays itself
// out while the message is decrypted and parsed. It touches no network (its own policy is
// default-src 'none'): the page streams the ciphertext in and receives the parsed message.
import { EnvelopeAuthError, EnvelopeFormatError, openEnvelopeStream, type EnvelopeAlgorithm } from '../../crypto/envelope-crypto.ts';
import { parseMessage, type MessageModel } from '../message-model.ts';
import type { ToWorker, WorkerReport } from './reader-protocol.ts';

// A large message (attachments, mostly) is shown in two steps: its head and text from its first
// megabyte as soon as they are decrypted, while the rest still arrives; then everything,
// attachments included, once the whole envelope opened. Attachments are listed only from the
// whole message, so none is ever offered cut short.
const HEAD_VIEW_BYTES = 1024 * 1024;

class DownloadFailed extends Error {}

const scope = self as unknown as { onmessage: ((event: MessageEvent<ToWorker>) => void) | null; postMessage(message: WorkerReport, transfer?: Transferable[]): void };

// The ciphertext as it arrives, for the one reader of `ciphertext()`.
const pieces: (Uint8Array | null)[] = [];
let ended: 'no' | 'complete' | 'failed' = 'no';
let length: number | null = null;
let wake: (() => void) | null = null;
let started = false;

async function* ciphertext(): AsyncGenerator<Uint8Array> {
  for (let next = 0; ; ) {
    while (next < pieces.length) {
      const piece = pieces[next]!;
      pieces[next++] = null; // the opener copies what it needs
      yield piece;
    }
    if (ended === 'complete') return;
    if (ended === 'failed') throw new DownloadFailed();
    await new Promise<void>((resolve) => (wake = resolve));
  }
}

function fromBase64Url(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** Every buffer in the model, so it moves to the page instead of being copied. */
function buffersOf(message: MessageModel, raw?: Uint8Array): ArrayBuffer[] {
  const all = new Set<ArrayBuffer>();
  const add = (bytes: Uint8Array) => bytes.buffer instanceof ArrayBuffer && all.add(bytes.buffer);
  if (raw) add(raw);
  for (const a of message.attachments) add(a.bytes);
  for (const r of message.related.values()) add(r.bytes);
  return [...all];
}

async function open(key: Extract<ToWorker, { kind: 'key' }>): Promise<void> {
  let head = null as Promise<void> | null;
  const raw = await openEnvelopeStream(
    {
      serverShare: fromBase64Url(key.share),
      envelopeSecret: fromBase64Url(key.secret),
      expectedEnvelopeId: fromBase64Url(key.envelopeId),
      // The released key names its algorithm; an envelope claiming another one was changed.
      ...(key.algorithm ? { expectedAlgorithm: key.algorithm as EnvelopeAlgorithm } : {}),
    },
    ciphertext(),
    {
      expectedLength: length,
      onVerified: (prefix) => {
        if (head || prefix.length < HEAD_VIEW_BYTES) return;
        head = parseMessage(prefix.slice(0, HEAD_VIEW_BYTES)).then((message) => {
          const shown = { ...message, attachments: [] };
          scope.postMessage({ kind: 'head', message: shown }, buffersOf(shown));
        }, () => undefined); // the whole message still comes; a head that did not parse is not shown
      },
    },
  );
  await head;
  const message = await parseMessage(raw);
  scope.postMessage({ kind: 'whole', message, raw }, buffersOf(message, raw));
}

scope.onmessage = (event) => {
  const m = event.data;
  switch (m.kind) {
    case 'length':
      length = m.length;
      return;
    case 'bytes':
      pieces.push(m.bytes);
      break;
    case 'end':
      ended = m.failed ? 'failed' : 'complete';
      break;
    case 'key':
      if (started) return;
      started = true;
      open(m).catch((err: unknown) => {
        const reason = err instanceof EnvelopeAuthError || err instanceof EnvelopeFormatError ? 'damaged' : err instanceof DownloadFailed ? 'network' : 'unsupported';
        scope.postMessage({ kind: 'failed', reason });
      });
      return;
  }
  const w = wake;
  wake = null;
  w?.();
};
