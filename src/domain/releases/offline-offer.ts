import type { EnvelopeRecord } from '../envelopes/envelope-types.ts';
import type { Opening } from './opening-seal.ts';

/**
 * Offline re-opening (X-PostX-Remember-Envelope-Key-Checkbox, DESIGN.md section 3 point 9):
 * what the key service offers in one opening. Pure, so every case is tested without a browser.
 *
 * - 'none': this envelope file cannot open offline. The header did not allow it, or the opening
 *   is in server mode (no script), or the payload is not inside the file.
 * - 'offer': it could. The recipient is offered a box to tick while typing the passphrase.
 * - 'hand-over': the passphrase was typed in this opening (not before it began) with the box
 *   ticked, which the sign-in form records in the sealed opening (Opening.keepKeyAt), so the
 *   reader page may give the server share to the envelope file that opened it.
 */
export type OfflineOffer = 'none' | 'offer' | 'hand-over';

export function offlineOffer(
  envelope: Pick<EnvelopeRecord, 'flags' | 'payload'>,
  opening: Pick<Opening, 'mode' | 'openedAt' | 'keepKeyAt'> | null,
  session: { passphraseAt: Date } | null,
): OfflineOffer {
  if (!envelope.flags.rememberEnvelopeKeyCheckbox || envelope.payload.transport !== 'inline') return 'none';
  if (!opening || opening.mode !== 'applet') return 'none';
  const typedNow = session !== null && session.passphraseAt.getTime() >= opening.openedAt.getTime();
  if (opening.keepKeyAt !== null && opening.keepKeyAt.getTime() >= opening.openedAt.getTime() && typedNow) return 'hand-over';
  return 'offer';
}
