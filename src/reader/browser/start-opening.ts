// The start of an applet-mode opening, run by reader-start.ts from the reader page's head (so
// before the page is laid out or the main bundle is loaded), or by reader.ts when that did not
// happen. It takes the envelope secret from the address bar, asks for the server share, starts
// the decrypting worker (reader-worker.ts) and streams the ciphertext into it as it arrives.
// The worker has the share and secret as soon as the key answer is in, so it decrypts and
// parses while this page is still loading its own script.
import type { ToWorker, WorkerReport } from './reader-protocol.ts';

/** The key service's answer to the key request: the share, or a refusal in human words. */
export interface KeyAnswer {
  ok: boolean;
  share?: string;
  algorithm?: string;
  title?: string;
  detail?: string;
}

export interface StartedOpening {
  /** null when the request could not be made at all */
  key: Promise<KeyAnswer | null>;
  /** Hands the worker's reports, in order (those already in first), to `handler`. */
  listen(handler: (report: WorkerReport) => void): void;
}

/** Where reader-start.ts leaves the opening for reader.ts. */
export const STARTED_OPENING = '__waxsealOpening';

export const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** src/reader/browser/reader-worker.ts, bundled (src/reader/bundle.ts). */
const WORKER_URL = '/assets/reader-worker.js';

/**
 * The envelope secret: from the fragment on first load, then from this tab's sessionStorage (a
 * reload, or the language chooser). It is removed from the address bar at once, so it is not
 * copied, bookmarked, kept in history or shown over a shoulder.
 */
function takeSecret(envelopeId: string): string | null {
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

/**
 * Starts the opening, or returns null when this tab does not hold the envelope secret: then
 * nothing is requested, since the key would be released (and recorded) for nothing.
 */
export function startOpening(data: { envelopeId?: string; keyUrl?: string; payloadUrl?: string }): StartedOpening | null {
  const envelopeId = data.envelopeId ?? '';
  const secret = takeSecret(envelopeId);
  if (!secret) return null;

  const inbox: WorkerReport[] = [];
  let deliver: ((report: WorkerReport) => void) | null = null;
  const report = (r: WorkerReport) => (deliver ? deliver(r) : inbox.push(r));
  let worker: Worker | null = null;
  try {
    worker = new Worker(WORKER_URL);
    worker.onmessage = (event: MessageEvent<WorkerReport>) => report(event.data);
    worker.onerror = () => report({ kind: 'failed', reason: 'unsupported' });
  } catch {
    report({ kind: 'failed', reason: 'unsupported' });
  }
  const post = (message: ToWorker, transfer: Transferable[] = []) => worker?.postMessage(message, transfer);
  // The ciphertext waits here until the worker has the key: it can do nothing with it before,
  // and hundreds of messages of a piece each would queue the key behind them all. Then it goes
  // over in one message, and every later piece as it arrives.
  let held: Uint8Array[] | null = [];
  let heldEnd: Extract<ToWorker, { kind: 'end' }> | null = null;
  let stopped = false;
  const sendBytes = (piece: Uint8Array) => {
    if (stopped) return;
    if (held) held.push(piece);
    else post({ kind: 'bytes', pieces: [piece] }, [piece.buffer]);
  };
  const sendEnd = (end: Extract<ToWorker, { kind: 'end' }>) => {
    if (stopped) return;
    if (held) heldEnd = end;
    else post(end);
  };
  const release = () => {
    const pieces = held ?? [];
    held = null;
    if (pieces.length > 0) post({ kind: 'bytes', pieces }, pieces.map((p) => p.buffer));
    if (heldEnd) post(heldEnd);
  };
  // No key: nothing more goes anywhere, what was held is let go, and the download stops.
  const download = new AbortController();
  const stop = () => {
    stopped = true;
    held = null;
    worker?.terminate();
    download.abort();
  };

  const key = fetch(data.keyUrl ?? '', { method: 'POST', credentials: 'same-origin', headers: { accept: 'application/json' } }).then(
    async (response) => {
      const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
      const text = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : undefined);
      const answer: KeyAnswer = { ok: response.ok, share: text('share'), algorithm: text('algorithm'), title: text('title'), detail: text('detail') };
      if (answer.ok && answer.share && SECRET.test(answer.share)) {
        post({ kind: 'key', share: answer.share, secret, envelopeId, algorithm: answer.algorithm ?? null });
        release();
      } else stop(); // refused: the ciphertext is of no use
      return answer;
    },
    () => {
      stop();
      return null;
    },
  );

  // Read off the network as it comes (a body nobody reads stalls once the browser's buffer is
  // full) and handed to the worker piece by piece; transferred, not copied.
  fetch(data.payloadUrl ?? '', { signal: download.signal })
    .then(async (response) => {
      if (!response.ok || !response.body) throw new Error('no payload');
      const declared = Number(response.headers.get('content-length'));
      post({ kind: 'length', length: Number.isSafeInteger(declared) && declared > 0 ? declared : null });
      const reader = response.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        sendBytes(value);
      }
      sendEnd({ kind: 'end' });
    })
    .catch(() => sendEnd({ kind: 'end', failed: true }));

  return {
    key,
    listen(handler) {
      deliver = handler;
      for (const r of inbox.splice(0)) handler(r);
    },
  };
}
