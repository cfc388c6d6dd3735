// The applet reader's decrypting worker, bundled to /assets/reader-worker.js: the crypto core
// and the MIME parser, off the page's main thread, so the page stays responsive and lays itself
// out while the message is decrypted and parsed. It touches no network (its own policy is
// default-src 'none'): the page streams the ciphertext in and receives the parsed message.
import { EnvelopeAuthError, EnvelopeFormatError, openEnvelopeStream, type EnvelopeAlgorithm } from '../../crypto/envelope-crypto.ts';
import { createHeadView } from '../head-view.ts';
import { parseMessage, type MessageModel } from '../message-model.ts';
import type { ToWorker, WorkerReport } from './reader-protocol.ts';
import { fromBase64 } from './base64.ts';

class DownloadFailed extends Error {}

const scope = self as unknown as { onmessage: ((event: MessageEvent<ToWorker>) => void) | null; postMessage(message: WorkerReport, transfer?: Transferable[]): void };

/**
 * The ciphertext as the page hands it over, for the one reader of `pieces()`: pieces wait here
 * until the opener (which copies what it needs) takes them.
 */
function ciphertextQueue() {
  const waiting: (Uint8Array | null)[] = [];
  let ended: 'no' | 'complete' | 'failed' = 'no';
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  return {
    push(bytes: Uint8Array) {
      waiting.push(bytes);
      notify();
    },
    end(failed: boolean) {
      ended = failed ? 'failed' : 'complete';
      notify();
    },
    async *pieces(): AsyncGenerator<Uint8Array> {
      for (let next = 0; ; ) {
        while (next < waiting.length) {
          const piece = waiting[next]!;
          waiting[next++] = null;
          yield piece;
        }
        if (ended === 'complete') return;
        if (ended === 'failed') throw new DownloadFailed();
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
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

async function open(key: Extract<ToWorker, { kind: 'key' }>, ciphertext: AsyncIterable<Uint8Array>, length: number | null): Promise<void> {
  const head = createHeadView({ length, show: (message) => scope.postMessage({ kind: 'head', message }, buffersOf(message)) });
  // The head comes first. While it may still be shown, the ciphertext goes in 64 KiB at a time
  // (the first megabytes often arrive as one piece, which would all be decrypted before the
  // first try), and nothing more is decrypted while a try is being parsed: on one thread, that
  // would only make the head later.
  const pieces = (async function* () {
    for await (const piece of ciphertext) {
      for (let at = 0; at < piece.length; ) {
        await head.settled();
        const end = head.canStillShow() ? Math.min(piece.length, at + 65536) : piece.length;
        yield piece.subarray(at, end);
        at = end;
      }
    }
  })();
  let raw: Uint8Array;
  try {
    raw = await openEnvelopeStream(
      {
        serverShare: fromBase64(key.share),
        envelopeSecret: fromBase64(key.secret),
        expectedEnvelopeId: fromBase64(key.envelopeId),
        // The released key names its algorithm; an envelope claiming another one was changed.
        ...(key.algorithm ? { expectedAlgorithm: key.algorithm as EnvelopeAlgorithm } : {}),
      },
      pieces,
      { expectedLength: length, onVerified: (prefix) => head.offer(prefix) },
    );
  } finally {
    // Whole or failed, the opening has ended: a head still being parsed must not follow the
    // error (it would show what was withdrawn), nor the whole message.
    head.cancel();
    await head.settled();
  }
  const message = await parseMessage(raw);
  scope.postMessage({ kind: 'whole', message, raw }, buffersOf(message, raw));
}

// One worker per opening: this is its only state.
const queue = ciphertextQueue();
let length: number | null = null;
let started = false;

scope.onmessage = (event) => {
  const m = event.data;
  switch (m.kind) {
    case 'length':
      length = m.length;
      return;
    case 'bytes':
      for (const piece of m.pieces) queue.push(piece);
      return;
    case 'end':
      queue.end(m.failed === true);
      return;
    case 'key':
      if (started) return;
      started = true;
      open(m, queue.pieces(), length).catch((err: unknown) => {
        const reason = err instanceof EnvelopeAuthError || err instanceof EnvelopeFormatError ? 'damaged' : err instanceof DownloadFailed ? 'network' : 'unsupported';
        scope.postMessage({ kind: 'failed', reason });
      });
  }
};
