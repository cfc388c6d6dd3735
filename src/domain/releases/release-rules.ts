import type { EnvelopeRecord } from '../envelopes/envelope-types.ts';

/** Who is asking for an envelope's server share, as the key service knows them. */
export interface Opener {
  /** null: no session (nobody signed in on this browser) */
  session: { accountId: string; passphraseAt: Date } | null;
  /** the signed-in account's verified addresses, lower-case */
  addresses: readonly string[];
}

export type Refusal =
  | 'unknown' // no such envelope
  | 'locked' // the sender (or an administrator) locked it
  | 'expired'
  | 'sign_in' // an account is needed and nobody is signed in
  | 'not_recipient' // signed in, but none of the account's verified addresses received it
  | 'reauth'; // High security: the passphrase must be typed for this opening

export type Decision =
  | { ok: true; envelope: EnvelopeRecord; address: string | null }
  | { ok: false; reason: Refusal; envelope: EnvelopeRecord | null };

/**
 * The release rules (DESIGN.md section 3, points 7 and 8), as one pure function so every
 * combination is tested without a database. `openedAt` is when this opening began (the click
 * on "Open"): at High security, a passphrase typed before it does not count.
 *
 * Order matters for what a person is told: a locked or expired envelope says so before asking
 * anyone to sign in, since signing in would not help.
 */
export function decideRelease(envelope: EnvelopeRecord | null, opener: Opener, openedAt: Date, now: Date): Decision {
  if (!envelope) return { ok: false, reason: 'unknown', envelope: null };
  if (envelope.lockedAt !== null) return { ok: false, reason: 'locked', envelope };
  if (envelope.expiresAt !== null && envelope.expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired', envelope };

  const address = recipientAddress(envelope, opener.addresses);
  if (envelope.securityLevel === 'none') return { ok: true, envelope, address };

  if (!opener.session) return { ok: false, reason: 'sign_in', envelope };
  if (address === null) return { ok: false, reason: 'not_recipient', envelope };
  if (envelope.securityLevel === 'high' && opener.session.passphraseAt.getTime() < openedAt.getTime()) {
    return { ok: false, reason: 'reauth', envelope };
  }
  return { ok: true, envelope, address };
}

/** The first of the account's addresses that the envelope was sent to (To, Cc or Bcc). */
export function recipientAddress(envelope: EnvelopeRecord, addresses: readonly string[]): string | null {
  const all = new Set([...envelope.recipients.to, ...envelope.recipients.cc, ...envelope.recipients.bcc]);
  for (const address of addresses) if (all.has(address.toLowerCase())) return address.toLowerCase();
  return null;
}
