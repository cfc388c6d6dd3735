// The administrators' console over HTTP (app.inject), on PGlite and PostgreSQL: who gets in,
// organisation settings, invitations, roles that limit a delegated administrator to some
// profiles, the logo upload's checks, template checks and the script-free preview, the last
// administrator kept, and the same operations through the API.

import { randomBytes } from 'node:crypto';
import PostalMime from 'postal-mime';
import t from 'tap';
import { SESSION_COOKIE } from '../../src/domain/accounts/session-service.ts';
import { engines } from '../helpers/databases.ts';
import { freePort, startKeyService } from '../helpers/key-service.ts';
import { sampleUpload } from '../helpers/services.ts';
import { signedInCookie } from '../helpers/session-cookie.ts';

const SAME_ORIGIN = { origin: 'https://keys.example.test', 'sec-fetch-site': 'same-origin' };
const FORM = { ...SAME_ORIGIN, 'content-type': 'application/x-www-form-urlencoded' };
// The smallest PNG: a 1x1 transparent pixel.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

function multipart(name: string, filename: string, type: string, bytes: Buffer) {
  const boundary = `----waxseal${randomBytes(8).toString('hex')}`;
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { payload, headers: { ...SAME_ORIGIN, 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

for (const engine of engines()) {
  t.test(`administrators' console (${engine.name})`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    const ks = await startKeyService(opened);
    t.teardown(async () => {
      await ks.close();
      await opened.dispose();
    });
    const { app, services } = ks;
    const admin = await signedInCookie(services, 'Ada', 'admin@example.test');
    const as = (cookie: string) => ({ cookie: `${SESSION_COOKIE}=${cookie}` });
    const get = (url: string, cookie: string) => app.inject({ method: 'GET', url, headers: as(cookie) });
    const post = (url: string, cookie: string, form: Record<string, string | string[]>) => {
      const body = new URLSearchParams();
      for (const [k, v] of Object.entries(form)) for (const x of [v].flat()) body.append(k, x);
      return app.inject({ method: 'POST', url, headers: { ...as(cookie), ...FORM }, payload: body.toString() });
    };

    await t.test('who gets in', async (t) => {
      const anonymous = await app.inject({ method: 'GET', url: '/admin/profiles' });
      t.equal(anonymous.statusCode, 303);
      t.equal(anonymous.headers.location, '/signin?next=%2Fadmin%2Fprofiles', 'anonymous: sent to sign in, and back');
      const stranger = await signedInCookie(services, 'Sam', 'sam@example.net');
      const refused = await get('/admin', stranger);
      t.equal(refused.statusCode, 403, 'an account that is no console user: refused');
      t.match(refused.body, /No administration access/);
      const home = await get('/admin', admin);
      t.equal(home.statusCode, 200);
      t.match(home.body, /Administration of Example Org/);
      t.match(home.headers['content-security-policy'], /default-src 'none'/);
      const crossSite = await app.inject({ method: 'POST', url: '/admin', headers: { ...as(admin), 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, payload: 'name=Pwned&defaultLocale=en' });
      t.equal(crossSite.statusCode, 403, 'a cross-site form post is refused');
      t.equal((await services.staff.organisation(ks.orgId)).name, 'Example Org', 'and changed nothing');
    });

    await t.test('organisation settings: the default language is where new profiles start', async (t) => {
      const bad = await post('/admin', admin, { name: '  ', defaultLocale: 'en' });
      t.equal(bad.statusCode, 400);
      t.match(bad.body, /Give the organisation a name/);
      const ok = await post('/admin', admin, { name: 'Example Bank', defaultLocale: 'de' });
      t.equal(ok.headers.location, '/admin?done=org');
      const created = await post('/admin/profiles', admin, { name: 'Retail' });
      t.equal(created.headers.location, '/admin/profiles/Retail?done=created');
      t.equal((await services.profiles.get(ks.orgId, 'Retail')).settings.defaultLocale, 'de', 'a new profile speaks the organisation default');
      await services.profiles.create(ks.orgId, 'Wealth', {});
      const audit = await services.audit.list({ orgId: ks.orgId, action: 'organisation.update', limit: 10 });
      t.equal(audit.at(-1)?.actor, 'admin:admin@example.test', 'audited, with who did it');
    });

    await t.test('profile settings are saved from the form, and refused with the field named', async (t) => {
      const page = await get('/admin/profiles/Retail', admin);
      t.equal(page.statusCode, 200);
      const form = { go: 'settings', securityLevel: 'medium', algorithm: 'aes-192-gcm', defaultLocale: 'fr', readReceipts: 'on', keepSubject: 'on', queueTimeoutMinutes: '90', maxMessageKb: '10240', inlineMaxKb: '2048', referenceScheme: 'public', separateUrl: '', envelopeFileName: 'secure.html', logoLink: 'https://bank.example/' };
      const saved = await post('/admin/profiles/Retail', admin, form);
      t.equal(saved.statusCode, 303, 'saved');
      const s = (await services.profiles.get(ks.orgId, 'Retail')).settings;
      t.same([s.securityLevel, s.algorithm, s.defaultLocale, s.readReceipts, s.decryptionApplet, s.queueTimeoutSeconds, s.maxMessageBytes, s.envelopeFileName, s.logoLink], ['medium', 'aes-192-gcm', 'fr', true, false, 5400, 10240 * 1024, 'secure.html', 'https://bank.example/']);
      const badNumber = await post('/admin/profiles/Retail', admin, { ...form, queueTimeoutMinutes: '0' });
      t.equal(badNumber.statusCode, 400);
      t.match(badNumber.body, /queue timeout must be a whole number of minutes/);
      const badName = await post('/admin/profiles/Retail', admin, { ...form, envelopeFileName: '../x.exe' });
      t.equal(badName.statusCode, 400);
      t.match(badName.body, /envelope file name is letters/);
      t.equal((await services.profiles.get(ks.orgId, 'Retail')).settings.envelopeFileName, 'secure.html', 'nothing saved');
    });

    await t.test('logo upload: the type is read from the bytes, the size is bounded', async (t) => {
      const fake = multipart('logo', 'logo.png', 'image/png', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'));
      const refused = await app.inject({ method: 'POST', url: '/admin/profiles/Retail/logo', headers: { ...as(admin), ...fake.headers }, payload: fake.payload });
      t.equal(refused.statusCode, 400);
      t.match(refused.body, /not a PNG, JPEG or GIF/);
      const big = multipart('logo', 'big.png', 'image/png', Buffer.concat([PNG, Buffer.alloc(310_000)]));
      const tooBig = await app.inject({ method: 'POST', url: '/admin/profiles/Retail/logo', headers: { ...as(admin), ...big.headers }, payload: big.payload });
      t.equal(tooBig.statusCode, 400);
      t.match(tooBig.body, /larger than 300 KB/);
      t.equal((await services.profiles.get(ks.orgId, 'Retail')).settings.logo, null, 'nothing saved');
      const good = multipart('logo', 'logo.bin', 'application/octet-stream', PNG);
      const saved = await app.inject({ method: 'POST', url: '/admin/profiles/Retail/logo', headers: { ...as(admin), ...good.headers }, payload: good.payload });
      t.equal(saved.statusCode, 303);
      t.same((await services.profiles.get(ks.orgId, 'Retail')).settings.logo, { mediaType: 'image/png', dataBase64: PNG.toString('base64') }, 'a PNG, whatever its name said');
      t.match((await get('/admin/profiles/Retail', admin)).body, /<img class="logo" src="data:image\/png;base64,/);
    });

    await t.test('templates: checked before saving, previewed without script', async (t) => {
      const base = { subject: '[Secure] {{subject}}', text: 'From {{sender}}', failureSubject: 'Not sent: {{subject}}', failure: '' };
      const unknown = await post('/admin/profiles/Retail/templates', admin, { ...base, html: '<p>Hello</p>\n<p>{{sendr}}</p>' });
      t.equal(unknown.statusCode, 400);
      t.match(unknown.body, /line 2: \{\{sendr\}\} is not a known variable \(did you mean sender\?\)/);
      const script = await post('/admin/profiles/Retail/templates', admin, { ...base, html: '<p onclick="x()">Hi</p><script>steal()</script>' });
      t.equal(script.statusCode, 400);
      t.match(script.body, /script/);
      t.match(script.body, /onclick/);
      const broken = await post('/admin/profiles/Retail/templates', admin, { ...base, html: '<p>{{#if subject}}open</p>' });
      t.equal(broken.statusCode, 400, 'invalid Handlebars refused');
      t.equal((await services.profiles.get(ks.orgId, 'Retail')).settings.templates.html, null, 'nothing saved');

      const html = '<p style="color:#123">Secure mail from {{sender}} about {{subject}}</p>';
      const preview = await app.inject({ method: 'POST', url: '/admin/profiles/Retail/templates/preview?show=html', headers: { ...as(admin), ...FORM }, payload: new URLSearchParams({ ...base, html }).toString() });
      t.equal(preview.statusCode, 200);
      t.match(preview.body, /Secure mail from admin@example.test about /, 'rendered with example values');
      t.match(preview.headers['content-security-policy'], /^sandbox; default-src 'none'/, 'the preview runs in a sandbox with no script');
      t.match(preview.headers['content-security-policy'], /frame-ancestors 'self'/);
      t.equal(preview.headers['x-frame-options'], 'SAMEORIGIN');
      const text = await app.inject({ method: 'POST', url: '/admin/profiles/Retail/templates/preview?show=text', headers: { ...as(admin), ...FORM }, payload: new URLSearchParams({ ...base, html }).toString() });
      t.match(text.body, /^Objet : \[Secure\] /, "the text preview, in the profile's language (fr)");

      const saved = await post('/admin/profiles/Retail/templates', admin, { ...base, html });
      t.equal(saved.statusCode, 303);
      const s = (await services.profiles.get(ks.orgId, 'Retail')).settings;
      t.equal(s.templates.html, html);
      t.equal(s.subjectTemplate, '[Secure] {{subject}}');
      t.equal(s.templates.failure, null, 'an empty failure template keeps the default');
    });

    await t.test('roles and invitations; a delegated administrator sees only their profiles', async (t) => {
      const retail = await services.profiles.get(ks.orgId, 'Retail');
      const none = await post('/admin/roles', admin, { go: 'save', name: 'Retail desk' });
      t.equal(none.statusCode, 400);
      t.match(none.body, /at least one profile/);
      t.equal((await post('/admin/roles', admin, { go: 'save', name: 'Retail desk', profiles: [retail.id] })).statusCode, 303);
      const [role] = await services.staff.listRoles({ orgId: ks.orgId, email: 'admin@example.test', role: 'admin', profileIds: null });
      t.same(role!.profileNames, ['Retail']);

      const invited = await post('/admin/users', admin, { go: 'invite', email: 'Dee@Example.test', role: role!.id });
      t.equal(invited.headers.location, '/admin/users?done=invited');
      const mail = (await services.mail.listOutbox(100)).find((m) => m.to.includes('dee@example.test'))!;
      const parsed = await PostalMime.parse((await services.mail.readOutbox(mail.id))!);
      t.match(parsed.subject, /administer Example Bank/);
      t.match(parsed.text, /https:\/\/keys\.example\.test\/admin/);
      t.notMatch(parsed.text, /#|token/i, 'the invitation carries no token: access follows the verified address');
      t.match((await get('/admin/users', admin)).body, /Invited, not signed in yet/);
      t.equal((await post('/admin/users', admin, { go: 'invite', email: 'dee@example.test', role: 'admin' })).statusCode, 400, 'twice: refused');

      // Envelopes of both profiles.
      const ids: Record<string, string> = {};
      for (const name of ['Retail', 'Wealth']) {
        const { token } = await services.credentials.provision(ks.orgId, name, 'gw@example.test');
        const principal = (await services.credentials.authenticate(token))!;
        ids[name] = randomBytes(16).toString('base64url');
        await services.envelopes.store(principal, ids[name]!, { ...sampleUpload(`${name} statement`), sender: 'clerk@example.test', recipients: { to: ['client@example.net'], cc: [], bcc: [] } });
      }
      const dee = await signedInCookie(services, 'Dee', 'dee@example.test');
      const list = await get('/admin/messages', dee);
      t.equal(list.statusCode, 200);
      t.match(list.body, /Retail statement/);
      t.notMatch(list.body, /Wealth statement/, "a delegated administrator does not see other profiles' messages");
      t.equal((await post('/admin/messages', dee, { go: 'lock', message: ids.Wealth!, reason: 'no' })).statusCode, 404, "nor lock them: as absent as nothing");
      t.equal((await post('/admin/messages', dee, { go: 'lock', message: randomBytes(16).toString('base64url'), reason: 'no' })).statusCode, 404);
      t.equal((await post('/admin/messages', dee, { go: 'lock', message: ids.Retail!, reason: 'Sent to the wrong client' })).statusCode, 303, 'their own profile: locked');
      t.equal((await services.envelopes.get(ids.Retail!))?.lockReason, 'Sent to the wrong client');
      for (const url of ['/admin/profiles', '/admin/users', '/admin/roles', '/admin/audit', '/admin/profiles/Retail']) {
        const r = await get(url, dee);
        t.equal(r.statusCode, 404, `${url}: not for a delegated administrator`);
        t.match(r.body, /There is no such page, or it is not open to your role/);
      }
      t.match((await get('/admin/users', admin)).body, /Last seen/, 'the invitation is accepted once they come in');
    });

    await t.test('the last administrator stays; roles in use stay', async (t) => {
      const users = await services.staff.listUsers({ orgId: ks.orgId, email: 'admin@example.test', role: 'admin', profileIds: null });
      const me = users.find((u) => u.email === 'admin@example.test')!;
      const dee = users.find((u) => u.email === 'dee@example.test')!;
      const by = { orgId: ks.orgId, email: 'admin@example.test', role: 'admin' as const, profileIds: null };
      await t.rejects(services.staff.remove(by, me.id), { code: 'conflict' }, 'the only administrator cannot be removed');
      const inUse = await post('/admin/roles', admin, { go: 'delete', role: dee.roleId! });
      t.equal(inUse.statusCode, 400);
      t.match(inUse.body, /still given to some users/);
      t.equal((await post('/admin/users', admin, { go: 'role', user: dee.id, role: 'admin' })).statusCode, 303);
      await services.staff.remove(by, me.id);
      t.same((await services.staff.listUsers({ ...by })).map((u) => u.email), ['dee@example.test'], 'with a second administrator, the first may go');
    });

    await t.test('the same operations through the API', async (t) => {
      const api = (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, body?: object, headers: Record<string, string> = {}) =>
        app.inject({ method, url: `/api/v1/admin${url}`, headers: { authorization: `Bearer ${ks.adminToken}`, ...headers }, ...(body ? { payload: body as Record<string, unknown> } : {}) });
      // The first administrator's token went with the user; issue one for the remaining administrator.
      t.equal((await api('GET', '/users')).statusCode, 401, 'a removed user’s token no longer works');
      const dee = (await services.staff.listUsers({ orgId: ks.orgId, email: 'dee@example.test', role: 'admin', profileIds: null }))[0]!;
      const token = await services.admins.issueToken(dee.id, 'test');
      const call = (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, body?: object | Buffer, headers: Record<string, string> = {}) =>
        app.inject({ method, url: `/api/v1/admin${url}`, headers: { authorization: `Bearer ${token}`, ...headers }, ...(body ? { payload: body as Buffer } : {}) });
      t.same((await call('PATCH', '/organisation', { defaultLocale: 'ja' })).json(), { name: 'Example Bank', defaultLocale: 'ja' });
      t.equal((await call('PATCH', '/organisation', { defaultLocale: 'xx' })).statusCode, 422);
      const role = await call('POST', '/roles', { name: 'Wealth desk', profiles: ['Wealth'] });
      t.equal(role.statusCode, 201);
      t.same(role.json().profiles, ['Wealth']);
      t.equal((await call('POST', '/roles', { name: 'Nowhere', profiles: ['Nope'] })).statusCode, 422);
      const user = await call('POST', '/users', { email: 'eve@example.test', role: 'Wealth desk' });
      t.equal(user.statusCode, 201);
      t.equal(user.json().role, 'Wealth desk');
      t.equal((await call('PATCH', `/users/${user.json().id}`, { role: 'admin' })).json().role, 'admin');
      t.equal((await call('DELETE', `/users/${user.json().id}`)).statusCode, 204);
      t.equal((await call('DELETE', `/roles/${role.json().id}`)).statusCode, 204);
      t.equal((await call('PUT', '/profiles/Wealth/logo', Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'), { 'content-type': 'image/gif' })).statusCode, 204);
      t.equal((await services.profiles.get(ks.orgId, 'Wealth')).settings.logo?.mediaType, 'image/gif');
      const html = await call('PUT', '/profiles/Wealth/logo', Buffer.from('<html>'), { 'content-type': 'image/png' });
      t.equal(html.statusCode, 422, 'an image type claimed by a file that is none: refused');
      const tpl = await call('PATCH', '/profiles/Wealth', { settings: { templates: { html: '<a href="javascript:alert(1)">x</a>' } } });
      t.equal(tpl.statusCode, 422, 'the API checks templates as the console does');
      t.match(tpl.body, /javascript|href/);
    });
  });
}

t.test('an invitation whose mail cannot be sent keeps the user and says so', async (t) => {
  const opened = await engines().find((e) => e.name === 'pglite')!.open();
  // Nothing listens on this port: the SMTP server is down.
  const ks = await startKeyService(opened, { SMTP_URL: `smtp://127.0.0.1:${await freePort()}` });
  t.teardown(async () => {
    await ks.close();
    await opened.dispose();
  });
  const by = { orgId: ks.orgId, email: 'admin@example.test', role: 'admin' as const, profileIds: null };
  const invited = await ks.services.staff.invite(by, { email: 'dee@example.test', role: { kind: 'admin' }, locale: 'de' });
  t.equal(invited.mailed, false, 'the mail did not go');
  t.ok((await ks.services.staff.listUsers(by)).some((u) => u.email === 'dee@example.test'), 'the user is kept: they can still sign in with that address');
  const again = await ks.services.staff.invite(by, { email: 'eve@example.test', role: { kind: 'admin' }, locale: 'de' }).catch((e: unknown) => e);
  t.same(again, { id: (await ks.services.staff.listUsers(by)).find((u) => u.email === 'eve@example.test')!.id, mailed: false });
});
