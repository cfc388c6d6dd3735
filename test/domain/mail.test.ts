import t from 'tap';
import type { Test } from 'tap';
import net from 'node:net';
import PostalMime from 'postal-mime';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import { MailDeliveryError, createMailService } from '../../src/domain/mail/mail-service.ts';
import { parseSmtpUrl } from '../../src/domain/mail/smtp-url.ts';
import { engines } from '../helpers/databases.ts';

const FROM = 'Waxseal <noreply@keys.example.test>';
const PASSWORD = 'S3cret-p@ss/word';

/** A clock that moves one second per call, so every stored mail has its own instant. */
function steppingClock(start = Date.UTC(2030, 0, 1)) {
  let next = start;
  return () => new Date((next += 1000));
}

interface Received {
  from: string;
  to: string[];
  raw: Buffer;
}

/**
 * A real SMTP peer on loopback. Without STARTTLS, so a tls=none URL reaches it; `reject` decides
 * a reply for RCPT TO or DATA.
 */
async function startSmtpPeer(t: Test, opts: { rejectRcpt?: number; rejectData?: number; auth?: boolean } = {}) {
  const received: Received[] = [];
  const fail = (code: number, text: string) => Object.assign(new Error(text), { responseCode: code });
  const options: SMTPServerOptions = {
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(_address, _session, callback) {
      if (opts.rejectRcpt) return callback(fail(opts.rejectRcpt, 'no such mailbox here'));
      callback();
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (opts.rejectData) return callback(fail(opts.rejectData, 'mailbox busy, come back later'));
        const mailFrom = session.envelope.mailFrom;
        received.push({
          from: mailFrom ? mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        });
        callback();
      });
    },
    onAuth(auth, _session, callback) {
      // A server that echoes what it was sent: the client must still not pass the password on.
      callback(Object.assign(new Error(`login ${auth.username} with ${auth.password} refused`), { responseCode: 535 }));
    },
  };
  const server = new SMTPServer(options);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as net.AddressInfo).port;
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port, received };
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

for (const engine of engines()) {
  t.test(`outbox mode (${engine.name})`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    t.teardown(() => opened.dispose());
    const mail = createMailService({ db: opened.database.db, smtpUrl: null, from: FROM, now: steppingClock() });
    t.teardown(() => mail.close());
    t.equal(mail.mode, 'outbox');

    const first = await mail.send({ to: 'Ana <ana@example.test>', subject: 'Verify your address', text: 'Open the link.\nThanks.', kind: 'verification' });
    t.same(first.delivered, 'outbox');
    t.match(first.messageId, /^<[^<>@\s]+@keys\.example\.test>$/, 'Message-ID on the sender domain, in brackets');
    const subject = 'Réinitialiser le mot de passe ✓ 確認';
    const second = await mail.send({
      to: 'Zoë Ünal <zoe@example.test>',
      subject,
      text: 'Bonjour Zoë,\n.a line that starts with a dot\n',
      html: '<p>Bonjour Zoë</p>',
      kind: 'reset',
      headers: { 'Auto-Submitted': 'auto-generated', 'X-Waxseal-Note': 'café' },
    });

    const list = await mail.listOutbox();
    t.same(
      list.map((e) => [e.kind, e.to, e.subject]),
      [
        ['reset', 'Zoë Ünal <zoe@example.test>', subject],
        ['verification', 'Ana <ana@example.test>', 'Verify your address'],
      ],
      'newest first',
    );
    t.ok(list[0]!.createdAt > list[1]!.createdAt);
    t.same((await mail.listOutbox(1)).map((e) => e.kind), ['reset'], 'limit');
    await t.rejects(mail.listOutbox(0), RangeError);

    const raw = await mail.readOutbox(list[0]!.id);
    t.ok(Buffer.isBuffer(raw), 'bytes come back as a Buffer');
    const wire = raw!.toString('latin1');
    t.notOk(/[^\x00-\x7f]/.test(wire.slice(0, wire.indexOf('\r\n\r\n'))), 'the header block is ASCII (subject encoded)');
    t.notOk(/(^|[^\r])\n/.test(wire), 'every line ends with CRLF');
    t.ok(wire.endsWith('\r\n'));
    const parsed = await PostalMime.parse(raw!);
    t.equal(parsed.subject, subject);
    t.same(parsed.to?.map((a) => [a.name, a.address]), [['Zoë Ünal', 'zoe@example.test']]);
    t.equal(parsed.from?.address, 'noreply@keys.example.test');
    t.equal(parsed.messageId, second.messageId);
    t.equal(parsed.text?.replace(/\r\n/g, '\n').trimEnd(), 'Bonjour Zoë,\n.a line that starts with a dot');
    t.match(parsed.html ?? '', /Bonjour Zoë/);
    const header = (name: string) => parsed.headers.find((h) => h.key === name)?.value;
    t.equal(header('auto-submitted'), 'auto-generated');
    t.equal(header('date'), 'Tue, 01 Jan 2030 00:00:03 +0000', 'Date from the injected clock');

    const plain = await PostalMime.parse((await mail.readOutbox(list[1]!.id))!);
    t.equal(plain.text?.replace(/\r\n/g, '\n').trimEnd(), 'Open the link.\nThanks.');
    t.same(plain.to?.map((a) => a.address), ['ana@example.test']);

    t.equal(await mail.readOutbox('00000000-0000-4000-8000-000000000000'), null, 'unknown id');
    t.equal(await mail.readOutbox('not-a-uuid'), null, 'malformed id');
  });

  t.test(`SMTP mode (${engine.name})`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    t.teardown(() => opened.dispose());
    const db = opened.database.db;
    const peer = await startSmtpPeer(t);
    const start = Date.UTC(2031, 5, 1);
    const mail = createMailService({ db, smtpUrl: `smtp://127.0.0.1:${peer.port}?tls=none`, from: FROM, now: steppingClock(start) });
    t.teardown(() => mail.close());
    t.equal(mail.mode, 'smtp');

    const message = {
      to: 'Zoë <zoe@example.test>, bo@example.test',
      subject: 'Lesebestätigung: Vertrag ✓',
      text: 'Gelesen.\n.\n..two dots\nEnde',
      kind: 'receipt' as const,
    };
    const sent = await mail.send(message);
    t.same(sent.delivered, 'smtp');
    t.equal(peer.received.length, 1);
    const got = peer.received[0]!;
    t.equal(got.from, 'noreply@keys.example.test', 'MAIL FROM is the bare sender address');
    t.same(got.to, ['zoe@example.test', 'bo@example.test'], 'RCPT TO for every recipient');

    // The same mail built for the outbox (same clock) differs only in its random Message-ID: what
    // the server received is exactly the composed message, dot-stuffing undone, nothing added.
    const outbox = createMailService({ db, smtpUrl: null, from: FROM, now: steppingClock(start) });
    const stored = await outbox.send(message);
    const raw = (await outbox.readOutbox((await outbox.listOutbox())[0]!.id))!;
    t.equal(got.raw.toString('latin1'), raw.toString('latin1').replace(stored.messageId, sent.messageId), 'the exact composed bytes');
    const parsed = await PostalMime.parse(got.raw);
    t.equal(parsed.subject, message.subject);
    t.equal(parsed.messageId, sent.messageId);
    t.equal(parsed.text?.replace(/\r\n/g, '\n').trimEnd(), message.text);

    await db.deleteFrom('outbox').execute();
    await mail.send({ to: 'x@example.test', subject: 's', text: 't', kind: 'other' });
    t.equal(peer.received.length, 2);
    t.same(await mail.listOutbox(), [], 'the outbox stays empty in SMTP mode');
  });
}

