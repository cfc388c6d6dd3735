import type { KeyRing } from '../../crypto/kek.ts';

/**
 * The state of one opening (from the click on "Open" until the message is shown), kept in the
 * recipient's browser as a cookie sealed with the key-encryption key: AES-256-GCM, bound to the
 * envelope id, so it cannot be read, forged, or moved to another envelope. Any node can read it
 * (they share the KEK) and none keeps it, which is what lets server mode hold the envelope
 * secret "only for the lifetime of that opening, never on disk" (DESIGN.md section 3.4).
 *
 * In applet mode there is no secret in it: the secret stays in the URL fragment.
 */
export interface Opening {
  mode: 'applet' | 'server';
  /** base64url; server mode only */
  secret: string | null;
  /** when "Open" was clicked; High security wants the passphrase typed after it */
  openedAt: Date;
  /**
   * When the passphrase was typed, in this opening, with "keep the key on this computer" ticked
   * (offline re-opening, offline-offer.ts); null when it was not.
   */
  keepKeyAt: Date | null;
}

/** How long an opening lasts: the time to register, verify an address and sign in. */
export const OPENING_LIFETIME_SECONDS = 30 * 60;

export function openingCookieName(envelopeId: string): string {
  return `__Host-waxseal-open-${envelopeId}`;
}

const AAD_PREFIX = 'waxseal/opening/';

export function sealOpening(keyRing: KeyRing, envelopeId: string, opening: Opening): string {
  const body = JSON.stringify({ m: opening.mode, s: opening.secret, t: opening.openedAt.getTime(), k: opening.keepKeyAt?.getTime() ?? null });
  const { wrapped, version } = keyRing.wrap(AAD_PREFIX + envelopeId, Buffer.from(body, 'utf8'));
  return `${version}.${wrapped.toString('base64url')}`;
}

/** null for anything that is not a live opening of this envelope (absent, forged, expired). */
export function unsealOpening(keyRing: KeyRing, envelopeId: string, value: string | undefined, now: Date): Opening | null {
  if (!value) return null;
  const match = /^(\d{1,9})\.([A-Za-z0-9_-]{20,4000})$/.exec(value);
  if (!match) return null;
  try {
    const body = JSON.parse(keyRing.unwrap(AAD_PREFIX + envelopeId, Buffer.from(match[2]!, 'base64url'), Number(match[1])).toString('utf8')) as {
      m: unknown;
      s: unknown;
      t: unknown;
      k?: unknown;
    };
    if ((body.m !== 'applet' && body.m !== 'server') || typeof body.t !== 'number') return null;
    if (body.s !== null && typeof body.s !== 'string') return null;
    if (body.k !== undefined && body.k !== null && typeof body.k !== 'number') return null;
    const openedAt = new Date(body.t);
    const age = now.getTime() - openedAt.getTime();
    if (age < -60_000 || age > OPENING_LIFETIME_SECONDS * 1000) return null;
    return { mode: body.m, secret: body.s, openedAt, keepKeyAt: typeof body.k === 'number' ? new Date(body.k) : null };
  } catch {
    return null;
  }
}

export interface OpeningSealer {
  seal(envelopeId: string, opening: Opening): string;
  unseal(envelopeId: string, value: string | undefined, now: Date): Opening | null;
}

export function createOpeningSealer(keyRing: KeyRing): OpeningSealer {
  return {
    seal: (envelopeId, opening) => sealOpening(keyRing, envelopeId, opening),
    unseal: (envelopeId, value, now) => unsealOpening(keyRing, envelopeId, value, now),
  };
}
