import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import { SESSION_COOKIE } from '../../src/domain/accounts/session-service.ts';
import { openingCookieName } from '../../src/domain/releases/opening-seal.ts';
import { engines } from '../helpers/databases.ts';
import { sampleUpload } from '../helpers/services.ts';
import { provisionProfile, startKeyService } from '../helpers/key-service.ts';

const ORIGIN = 'https://keys.example.test';
const same = { origin: ORIGIN, 'sec-fetch-site': 'same-origin' };
const crossSite = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };

for (const engine of engines()) {
  t.test(`open routes on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    const ks = await startKeyService(opened);
    t.teardown(async () => {
      await ks.close();
      await opened.dispose();
    });
    const principal = (await ks.services.credentials.authenticate(await provisionProfile(ks, 'P', { securityLevel: 'medium' })))!;
    const payload = randomBytes(300);
    const envelopeId = randomBytes(16).toString('base64url');
    const upload = { ...sampleUpload('x'), securityLevel: 'medium' as const, recipients: { to: ['bob@example.org'], cc: [], bcc: [] } };
    upload.payload = { transport: 'inline', size: payload.length, digest: createHash('sha256').update(payload).digest('hex') };
    await ks.services.envelopes.store(principal, envelopeId, upload);

    async function sessionFor(address: string) {
      const account = await opened.database.db.insertInto('accounts').values({ name: address, passphrase_hash: 'x', security_phrase: 'p', locale: 'en' }).returning('id').executeTakeFirstOrThrow();
      await opened.database.db.insertInto('account_addresses').values({ account_id: account.id, address, verified_at: new Date() }).execute();
      return (await ks.services.sessions.create(account.id, { remember: true })).cookie;
    }
    const entry = (body: string, headers: Record<string, string> = { origin: 'null', 'sec-fetch-site': 'cross-site' }, id = envelopeId) =>
      ks.app.inject({ method: 'POST', url: `/open/${id}`, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: body });
    const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
    // Base64 folded as a mail system or form encoding would fold it.
    const folded = payload.toString('base64').replace(/(.{76})/g, '$1\r\n');

    t.test('the entry accepts the envelope file from a local page and keeps the payload', async (t) => {
      const res = await entry(form({ v: '1', mode: 'applet', payload: folded }));
      t.equal(res.statusCode, 303);
      t.equal(res.headers.location, `/open/${envelopeId}`);
      const cookie = res.cookies.find((c) => c.name === openingCookieName(envelopeId))!;
      t.ok(cookie, 'the opening is sealed into a cookie');
      t.match(cookie, { httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
      t.notOk(cookie.value.includes(envelopeId), 'the cookie is opaque');
      t.same(await ks.services.envelopes.payload(envelopeId), payload, 'the inline payload is kept');
    });

    t.test('a changed payload gets the damaged page and is recorded', async (t) => {
      const other = randomBytes(16).toString('base64url');
      await ks.services.envelopes.store(principal, other, { ...upload, serverShare: randomBytes(32).toString('base64url') });
      const changed = Buffer.from(payload);
      changed[10]! ^= 0x40;
      const res = await entry(form({ v: '1', payload: changed.toString('base64') }), undefined, other);
      t.equal(res.statusCode, 422);
      t.match(res.body, /cannot be opened/);
      t.same((await ks.services.releases.events(other)).map((e) => e.result), ['tampered']);
      const none = await entry(form({ v: '1' }), undefined, other);
      t.equal(none.statusCode, 422, 'no payload at all: the incomplete page');
      t.match(none.body, /missing/);
    });

    t.test('unknown envelopes get their page', async (t) => {
      const res = await entry(form({ v: '1' }), undefined, randomBytes(16).toString('base64url'));
      t.equal(res.statusCode, 404);
      t.match(res.body, /cannot find this secure message/);
      t.match(res.headers['content-security-policy'] as string, /default-src 'none'/);
    });

    t.test('the key is released only to a recipient, through this origin', async (t) => {
      const opening = (await entry(form({ v: '1', payload: folded }))).cookies.find((c) => c.name === openingCookieName(envelopeId))!.value;
      const key = (session: string | null, headers: Record<string, string>) =>
        ks.app.inject({
          method: 'POST',
          url: `/open/${envelopeId}/key`,
          headers,
          cookies: { [openingCookieName(envelopeId)]: opening, ...(session ? { [SESSION_COOKIE]: session } : {}) },
        });
      const bob = await sessionFor('bob@example.org');
      const mallory = await sessionFor('mallory@example.org');

      const refused = await key(mallory, same);
      t.equal(refused.statusCode, 403, 'another account cannot open it');
      t.notMatch(refused.body, new RegExp(upload.serverShare));
      t.equal((await key(null, same)).statusCode, 401, 'nobody signed in');
      const csrf = await key(bob, crossSite);
      t.equal(csrf.statusCode, 403, 'a cross-site request is refused even with the right cookies');
      t.notMatch(csrf.body, new RegExp(upload.serverShare));
      const ok = await key(bob, same);
      t.equal(ok.statusCode, 200);
      t.equal(ok.json().share, upload.serverShare);
      t.match(ok.headers['cache-control'] as string, /no-store/);
      t.same((await ks.services.releases.events(envelopeId)).map((e) => e.result).slice(-3), ['not_recipient', 'sign_in', 'released']);

      const page = await ks.app.inject({ url: `/open/${envelopeId}`, cookies: { [openingCookieName(envelopeId)]: opening, [SESSION_COOKIE]: mallory } });
      t.equal(page.statusCode, 403);
      t.match(page.body, /bob@example\.org/, 'the visible recipients are listed');
      const switched = await entry(form({ go: 'switch' }), crossSite);
      t.equal(switched.statusCode, 403, 'the page buttons posting to /open/ID need this origin');
    });

    t.test('a forged or foreign opening cookie counts for nothing', async (t) => {
      const other = randomBytes(16).toString('base64url');
      await ks.services.envelopes.store(principal, other, { ...upload, serverShare: randomBytes(32).toString('base64url') });
      const opening = (await entry(form({ v: '1', payload: folded }))).cookies.find((c) => c.name === openingCookieName(envelopeId))!.value;
      const bob = await sessionFor('bob2@example.org');
      await opened.database.db.updateTable('envelopes').set({ recipients_to: ['bob2@example.org'] }).where('id', '=', other).execute();
      for (const [label, value] of [['moved from another envelope', opening], ['altered', opening.slice(0, -2) + 'AA']] as const) {
        const res = await ks.app.inject({ url: `/open/${other}`, cookies: { [openingCookieName(other)]: value, [SESSION_COOKIE]: bob } });
        t.equal(res.statusCode, 400, label);
        t.match(res.body, /Open the secure message from its attachment/);
        const key = await ks.app.inject({ method: 'POST', url: `/open/${other}/key`, headers: same, cookies: { [openingCookieName(other)]: value, [SESSION_COOKIE]: bob } });
        t.equal(key.statusCode, 400, `${label}: no key`);
      }
    });
  });
}