t.test('SMTP failures say whether to retry', async (t) => {
  // The outbox is not touched on these paths, so the embedded engine alone is enough.
  const opened = await engines()[0]!.open();
  t.teardown(() => opened.dispose());
  const db = opened.database.db;
  const send = async (smtpUrl: string) => {
    const mail = createMailService({ db, smtpUrl, from: FROM });
    try {
      await mail.send({ to: 'ana@example.test', subject: 'Hi', text: 'Hello', kind: 'other' });
      return null;
    } catch (err) {
      return err;
    } finally {
      await mail.close();
    }
  };

  const permanent = await startSmtpPeer(t, { rejectRcpt: 550 });
  const e550 = await send(`smtp://127.0.0.1:${permanent.port}?tls=none`);
  t.ok(e550 instanceof MailDeliveryError, '550 is a delivery error');
  t.match(e550, { transient: false, responseCode: 550, message: /permanently.*550.*no such mailbox/ });

  const busy = await startSmtpPeer(t, { rejectData: 451 });
  const e451 = await send(`smtp://127.0.0.1:${busy.port}?tls=none`);
  t.match(e451, { transient: true, responseCode: 451, message: /temporarily.*451/ });
  t.equal(busy.received.length, 0);

  const e = await send(`smtp://127.0.0.1:${await closedPort()}?tls=none`);
  t.ok(e instanceof MailDeliveryError);
  t.match(e, { transient: true, responseCode: null, message: /could not deliver to the SMTP server 127\.0\.0\.1:\d+/ });

  const login = await startSmtpPeer(t, { auth: true });
  const url = `smtp://mailer:${encodeURIComponent(PASSWORD)}@127.0.0.1:${login.port}?tls=none`;
  const e535 = await send(url);
  t.match(e535, { transient: false, responseCode: 535, message: /refused the login permanently/ });
  const text = `${(e535 as Error).message} ${(e535 as Error).stack} ${JSON.stringify(e535)}`;
  t.notOk(text.includes(PASSWORD), 'the password is not in the error, even when the server echoes it');
  t.notOk(text.includes(encodeURIComponent(PASSWORD)));
  t.match((e535 as Error).message, /\[redacted\]/);
});

