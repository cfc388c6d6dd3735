// Who may use which management route. For each role — anonymous, a recipient, the sender, a
// delegated administrator (a custom role limited to the profile the message was sealed with),
// the organisation's administrator, another organisation's administrator — every management
// route (API and console) is tried: the allowed ones work, every other one is refused, and a
// refusal never says whether the object exists (the same 404 for a real id as for a made-up one).

import { randomBytes } from 'node:crypto';
import t from 'tap';
import { SESSION_COOKIE } from '../../src/domain/accounts/session-service.ts';
import { insertAdmin, insertOrganisation } from '../../src/domain/admins/admin-repository.ts';
import { engines } from '../helpers/databases.ts';
import { sampleUpload } from '../helpers/services.ts';
import { startKeyService } from '../helpers/key-service.ts';
import { signedInCookie } from '../helpers/session-cookie.ts';

const SAME_ORIGIN = { origin: 'https://keys.example.test', 'sec-fetch-site': 'same-origin' };
type Role = 'anonymous' | 'recipient' | 'sender' | 'delegated' | 'admin' | 'otherAdmin';
const ROLES: Role[] = ['anonymous', 'recipient', 'sender', 'delegated', 'admin', 'otherAdmin'];

for (const engine of engines()) {
  t.test(`authorisation matrix (${engine.name})`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    const ks = await startKeyService(opened);
    t.teardown(async () => {
      await ks.close();
      await opened.dispose();
    });
    const { services, app } = ks;

    // Organisation A: its administrator, a profile, a gateway, one envelope from alice to bob.
    await services.profiles.create(ks.orgId, 'Standard', {});
    const { token: gateway, credential } = await services.credentials.provision(ks.orgId, 'Standard', 'it@example.test');
    const principal = (await services.credentials.authenticate(gateway))!;
    const envelopeId = randomBytes(16).toString('base64url');
    await services.envelopes.store(principal, envelopeId, { ...sampleUpload('Board minutes'), sender: 'alice@example.org', recipients: { to: ['bob@example.net'], cc: [], bcc: [] } });
    const missingId = randomBytes(16).toString('base64url');

    // Organisation B and its administrator.
    const orgB = await insertOrganisation(opened.database.db, 'Other Org');
    const adminB = await insertAdmin(opened.database.db, orgB.id, 'admin@other.example');
    const otherToken = await services.admins.issueToken(adminB.id, 'test');

    // The delegated administrator's role may use the profile the envelope was sealed with.
    const standard = await services.profiles.get(ks.orgId, 'Standard');
    const adminA = { orgId: ks.orgId, email: 'admin@example.test', role: 'admin' as const, profileIds: null };
    const role = await services.staff.saveRole(adminA, { name: 'Standard desk', profileIds: [standard.id] });
    await services.staff.invite(adminA, { email: 'delegate@example.test', role: { kind: 'role', roleId: role.id }, locale: 'en' });
    const session = (name: string, email: string) => signedInCookie(services, name, email);
    const cookies: Partial<Record<Role, string>> = {
      recipient: await session('Bob', 'bob@example.net'),
      sender: await session('Alice', 'alice@example.org'),
      delegated: await session('Dee', 'delegate@example.test'),
      admin: await session('Ada', 'admin@example.test'),
      otherAdmin: await session('Otto', 'admin@other.example'),
    };
    const bearer: Partial<Record<Role, string>> = { admin: ks.adminToken, otherAdmin: otherToken };
    const as = (role: Role) => ({
      ...(bearer[role] ? { authorization: `Bearer ${bearer[role]}` } : {}),
      ...(cookies[role] ? { cookie: `${SESSION_COOKIE}=${cookies[role]}` } : {}),
    });

    interface Route {
      name: string;
      method: 'GET' | 'POST' | 'PATCH';
      url: (id: string) => string;
      body?: object;
      form?: string;
      allowed: Role[];
      /** what an allowed call answers */
      ok: number[];
    }
    const api = '/api/v1/admin';
    const routes: Route[] = [
      { name: 'list profiles', method: 'GET', url: () => `${api}/profiles`, allowed: ['admin', 'otherAdmin'], ok: [200] },
      { name: 'show profile', method: 'GET', url: () => `${api}/profiles/Standard`, allowed: ['admin'], ok: [200] },
      { name: 'change profile', method: 'PATCH', url: () => `${api}/profiles/Standard`, body: { settings: { readReceipts: false } }, allowed: ['admin'], ok: [200] },
      { name: 'list credentials', method: 'GET', url: () => `${api}/profiles/Standard/credentials`, allowed: ['admin'], ok: [200] },
      { name: 'provision', method: 'POST', url: () => `${api}/profiles/Standard/credentials`, body: { adminEmail: 'x@example.test' }, allowed: ['admin'], ok: [201] },
      { name: 'rotate credential', method: 'POST', url: () => `${api}/credentials/${credential.id}/rotate`, allowed: ['admin'], ok: [200, 201] },
      { name: 'list messages', method: 'GET', url: () => `${api}/messages`, allowed: ['admin', 'otherAdmin'], ok: [200] },
      { name: 'lock any message', method: 'POST', url: (id) => `${api}/messages/${id}/lock`, body: { reason: 'held by the administrator' }, allowed: ['admin'], ok: [204] },
      { name: 'unlock any message', method: 'POST', url: (id) => `${api}/messages/${id}/unlock`, allowed: ['admin'], ok: [204] },
      { name: 'export audit', method: 'GET', url: () => `${api}/audit`, allowed: ['admin', 'otherAdmin'], ok: [200] },
      { name: 'console home', method: 'GET', url: () => '/admin', allowed: ['delegated', 'admin', 'otherAdmin'], ok: [200] },
      { name: 'console organisation', method: 'POST', url: () => '/admin', form: 'name=Example%20Org&defaultLocale=en', allowed: ['admin', 'otherAdmin'], ok: [303] },
      { name: 'console profiles', method: 'GET', url: () => '/admin/profiles', allowed: ['admin', 'otherAdmin'], ok: [200] },
      { name: 'console profile', method: 'GET', url: () => '/admin/profiles/Standard', allowed: ['admin'], ok: [200] },
      { name: 'console profile settings', method: 'POST', url: () => '/admin/profiles/Standard', form: 'go=removeLogo', allowed: ['admin'], ok: [303] },
      { name: 'console templates', method: 'GET', url: () => '/admin/profiles/Standard/templates', allowed: ['admin'], ok: [200] },
      { name: 'console template preview', method: 'POST', url: () => '/admin/profiles/Standard/templates/preview?show=text', form: 'text=Hello', allowed: ['admin'], ok: [200] },
      { name: 'console users', method: 'GET', url: () => '/admin/users', allowed: ['admin', 'otherAdmin'], ok: [200] },
      { name: 'console roles', method: 'GET', url: () => '/admin/roles', allowed: ['admin', 'otherAdmin'], ok: [200] },
      { name: 'console audit', method: 'GET', url: () => '/admin/audit', allowed: ['admin', 'otherAdmin'], ok: [200] },
      { name: 'console messages', method: 'GET', url: () => '/admin/messages', allowed: ['delegated', 'admin', 'otherAdmin'], ok: [200] },
      { name: 'console lock', method: 'POST', url: (id) => '/admin/messages', form: 'go=lock&reason=held&message=ID', allowed: ['delegated', 'admin'], ok: [303] },
      { name: 'console unlock', method: 'POST', url: (id) => '/admin/messages', form: 'go=unlock&message=ID', allowed: ['delegated', 'admin'], ok: [303] },
      { name: 'sent list', method: 'GET', url: () => '/sent', allowed: ['recipient', 'sender', 'delegated', 'admin', 'otherAdmin'], ok: [200] },
      { name: 'sent message', method: 'GET', url: (id) => `/sent/${id}`, allowed: ['sender'], ok: [200] },
      { name: 'sender lock', method: 'POST', url: (id) => `/sent/${id}`, form: 'go=lock&reason=wrong%20person', allowed: ['sender'], ok: [303] },
      { name: 'sender unlock', method: 'POST', url: (id) => `/sent/${id}`, form: 'go=unlock', allowed: ['sender'], ok: [303] },
      { name: 'sender dates', method: 'POST', url: (id) => `/sent/${id}`, form: 'go=dates&expires=2099-01-01&readBy=', allowed: ['sender'], ok: [303] },
    ];

    const call = (route: Route, role: Role, id: string) =>
      app.inject({
        method: route.method,
        url: route.url(id),
        headers: { ...as(role), ...SAME_ORIGIN, ...(route.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        ...(route.body ? { payload: route.body } : route.form ? { payload: route.form.replace('message=ID', `message=${id}`) } : {}),
      });

    for (const route of routes) {
      for (const role of ROLES) {
        const res = await call(route, role, envelopeId);
        if (route.allowed.includes(role)) {
          t.ok(route.ok.includes(res.statusCode), `${route.name} as ${role}: allowed (${res.statusCode})`);
          continue;
        }
        t.notOk(res.statusCode >= 200 && res.statusCode < 300, `${route.name} as ${role}: refused (${res.statusCode})`);
        const none = await call(route, role, missingId);
        if (route.url(envelopeId).startsWith('/api/')) {
          // No administrator token: 401. Another organisation's: 404, exactly as for nothing.
          if (role === 'otherAdmin') {
            t.equal(res.statusCode, 404, `${route.name} as another organisation: 404`);
            t.equal(none.statusCode, res.statusCode, `${route.name}: the same answer as for an id that does not exist`);
          } else t.equal(res.statusCode, 401, `${route.name} as ${role}: 401`);
        } else if (role === 'anonymous') {
          t.equal(res.statusCode, 303, `${route.name} as ${role}: sent to sign in`);
          t.match(res.headers.location, /^\/signin\?next=/);
        } else if (route.url(envelopeId).startsWith('/admin') && (role === 'recipient' || role === 'sender')) {
          t.equal(res.statusCode, 403, `${route.name} as ${role}: no console access`);
        } else {
          t.equal(res.statusCode, 404, `${route.name} as ${role}: 404`);
          t.equal(none.statusCode, 404, `${route.name} as ${role}: the same as for something that does not exist`);
          t.equal(res.body, none.body, 'word for word');
        }
      }
    }

    const listed = await app.inject({ method: 'GET', url: '/sent', headers: as('recipient') });
    t.notMatch(listed.body, /Board minutes/, "a recipient's own sent list does not show what someone else sent");
    const other = await app.inject({ method: 'GET', url: `${api}/messages`, headers: as('otherAdmin') });
    t.same(JSON.parse(other.body).messages, [], "another organisation's administrator lists none of this organisation's messages");
    const mine = await app.inject({ method: 'GET', url: `${api}/messages`, headers: as('admin') });
    const message = JSON.parse(mine.body).messages[0];
    t.equal(message.subject, 'Board minutes');
    t.notOk('share' in message || 'serverShare' in message || 'payload' in message, 'administrators get metadata, never content or keys');
    const csv = await app.inject({ method: 'GET', url: `${api}/audit?format=csv&action=envelope.lock`, headers: as('admin') });
    t.match(csv.headers['content-type'], /text\/csv/);
    t.match(csv.body, /^seq,at,actor,action,subject,detail,hash\r\n/);
    t.match(csv.body, /envelope\.lock/, 'locks are in the exported audit record');
  });
}
