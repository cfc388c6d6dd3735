import t from 'tap';
import { decideRelease, type Opener } from '../../src/domain/releases/release-rules.ts';
import type { EnvelopeRecord } from '../../src/domain/envelopes/envelope-types.ts';

const NOW = new Date('2026-11-28T12:00:00Z');
const OPENED = new Date('2026-11-28T11:59:00Z');

function envelope(over: Partial<EnvelopeRecord> = {}): EnvelopeRecord {
  return {
    id: 'AAAAAAAAAAAAAAAAAAAAAA',
    orgId: 'org',
    profileId: 'p',
    sender: 'sender@corp.example',
    subject: null,
    securityLevel: 'medium',
    locale: 'en',
    algorithm: 'aes-256-gcm',
    flags: { replyEnabled: true, replyAllEnabled: true, forwardEnabled: true, sendReturnReceipt: false, suppressAppletForOpen: false, useScript: true, rememberEnvelopeKeyCheckbox: false },
    expiresAt: null,
    readBy: null,
    payload: { transport: 'inline', digest: 'x', size: 1, stored: true },
    recipients: { to: ['ana@example.org'], cc: ['cc@example.org'], bcc: ['hidden@example.org'] },
    lockedAt: null,
    lockReason: null,
    createdAt: new Date('2026-11-01T00:00:00Z'),
    ...over,
  };
}

const signedIn = (addresses: string[], passphraseAt = new Date('2026-11-28T11:59:30Z')): Opener => ({ session: { accountId: 'acc', passphraseAt }, addresses });
const nobody: Opener = { session: null, addresses: [] };

t.test('unknown, locked and expired come before any question of who is asking', async (t) => {
  t.match(decideRelease(null, signedIn(['ana@example.org']), OPENED, NOW), { ok: false, reason: 'unknown' });
  t.match(decideRelease(envelope({ lockedAt: NOW, lockReason: 'sent by mistake' }), nobody, OPENED, NOW), { ok: false, reason: 'locked' });
  t.match(decideRelease(envelope({ expiresAt: NOW }), signedIn(['ana@example.org']), OPENED, NOW), { ok: false, reason: 'expired' }, 'expiry is inclusive');
  t.match(decideRelease(envelope({ expiresAt: new Date(NOW.getTime() + 1000) }), signedIn(['ana@example.org']), OPENED, NOW), { ok: true });
});

t.test('medium: a session of a recipient suffices; To, Cc and Bcc all count; case does not matter', async (t) => {
  for (const address of ['ana@example.org', 'CC@example.org', 'hidden@example.org']) {
    const d = decideRelease(envelope(), signedIn(['other@example.org', address]), OPENED, NOW);
    t.match(d, { ok: true, address: address.toLowerCase() }, address);
  }
  const old = signedIn(['ana@example.org'], new Date('2026-10-01T00:00:00Z'));
  t.match(decideRelease(envelope(), old, OPENED, NOW), { ok: true }, 'a remembered session from long ago is enough at Medium');
  t.match(decideRelease(envelope(), nobody, OPENED, NOW), { ok: false, reason: 'sign_in' });
  t.match(decideRelease(envelope(), signedIn(['mallory@example.org']), OPENED, NOW), { ok: false, reason: 'not_recipient' });
  t.match(decideRelease(envelope(), signedIn([]), OPENED, NOW), { ok: false, reason: 'not_recipient' }, 'an account with no verified address');
});

t.test('high: the passphrase must have been typed after this opening began', async (t) => {
  const high = envelope({ securityLevel: 'high' });
  t.match(decideRelease(high, signedIn(['ana@example.org'], new Date(OPENED.getTime() - 1)), OPENED, NOW), { ok: false, reason: 'reauth' });
  t.match(decideRelease(high, signedIn(['ana@example.org'], new Date(OPENED.getTime() + 1)), OPENED, NOW), { ok: true, address: 'ana@example.org' });
  t.match(decideRelease(high, nobody, OPENED, NOW), { ok: false, reason: 'sign_in' });
  t.match(decideRelease(high, signedIn(['mallory@example.org']), OPENED, NOW), { ok: false, reason: 'not_recipient' }, 'recipient check before the passphrase question');
});

t.test('no passphrase: anyone holding the envelope; a signed-in recipient is still named', async (t) => {
  const none = envelope({ securityLevel: 'none' });
  t.match(decideRelease(none, nobody, OPENED, NOW), { ok: true, address: null });
  t.match(decideRelease(none, signedIn(['ana@example.org']), OPENED, NOW), { ok: true, address: 'ana@example.org' });
  t.match(decideRelease(envelope({ securityLevel: 'none', lockedAt: NOW }), nobody, OPENED, NOW), { ok: false, reason: 'locked' });
  t.match(decideRelease(envelope({ securityLevel: 'none', expiresAt: OPENED }), nobody, OPENED, NOW), { ok: false, reason: 'expired' });
});
