// The content filter over real SMTP: a client stands for the MTA handing messages in, two
// smtp-server sinks stand for its reinjection ports (plain and TLS-only), a real key service on
// PGlite takes the keys. The Postfix suite (postfix-gateway.test.ts) runs the same filter in the
// real mail flow; this one reaches the cases that are awkward there (clock, crashes).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import pino from 'pino';
import t from 'tap';
import { openEnvelope } from '../../src/crypto/envelope-crypto.ts';
import { startFilterServer } from '../../src/gateway/filter/filter-server.ts';
import { openJournal } from '../../src/gateway/filter/journal.ts';
import { processMessage, type ProcessDeps } from '../../src/gateway/filter/process-message.ts';
import { createReinjector } from '../../src/gateway/filter/reinject.ts';
import { createKeyServiceClient, type GatewayProfileInfo } from '../../src/gateway/key-client.ts';
import { createI18n } from '../../src/i18n/create-i18n.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../../src/paths.ts';
import { engines } from '../helpers/databases.ts';
import { parseEnvelopeMail } from '../helpers/envelope-file.ts';
import { freePort, listenKeyService, provisionProfile } from '../helpers/key-service.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';

const i18n = createI18n(LOCALES_DIR);
const engine = engines().find((e) => e.name === 'pglite')!;

function message(subject: string, body = 'Quarterly numbers attached.\r\n'): Buffer {
  return Buffer.from(`From: Ana <ana@example.org>\r\nTo: bob@example.net\r\nSubject: ${subject}\r\nMessage-ID: <${Math.random()}@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}`);
}

