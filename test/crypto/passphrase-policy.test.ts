import t from 'tap';
import { randomBytes } from 'node:crypto';
import { checkPassphrase, createPassphrasePolicy, MAX_PASSPHRASE_LENGTH } from '../../src/crypto/passphrase-policy.ts';

const policy = createPassphrasePolicy();
const anon = {};
const alice = { email: 'alice.smith+news@example.org', name: 'Alice Smith' };

t.test('length: at least 8, at most 1024 code points after NFC', async (t) => {
  t.same(policy.check('', anon), { ok: false, reason: 'too_short' });
  t.same(policy.check('tr7#kq2', anon), { ok: false, reason: 'too_short' });
  t.same(policy.check('tr7#kq2z', anon), { ok: true });
  // Seven emoji are 14 UTF-16 units but 7 code points.
  t.same(policy.check('🦊🐙🦉🐝🦋🐢🦔', anon), { ok: false, reason: 'too_short' });
  t.same(policy.check('🦊🐙🦉🐝🦋🐢🦔🐳', anon), { ok: true });
  // "éléphant" in NFD is 11 code units, 8 code points only after NFC: still 8.
  const nfd = 'e\u0301le\u0301phant';
  t.equal(nfd.length, 10);
  t.same(policy.check(nfd, anon), { ok: true });
  // Seven letters with combining accents: 14 code points as typed, 7 after NFC.
  t.same(policy.check('e\u0301'.repeat(7), anon), { ok: false, reason: 'too_short' });
  t.same(policy.check('x'.repeat(MAX_PASSPHRASE_LENGTH - 1) + 'y', anon), { ok: true });
  t.same(policy.check('x'.repeat(MAX_PASSPHRASE_LENGTH) + 'y', anon), { ok: false, reason: 'too_long' });
  t.same(policy.check('🦊'.repeat(MAX_PASSPHRASE_LENGTH), anon), { ok: true }, '1024 emoji are 2048 code units but allowed');
});

t.test('no composition rules; long random passphrases pass', async (t) => {
  t.same(policy.check(randomBytes(48).toString('base64url'), anon), { ok: true });
  t.same(policy.check('correct horse battery staple', alice), { ok: true });
  t.same(policy.check('all lowercase words only', anon), { ok: true });
  t.same(policy.check('мой пароль от почты', anon), { ok: true });
});

t.test('common and breached passphrases are refused, whatever the case', async (t) => {
  for (const p of ['password', 'PASSWORD', 'Password', '123456789', 'qwertyuiop', '12345678', 'iloveyou', 'sunshine', '1qaz2wsx3edc']) {
    t.same(policy.check(p, anon), { ok: false, reason: 'common' }, p);
  }
  // Short common ones are refused for their length first.
  t.same(policy.check('123456', anon), { ok: false, reason: 'too_short' });
});

t.test('passphrases built from the address or the name are refused', async (t) => {
  const refused = [
    'alice.smith',
    'Alice.Smith',
    'alicesmith',
    'ALICE SMITH',
    'smith alice',
    'alice.smith1990',
    '1990alice.smith!',
    'alicealice',
    'smithsmith',
    'htimsecila',
    '4l1c3smith',
    'alic3smith2024',
    'alice.smith@example.org',
    'alice.smith+news',
    'alicesmithexample',
  ];
  for (const p of refused) t.same(policy.check(p, alice), { ok: false, reason: 'contains_identity' }, p);
  t.same(policy.check('jdupont42', { email: 'jdupont@example.fr' }), { ok: false, reason: 'contains_identity' });
  t.same(policy.check('Zoë Müller', { name: 'ZOË MÜLLER' }), { ok: false, reason: 'contains_identity' });
  t.same(policy.check('Zoe\u0308muller', { name: 'Zoë Muller' }), { ok: false, reason: 'contains_identity' }, 'NFD input');
  // Mentioning the name among other words is fine; so is the same text for someone else.
  t.same(policy.check('alice walks the old harbour', alice), { ok: true });
  t.same(policy.check('alice.smith1990', { email: 'bob@example.org', name: 'Bob Jones' }), { ok: true });
  t.same(policy.check('alice.smith1990', anon), { ok: true });
  // Two-letter name parts do not count on their own.
  t.same(policy.check('lilililili', { name: 'Li Wei' }), { ok: true });
  t.same(policy.check('80427153962', alice), { ok: true }, 'digits alone are not the name (and not in the list)');
});

t.test('checkPassphrase is the same check without a kept instance', async (t) => {
  t.same(checkPassphrase('password', {}), { ok: false, reason: 'common' });
  t.same(checkPassphrase('short', {}), { ok: false, reason: 'too_short' });
  t.same(checkPassphrase('alice.smith', alice), { ok: false, reason: 'contains_identity' });
  t.same(checkPassphrase('an entirely reasonable passphrase', alice), { ok: true });
});
