// The reader's two requests, the key and the ciphertext, started as early as the page allows:
// by reader-start.ts, a few hundred bytes that run while the main bundle is still being loaded
// and compiled, or by reader.ts itself when that did not happen.

export interface ReaderRequests {
  /** POST keyUrl; null when the request could not be made */
  key: Promise<Response | null>;
  /** GET payloadUrl (announced to the browser as a preload); null on any failure */
  payload: Promise<Uint8Array | null>;
}

/** Where reader-start.ts leaves the requests for reader.ts. */
export const STARTED_REQUESTS = '__waxsealRequests';

const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** Whether this tab holds the envelope secret (fragment, or sessionStorage after a reload). */
export function hasSecret(envelopeId: string): boolean {
  if (SECRET.test(location.hash.replace(/^#/, ''))) return true;
  try {
    return SECRET.test(sessionStorage.getItem(`waxseal:secret:${envelopeId}`) ?? '');
  } catch {
    return false;
  }
}

export function startRequests(reader: HTMLElement): ReaderRequests {
  const { keyUrl = '', payloadUrl = '' } = reader.dataset;
  return {
    key: fetch(keyUrl, { method: 'POST', credentials: 'same-origin', headers: { accept: 'application/json' } }).catch(() => null),
    // Never rejects, so a refused key leaves no unhandled rejection behind.
    payload: fetch(payloadUrl)
      .then((r) => (r.ok ? r.arrayBuffer().then((b) => new Uint8Array(b)) : null))
      .catch(() => null),
  };
}
