import t from 'tap';
import { offlineOffer } from '../../src/domain/releases/offline-offer.ts';
import { createOpeningSealer } from '../../src/domain/releases/opening-seal.ts';
import { createKeyRing } from '../../src/crypto/kek.ts';
import { randomBytes } from 'node:crypto';

const openedAt = new Date('2026-11-28T10:00:00Z');
const before = new Date(openedAt.getTime() - 60_000);
const after = new Date(openedAt.getTime() + 60_000);
const envelope = (remember: boolean, transport: 'inline' | 'reference' = 'inline') => ({
  flags: { rememberEnvelopeKeyCheckbox: remember } as never,
  payload: { transport, digest: '', size: 1, stored: true },
});
const applet = (keepKeyAt: Date | null) => ({ mode: 'applet' as const, openedAt, keepKeyAt });

t.test('no offer where the file cannot open offline', async (t) => {
  t.equal(offlineOffer(envelope(false), applet(after), { passphraseAt: after }), 'none', 'the header did not allow it');
  t.equal(offlineOffer(envelope(true, 'reference'), applet(after), { passphraseAt: after }), 'none', 'the payload is not in the file');
  t.equal(offlineOffer(envelope(true), { mode: 'server', openedAt, keepKeyAt: after }, { passphraseAt: after }), 'none', 'server mode runs no script');
  t.equal(offlineOffer(envelope(true), null, { passphraseAt: after }), 'none', 'no opening');
});

t.test('hand-over only after the passphrase was typed in this opening with the box ticked', async (t) => {
  t.equal(offlineOffer(envelope(true), applet(null), null), 'offer', 'nobody signed in: offer the box');
  t.equal(offlineOffer(envelope(true), applet(null), { passphraseAt: after }), 'offer', 'typed, box not ticked');
  t.equal(offlineOffer(envelope(true), applet(after), { passphraseAt: after }), 'hand-over', 'typed with the box ticked');
  t.equal(offlineOffer(envelope(true), applet(after), { passphraseAt: before }), 'offer', 'a remembered session from before this opening is not enough');
  t.equal(offlineOffer(envelope(true), applet(before), { passphraseAt: after }), 'offer', 'a tick from before this opening does not count');
  t.equal(offlineOffer(envelope(true), applet(after), null), 'offer', 'signed out since');
});

t.test('the sealed opening carries the tick, and a forged one is refused', async (t) => {
  const sealer = createOpeningSealer(createKeyRing(new Map([[1, randomBytes(32)]])));
  const id = 'A'.repeat(22);
  const now = new Date();
  const ticked = sealer.unseal(id, sealer.seal(id, { mode: 'applet', secret: null, openedAt: now, keepKeyAt: now }), now);
  t.equal(ticked?.keepKeyAt?.getTime(), now.getTime(), 'keepKeyAt survives sealing');
  const plain = sealer.unseal(id, sealer.seal(id, { mode: 'applet', secret: null, openedAt: now, keepKeyAt: null }), now);
  t.equal(plain?.keepKeyAt, null, 'an opening without the tick has none');
  t.equal(sealer.unseal('B'.repeat(22), sealer.seal(id, { mode: 'applet', secret: null, openedAt: now, keepKeyAt: now }), now), null, 'bound to its envelope');
});