t.test('header values are single-line', async (t) => {
  const opened = await engines()[0]!.open();
  t.teardown(() => opened.dispose());
  const mail = createMailService({ db: opened.database.db, smtpUrl: null, from: FROM });
  const base = { to: 'ana@example.test', subject: 'Hi', text: 'Hello', kind: 'other' as const };
  await t.rejects(mail.send({ ...base, headers: { 'X-Note': 'a\r\nBcc: evil@example.test' } }), TypeError);
  await t.rejects(mail.send({ ...base, headers: { 'X-Note': 'a\nb' } }), TypeError);
  await t.rejects(mail.send({ ...base, headers: { 'X-Note': 'a\rb' } }), TypeError);
  await t.rejects(mail.send({ ...base, headers: { 'X Bad': 'a' } }), TypeError, 'field names are checked too');
  await t.rejects(mail.send({ ...base, headers: { From: 'other@example.test' } }), TypeError, 'service-owned fields are refused');
  await t.rejects(mail.send({ ...base, subject: 'Hi\r\nBcc: evil@example.test' }), TypeError);
  await t.rejects(mail.send({ ...base, to: 'ana@example.test\r\nBcc: evil@example.test' }), TypeError);
  await t.rejects(mail.send({ ...base, to: 'nobody' }), TypeError, 'no address');
  t.same(await mail.listOutbox(), [], 'nothing refused was stored');
  t.throws(() => createMailService({ db: opened.database.db, smtpUrl: null, from: 'not an address' }), /not an e-mail address/);
  t.throws(() => createMailService({ db: opened.database.db, smtpUrl: 'http://x', from: FROM }), /smtp:\/\/ or smtps:\/\//);
});

t.test('parseSmtpUrl', async (t) => {
  t.match(parseSmtpUrl(`smtp://mailer:${encodeURIComponent(PASSWORD)}@mail.example.org:587`), {
    host: 'mail.example.org',
    port: 587,
    secure: false,
    requireTLS: true,
    ignoreTLS: false,
    auth: { user: 'mailer', pass: PASSWORD },
  });
  t.match(parseSmtpUrl('smtp://mail.example.org'), { port: 587, requireTLS: true }, 'submission port by default');
  t.match(parseSmtpUrl('smtps://u:p@mail.example.org:465'), { port: 465, secure: true, requireTLS: false });
  t.match(parseSmtpUrl('smtps://u:p@mail.example.org'), { port: 465, secure: true });
  t.match(parseSmtpUrl('smtp://localhost:25?tls=none'), { host: 'localhost', port: 25, ignoreTLS: true, requireTLS: false });
  t.match(parseSmtpUrl('smtp://127.0.0.1:2525?tls=none'), { host: '127.0.0.1', ignoreTLS: true });
  t.match(parseSmtpUrl('smtp://[::1]:25?tls=none'), { host: '::1', ignoreTLS: true });
  t.match(parseSmtpUrl('smtp://localhost:25'), { requireTLS: false, ignoreTLS: false }, 'loopback: STARTTLS when offered');
  t.notOk('auth' in parseSmtpUrl('smtp://localhost:25'), 'no credentials, no AUTH');

  const refused: [string, RegExp][] = [
    ['not a url', /not a valid URL/],
    ['http://mail.example.org', /smtp:\/\/ or smtps:\/\//],
    ['smtp://mail.example.org:25?tls=none', /loopback/],
    ['smtp://10.0.0.5:25?tls=none', /loopback/],
    ['smtps://localhost:465?tls=none', /contradicts/],
    ['smtp://localhost:25?tls=off', /only value tls= accepts/],
    ['smtp://localhost:25?from=a@b.c', /unknown parameter "from"/],
    ['smtp://mail.example.org/relay', /path/],
    ['smtp://mail.example.org:0', /port 0/],
    ['smtp://mailer@mail.example.org', /no password/],
    [`smtp://:${encodeURIComponent(PASSWORD)}@mail.example.org`, /no user name/],
    ['smtp://mailer:p%zz@mail.example.org', /%-escape/],
    ['smtp://', /no host/],
  ];
  for (const [url, problem] of refused) t.throws(() => parseSmtpUrl(url), problem, url.replace(encodeURIComponent(PASSWORD), "***"));

  // Every refusal of a URL that carries the password keeps it out of the message.
  for (const bad of [
    `smtp://mailer:${PASSWORD}@mail.example.org:25?tls=none`,
    `smtp://mailer:${PASSWORD}@mail.example.org:99999`,
    `smtp://mailer:${PASSWORD}@mail.example.org/x`,
    `smtps://mailer:${PASSWORD}@localhost?tls=none`,
    `ftp://mailer:${PASSWORD}@mail.example.org`,
    `smtp://mailer:${PASSWORD}@mail.example.org?tls=${PASSWORD}`,
    `smtp://mailer:${PASSWORD}%@mail.example.org`,
  ]) {
    let message = '';
    try {
      parseSmtpUrl(bad);
    } catch (err) {
      message = `${(err as Error).message} ${JSON.stringify(err)} ${String((err as Error).cause ?? '')}`;
    }
    t.not(message, '', `refused: ${bad.replaceAll(PASSWORD, '***')}`);
    t.notOk(message.includes(PASSWORD) || message.includes(encodeURIComponent(PASSWORD)), 'no password in the message');
  }
});
