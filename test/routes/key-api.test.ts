import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { buildApp, REDACT_PATHS } from '../../src/app.ts';
import { engines } from '../helpers/databases.ts';
import { startKeyService, type TestKeyService } from '../helpers/key-service.ts';

const b64u = (n: number) => randomBytes(n).toString('base64url');

function upload(overrides: Record<string, unknown> = {}) {
  return {
    serverShare: b64u(32),
    sender: 'Sender@Example.test',
    recipients: { to: ['Alice@Example.test', 'bob@example.test'], cc: ['carol@example.test'], bcc: ['dave@example.test'] },
    subject: 'Quarterly numbers',
    securityLevel: 'high',
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    readBy: null,
    flags: {
      replyEnabled: true,
      replyAllEnabled: false,
      forwardEnabled: false,
      sendReturnReceipt: true,
      suppressAppletForOpen: false,
      useScript: true,
      rememberEnvelopeKeyCheckbox: false,
    },
    locale: 'en',
    algorithm: 'aes-256-gcm',
    payload: { transport: 'inline', digest: createHash('sha256').update('x').digest('hex'), size: 1000 },
    ...overrides,
  };
}

async function provision(ks: TestKeyService, profile: string, settings: object = {}) {
  const auth = { authorization: `Bearer ${ks.adminToken}` };
  const created = await ks.app.inject({ method: 'POST', url: '/api/v1/admin/profiles', headers: auth, payload: { name: profile, settings } });
  if (created.statusCode !== 201) throw new Error(created.body);
  const res = await ks.app.inject({ method: 'POST', url: `/api/v1/admin/profiles/${profile}/credentials`, headers: auth, payload: { adminEmail: 'gw-admin@example.test' } });
  return res.json() as { token: string; credential: { id: string } };
}