t.test('the content filter seals, passes, defers and notifies', async (t) => {
  const opened = await engine.open();
  const ks = await listenKeyService(opened);
  const mta = await startSmtpSink();
  const mtaTls = await startSmtpSink();
  const dir = mkdtempSync(join(tmpdir(), 'waxseal-filter-'));
  const credential = await provisionProfile(ks, 'Secure', { securityLevel: 'medium', queueTimeoutSeconds: 3600 });
  let clock = Date.now();
  const now = () => new Date(clock);

  // The key service can be made unreachable by pointing the client at a closed port.
  const deadUrl = `http://127.0.0.1:${await freePort()}`;
  let keyServiceUp = true;
  const live = createKeyServiceClient({ url: ks.url, credential, attempts: 1 });
  const dead = createKeyServiceClient({ url: deadUrl, credential, attempts: 1 });
  const client = () => (keyServiceUp ? live : dead);
  let cached: GatewayProfileInfo | null = null;

  const reinject = createReinjector({ host: '127.0.0.1', port: Number(new URL(mta.url).port) });
  const reinjectTls = createReinjector({ host: '127.0.0.1', port: Number(new URL(mtaTls.url).port) });
  const deps: ProcessDeps = {
    async decide(raw) {
      const secure = /^Subject:.*\[secure\]/im.test(Buffer.from(raw).toString('latin1'));
      return { raw, encrypt: secure ? { profile: 'Secure', subject: '[Encrypted] secure', tls: 'always' } : null };
    },
    profile: (name) =>
      name === 'Secure'
        ? {
            client: { get url() { return client().url; }, getProfile: () => client().getProfile(), putEnvelope: (id, u) => client().putEnvelope(id, u), putPayload: (id, c) => client().putPayload(id, c) },
            async info() {
              cached = await client().getProfile().catch(() => cached);
              return cached;
            },
          }
        : null,
    tls: { setting: () => 'none', offersTls: async () => false },
    reinject,
    reinjectTls,
    journal: openJournal(join(dir, 'spool'), { now }),
    seal: { i18n, views: VIEWS_DIR },
    postmaster: 'postmaster@example.org',
    now,
  };
  const server = await startFilterServer({ host: '127.0.0.1', port: 0, maxBytes: 30 * 1024 * 1024, process: (m) => processMessage(m, deps), log: pino({ level: 'silent' }) });
  const submit = nodemailer.createTransport({ host: '127.0.0.1', port: server.port, secure: false, ignoreTLS: true });
  t.teardown(async () => {
    submit.close();
    reinject.close();
    reinjectTls.close();
    await server.close();
    await mta.close();
    await mtaTls.close();
    await ks.close();
    await opened.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const send = (raw: Buffer, to = ['bob@example.net']) => submit.sendMail({ envelope: { from: 'ana@example.org', to }, raw });

  await t.test('a message matching no rule is handed back unchanged', async (t) => {
    const raw = message('lunch');
    await send(raw);
    const got = await mta.waitFor('bob@example.net', /lunch/);
    t.ok(got.raw.includes(raw), 'the same bytes (the sink may add its own trace header)');
  });

  await t.test('a matching message comes back as an envelope that opens to the original bytes', async (t) => {
    const raw = message('[secure] figures');
    await send(raw);
    const got = await mta.waitFor('bob@example.net', /Encrypted/);
    t.notOk(got.raw.includes('Quarterly numbers'), 'no clear text in what was handed back');
    const file = await parseEnvelopeMail(got.raw);
    const share = await ks.services.envelopes.serverShare(file.envelopeId);
    t.ok((await openEnvelope({ serverShare: share!, envelopeSecret: file.envelopeSecret }, file.inlinePayload!)).every((b, i) => b === raw[i]), 'opens byte-identical');
    t.equal(mtaTls.mails.length, 0, 'nothing went to the TLS port');
  });

  await t.test('key service unreachable: 451, nothing handed back; later it arrives sealed', async (t) => {
    keyServiceUp = false;
    cached = null;
    const before = mta.mails.length;
    const raw = message('[secure] while down');
    t.equal(((await send(raw).catch((e: unknown) => e)) as { responseCode?: number }).responseCode, 451, 'the MTA is told to try again');
    t.equal(mta.mails.length, before, 'nothing was handed back');
    keyServiceUp = true;
    await send(raw);
    const got = await mta.waitFor('bob@example.net', /Encrypted/);
    t.ok(got.raw.length > 0 && mta.mails.length === before + 1, 'exactly one envelope after the retry');
  });

  await t.test('past the queue timeout the sender gets the failure notice, the recipient nothing', async (t) => {
    keyServiceUp = false;
    const raw = message('[secure] never');
    t.equal(((await send(raw).catch((e: unknown) => e)) as { responseCode?: number }).responseCode, 451, 'deferred while it may still wait');
    clock += 3601 * 1000;
    const before = mta.mails.filter((m) => m.to.includes('bob@example.net')).length;
    await send(raw);
    const notice = await mta.waitFor('ana@example.org', /Encryption failure/);
    t.match(notice.parsed.text ?? '', /could not be encrypted/i, 'the localized default explains it');
    t.notOk(notice.raw.includes('Quarterly numbers'), 'the notice does not carry the body');
    t.equal(mta.mails.filter((m) => m.to.includes('bob@example.net')).length, before, 'the recipient received nothing');
    keyServiceUp = true;
  });

  await t.test('a message handed again after it was finished is answered at once and nothing goes again', async (t) => {
    // The MTA did not hear the 250 (a dropped connection) and hands the message again, this time
    // with the key service up: the sender already had the failure notice, and the recipient must
    // not now get the message after all.
    const raw = message('[secure] notified once');
    keyServiceUp = false;
    t.equal(((await send(raw).catch((e: unknown) => e)) as { responseCode?: number }).responseCode, 451);
    clock += 3601 * 1000;
    await send(raw);
    await mta.waitFor('ana@example.org', /notified once/);
    keyServiceUp = true;
    const toBob = mta.mails.filter((m) => m.to.includes('bob@example.net')).length;
    const toAna = mta.mails.filter((m) => m.to.includes('ana@example.org')).length;
    const info = await send(raw);
    t.match(info.response, /^250/, 'accepted');
    const passed = message('after the repeat');
    await send(passed);
    await mta.waitFor('bob@example.net', /after the repeat/);
    t.equal(mta.mails.filter((m) => m.to.includes('bob@example.net')).length, toBob + 1, 'the recipient got only the next message');
    t.equal(mta.mails.filter((m) => m.to.includes('ana@example.org')).length, toAna, 'no second notice');
    t.same(await processMessage({ raw, sender: 'ana@example.org', recipients: ['bob@example.net'] }, deps), { kind: 'repeated' }, 'answered without reading it again');
  });

  await t.test('a message handed again after a crash is not delivered twice', async (t) => {
    // The first hand-back succeeded, then the gateway "died" before answering: the MTA hands the
    // same message again, and the journal (reopened from disk, as after a restart) remembers it.
    const raw = message('resent');
    const before = mta.mails.length;
    await processMessage({ raw, sender: 'ana@example.org', recipients: ['bob@example.net'] }, deps);
    const restarted = { ...deps, journal: openJournal(join(dir, 'spool'), { now }) };
    await processMessage({ raw, sender: 'ana@example.org', recipients: ['bob@example.net'] }, restarted);
    await mta.waitFor('bob@example.net', /resent/);
    await new Promise((r) => setTimeout(r, 200));
    t.equal(mta.mails.length, before + 1, 'handed back once');
  });
});
