// Offline re-opening (X-PostX-Remember-Envelope-Key-Checkbox): how the key service's reader page
// hands one envelope's server share to the envelope file that opened it, so the file can open
// that envelope again without the network. docs/opening.md describes the whole flow.
//
// The two windows are on different origins: the file is file:// (origin "null"), the reader is
// the key service. Only the file's own window can write to the file's storage, so the share
// travels by postMessage, in four steps:
//   reader → opener  {waxseal: 'ready', envelopeId}           to '*': nothing secret in it
//   file   → reader  {waxseal: 'keep', envelopeId}            to the key service's origin only
//   reader → file    {waxseal: 'key', envelopeId, share}      to the window that asked, see below
//   file   → reader  {waxseal: 'kept' | 'refused', envelopeId}
// The share can only be posted with targetOrigin '*' (an opaque origin cannot be named), so
// the reader sends it only to its own opener, only after that opener asked for this envelope,
// and only when the asking window's origin is "null" (a local file), never to a web page.

export const SHARE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export type HandoverMessage =
  | { waxseal: 'ready' | 'keep' | 'kept' | 'refused'; envelopeId: string }
  | { waxseal: 'key'; envelopeId: string; share: string };

/** The message if `data` is a well-formed handover message about `envelopeId`, else null. */
export function handoverMessage(data: unknown, envelopeId: string): HandoverMessage | null {
  if (typeof data !== 'object' || data === null) return null;
  const m = data as Record<string, unknown>;
  if (m['envelopeId'] !== envelopeId) return null;
  switch (m['waxseal']) {
    case 'ready':
    case 'keep':
    case 'kept':
    case 'refused':
      return { waxseal: m['waxseal'], envelopeId };
    case 'key':
      return typeof m['share'] === 'string' && SHARE_PATTERN.test(m['share']) ? { waxseal: 'key', envelopeId, share: m['share'] } : null;
    default:
      return null;
  }
}

/** Where the envelope file keeps a share: its own localStorage, one entry per envelope. */
export function storageKey(envelopeId: string): string {
  return `waxseal:share:${envelopeId}`;
}

/**
 * The reader's side: offers the share to the window that opened this one. Resolves true once
 * the file confirmed it kept it; false when there is no such window, it refused, or it did not
 * answer within `timeoutMs`.
 */
export function offerShareToOpener(envelopeId: string, share: string, timeoutMs = 5000): Promise<boolean> {
  const opener = window.opener as Window | null;
  if (!opener) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (kept: boolean) => {
      window.removeEventListener('message', onMessage);
      clearTimeout(timer);
      resolve(kept);
    };
    const onMessage = (event: MessageEvent) => {
      // Only the opener, and only while it is a local file: if it navigated to a web page since,
      // its origin is no longer "null" and it gets nothing.
      if (event.source !== opener || event.origin !== 'null') return;
      const message = handoverMessage(event.data, envelopeId);
      if (message?.waxseal === 'keep') {
        (event.source as Window).postMessage({ waxseal: 'key', envelopeId, share } satisfies HandoverMessage, '*');
      } else if (message?.waxseal === 'kept' || message?.waxseal === 'refused') {
        done(message.waxseal === 'kept');
      }
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    window.addEventListener('message', onMessage);
    opener.postMessage({ waxseal: 'ready', envelopeId } satisfies HandoverMessage, '*');
  });
}