for (const engine of engines()) {
  t.test(`key API on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    const ks = await startKeyService(opened);
    t.teardown(async () => {
      await ks.close();
      await opened.dispose();
    });
    const admin = { authorization: `Bearer ${ks.adminToken}` };

    t.test('administrator authentication', async (t) => {
      for (const headers of [{}, { authorization: 'Bearer wxa_nope.nope' }, { authorization: `Bearer ${ks.adminToken}x` }, { authorization: ks.adminToken }]) {
        const res = await ks.app.inject({ method: 'GET', url: '/api/v1/admin/profiles', headers });
        t.equal(res.statusCode, 401);
        t.match(res.headers['content-type'], /^application\/problem\+json/);
        t.equal(res.json().status, 401);
      }
      const ok = await ks.app.inject({ method: 'GET', url: '/api/v1/admin/profiles', headers: admin });
      t.equal(ok.statusCode, 200);
      t.same(ok.json(), []);
    });

    t.test('admin init runs only once', async (t) => {
      await t.rejects(ks.services.admins.initialise({ organisation: 'Other', email: 'x@example.test' }), { code: 'already_initialised' });
    });

    t.test('profiles: defaults, validation, conflicts, updates', async (t) => {
      const res = await ks.app.inject({ method: 'POST', url: '/api/v1/admin/profiles', headers: admin, payload: { name: 'Standard' } });
      t.equal(res.statusCode, 201);
      const p = res.json();
      t.equal(p.settings.securityLevel, 'high');
      t.equal(p.settings.algorithm, 'aes-256-gcm');
      t.equal(p.settings.envelopeFileName, 'securedoc.html');
      t.equal((await ks.app.inject({ method: 'POST', url: '/api/v1/admin/profiles', headers: admin, payload: { name: 'Standard' } })).statusCode, 409);

      const bad = await ks.app.inject({
        method: 'POST',
        url: '/api/v1/admin/profiles',
        headers: admin,
        payload: { name: 'Bad', settings: { securityLevel: 'extreme', defaultLocale: 'xx', queueTimeoutSeconds: 1 } },
      });
      t.equal(bad.statusCode, 422);
      t.ok(bad.json().errors.length >= 3, 'each problem is listed');
      t.match(bad.json().errors.join('\n'), /securityLevel/);

      const patched = await ks.app.inject({
        method: 'PATCH',
        url: '/api/v1/admin/profiles/Standard',
        headers: admin,
        payload: { settings: { securityLevel: 'medium', defaultLocale: 'ja', algorithm: 'aes-192-gcm', payloadTransport: { inlineMaxBytes: 1024 } } },
      });
      t.equal(patched.statusCode, 200);
      t.equal(patched.json().settings.securityLevel, 'medium');
      t.equal(patched.json().settings.defaultLocale, 'ja');
      t.equal(patched.json().settings.payloadTransport.inlineMaxBytes, 1024);
      t.equal(patched.json().settings.payloadTransport.referenceScheme, 'public', 'nested settings merge');
      const sep = await ks.app.inject({
        method: 'PATCH',
        url: '/api/v1/admin/profiles/Standard',
        headers: admin,
        payload: { settings: { payloadTransport: { referenceScheme: 'separate-url' } } },
      });
      t.equal(sep.statusCode, 422, 'separate-url needs a URL');
      t.equal((await ks.app.inject({ method: 'GET', url: '/api/v1/admin/profiles/Nope', headers: admin })).statusCode, 404);
    });

    t.test('provisioning: issue, use, rotate, revoke', async (t) => {
      await ks.app.inject({ method: 'POST', url: '/api/v1/admin/profiles', headers: admin, payload: { name: 'Gw' } });
      const res = await ks.app.inject({ method: 'POST', url: '/api/v1/admin/profiles/Gw/credentials', headers: admin, payload: { adminEmail: 'GW@Example.test' } });
      t.equal(res.statusCode, 201);
      const { token, credential } = res.json();
      t.match(token, /^wxg_[A-Za-z0-9_-]{12}\.[A-Za-z0-9_-]{43}$/);
      t.equal(credential.adminEmail, 'gw@example.test');
      const rows = await opened.database.db.selectFrom('gateway_credentials').selectAll().where('id', '=', credential.id).execute();
      t.equal(rows.length, 1);
      t.notOk(Buffer.from(rows[0]!.secret_hash).toString('utf8').includes(token.split('.')[1]), 'only a hash is stored');

      const gw = (tok: string) => ks.app.inject({ method: 'GET', url: '/api/v1/gateway/profile', headers: { authorization: `Bearer ${tok}` } });
      const prof = await gw(token);
      t.equal(prof.statusCode, 200);
      t.equal(prof.json().profile.name, 'Gw');
      t.same(prof.json().versions, { envelope: 1, securedoc: 1 });
      t.equal(prof.json().keyService.url, 'https://keys.example.test');
      t.equal((await gw(ks.adminToken)).statusCode, 401, 'an admin token is not a gateway credential');

      const rotated = await ks.app.inject({ method: 'POST', url: `/api/v1/admin/credentials/${credential.id}/rotate`, headers: admin });
      t.equal(rotated.statusCode, 201);
      t.equal((await gw(token)).statusCode, 401, 'old credential stops working');
      t.equal((await gw(rotated.json().token)).statusCode, 200);
      const list = await ks.app.inject({ method: 'GET', url: '/api/v1/admin/profiles/Gw/credentials', headers: admin });
      t.equal(list.json().length, 2);
      t.notOk(JSON.stringify(list.json()).includes('hash'), 'no hashes in listings');

      const revoked = await ks.app.inject({ method: 'POST', url: `/api/v1/admin/credentials/${rotated.json().credential.id}/revoke`, headers: admin });
      t.equal(revoked.statusCode, 200);
      t.ok(revoked.json().revokedAt);
      t.equal((await gw(rotated.json().token)).statusCode, 401);
      t.equal((await ks.app.inject({ method: 'POST', url: '/api/v1/admin/credentials/unknown/revoke', headers: admin })).statusCode, 404);
    });

    t.test('envelope uploads are idempotent and conflicts are refused', async (t) => {
      const { token } = await provision(ks, 'Up');
      const gw = { authorization: `Bearer ${token}` };
      const id = b64u(16);
      const body = upload();
      const first = await ks.app.inject({ method: 'PUT', url: `/api/v1/envelopes/${id}`, headers: gw, payload: body });
      t.equal(first.statusCode, 201, first.body);
      t.same(first.json(), { id, created: true, payloadPending: false, payloadUrl: null });
      const again = await ks.app.inject({ method: 'PUT', url: `/api/v1/envelopes/${id}`, headers: gw, payload: body });
      t.equal(again.statusCode, 200);
      t.equal(again.json().created, false);
      const count = await opened.database.db.selectFrom('envelopes').select((eb) => eb.fn.countAll<number>().as('n')).where('id', '=', id).executeTakeFirstOrThrow();
      t.equal(Number(count.n), 1, 'one envelope');

      const otherShare = await ks.app.inject({ method: 'PUT', url: `/api/v1/envelopes/${id}`, headers: gw, payload: { ...body, serverShare: b64u(32) } });
      t.equal(otherShare.statusCode, 409);
      const otherBody = await ks.app.inject({ method: 'PUT', url: `/api/v1/envelopes/${id}`, headers: gw, payload: { ...body, subject: 'changed' } });
      t.equal(otherBody.statusCode, 409);
      t.match(otherBody.json().detail, /fresh id/);

      const stored = await ks.services.envelopes.get(id);
      t.equal(stored!.sender, 'sender@example.test');
      t.same(stored!.recipients, { to: ['alice@example.test', 'bob@example.test'], cc: ['carol@example.test'], bcc: ['dave@example.test'] });
      t.equal(stored!.subject, 'Quarterly numbers');
      t.equal(stored!.flags.sendReturnReceipt, true);

      const row = await opened.database.db.selectFrom('envelopes').select(['wrapped_share', 'kek_version']).where('id', '=', id).executeTakeFirstOrThrow();
      const share = Buffer.from(body.serverShare, 'base64url');
      t.notOk(Buffer.from(row.wrapped_share).includes(share), 'the share is not stored in the clear');
      t.same(ks.keyRing.unwrap(id, row.wrapped_share, row.kek_version), share, 'it unwraps with the KEK');
      t.same(await ks.services.envelopes.serverShare(id), share);
    });

    t.test('upload validation', async (t) => {
      const { token } = await provision(ks, 'Val');
      const gw = { authorization: `Bearer ${token}` };
      const put = (id: string, payload: object) => ks.app.inject({ method: 'PUT', url: `/api/v1/envelopes/${id}`, headers: gw, payload });
      t.equal((await put('short', upload())).statusCode, 400);
      t.equal((await put(b64u(16), upload({ serverShare: 'abc' }))).statusCode, 400);
      t.equal((await put(b64u(16), upload({ recipients: { to: [], cc: [], bcc: [] } }))).statusCode, 422);
      t.equal((await put(b64u(16), upload({ recipients: { to: ['not an address'], cc: [], bcc: [] } }))).statusCode, 422);
      t.equal((await put(b64u(16), upload({ expiresAt: '2001-01-01T00:00:00Z' }))).statusCode, 422);
      t.equal((await put(b64u(16), upload({ locale: 'xx' }))).statusCode, 400);
      const extra = await put(b64u(16), { ...upload(), secretSauce: 1 });
      t.equal(extra.statusCode, 400, 'unknown fields are refused');
      const tooBig = await put(b64u(16), upload({ payload: { transport: 'inline', digest: 'a'.repeat(64), size: 10 * 1024 * 1024 } }));
      t.equal(tooBig.statusCode, 422, 'inline payloads respect the profile threshold');
      t.equal((await ks.app.inject({ method: 'PUT', url: `/api/v1/envelopes/${b64u(16)}`, payload: upload() })).statusCode, 401);
    });

    t.test('subject is kept only when the profile says so', async (t) => {
      const { token } = await provision(ks, 'NoSubject', { keepSubject: false });
      const id = b64u(16);
      const res = await ks.app.inject({ method: 'PUT', url: `/api/v1/envelopes/${id}`, headers: { authorization: `Bearer ${token}` }, payload: upload() });
      t.equal(res.statusCode, 201);
      t.equal((await ks.services.envelopes.get(id))!.subject, null);
    });

    t.test('payload by reference', async (t) => {
      const { token } = await provision(ks, 'Ref', { payloadTransport: { inlineMaxBytes: 0, referenceScheme: 'https', separateUrl: null } });
      const other = await provision(ks, 'Ref2');
      const gw = { authorization: `Bearer ${token}` };
      const id = b64u(16);
      const bytes = randomBytes(5000);
      const body = upload({ payload: { transport: 'reference', digest: createHash('sha256').update(bytes).digest('hex'), size: bytes.length } });
      const res = await ks.app.inject({ method: 'PUT', url: `/api/v1/envelopes/${id}`, headers: gw, payload: body });
      t.equal(res.statusCode, 201);
      t.equal(res.json().payloadPending, true);
      t.equal(res.json().payloadUrl, `https://keys.example.test/payloads/${id}`);
      t.equal((await ks.app.inject({ method: 'GET', url: `/payloads/${id}` })).statusCode, 404, 'nothing before upload');

      const putPayload = (b: Buffer, headers = gw) =>
        ks.app.inject({ method: 'PUT', url: `/api/v1/envelopes/${id}/payload`, headers: { ...headers, 'content-type': 'application/octet-stream' }, payload: b });
      const wrong = Buffer.from(bytes);
      wrong[10]! ^= 1;
      t.equal((await putPayload(wrong)).statusCode, 422, 'digest mismatch refused');
      t.equal((await putPayload(bytes.subarray(1))).statusCode, 422, 'size mismatch refused');
      t.equal((await putPayload(bytes)).statusCode, 201);
      t.equal((await putPayload(bytes)).statusCode, 200, 'repeat is harmless');
      const fetched = await ks.app.inject({ method: 'GET', url: `/payloads/${id}` });
      t.equal(fetched.statusCode, 200);
      t.same(fetched.rawPayload, bytes);
      t.equal(fetched.headers['access-control-allow-origin'], '*');
      const again = await ks.app.inject({ method: 'PUT', url: `/api/v1/envelopes/${id}`, headers: gw, payload: body });
      t.equal(again.json().payloadPending, false);
      t.equal((await putPayload(bytes, { authorization: `Bearer ${other.token}` })).statusCode, 200, 'same organisation may retry');
    });

    t.test('OpenAPI document lists the API', async (t) => {
      const res = await ks.app.inject({ method: 'GET', url: '/openapi.json' });
      t.equal(res.statusCode, 200);
      const doc = res.json();
      t.equal(doc.openapi, '3.1.0');
      for (const p of ['/api/v1/envelopes/{id}', '/api/v1/envelopes/{id}/payload', '/api/v1/admin/profiles', '/api/v1/gateway/profile', '/healthz', '/readyz']) {
        t.ok(doc.paths[p], `documents ${p}`);
      }
      const docs = await ks.app.inject({ method: 'GET', url: '/docs/' });
      t.equal(docs.statusCode, 200);
      t.match(docs.body, /swagger/i);
    });

    t.test('health, readiness, strict headers, problem+json 404', async (t) => {
      const h = await ks.app.inject({ method: 'GET', url: '/healthz' });
      t.same(h.json(), { status: 'ok' });
      t.match(h.headers['content-security-policy'], /default-src 'none'/);
      t.match(h.headers['content-security-policy'], /frame-ancestors 'none'/);
      t.same((await ks.app.inject({ method: 'GET', url: '/readyz' })).json(), { status: 'ready' });
      const nf = await ks.app.inject({ method: 'GET', url: '/nothing-here' });
      t.equal(nf.statusCode, 404);
      t.match(nf.headers['content-type'], /problem\+json/);
    });

    t.test('secrets never reach the log', async (t) => {
      let logged = '';
      const sink = new Writable({ write(chunk, _enc, cb) { logged += chunk.toString(); cb(); } });
      const logger = pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
      const app = await buildApp({ config: ks.config, database: opened.database, services: ks.services, logger });
      const { token } = await provision(ks, 'Logs');
      const body = upload();
      const res = await app.inject({ method: 'PUT', url: `/api/v1/envelopes/${b64u(16)}`, headers: { authorization: `Bearer ${token}` }, payload: body });
      t.equal(res.statusCode, 201);
      await app.close();
      // What a later log line might carry (an error with its request, a body): the configured
      // redaction must blank each of these.
      logger.error({ req: { headers: { authorization: 'Bearer SECRET-A', cookie: 'sid=SECRET-B' } }, serverShare: 'SECRET-C', body: { serverShare: 'SECRET-D', envelopeSecret: 'SECRET-E', token: 'SECRET-F' } }, 'failure');
      t.notMatch(logged, /SECRET-[A-F]/, 'authorization, cookies, shares, secrets and tokens are redacted');
      t.match(logged, /\[redacted\]/);
      t.match(logged, /request completed/, 'requests are logged');
      t.notOk(logged.includes(token.split('.')[1]!), 'credential secret not logged');
      t.notOk(logged.includes(body.serverShare), 'server share not logged');
    });
  });
}
