// The gateway's hand-back client against real SMTP servers: smtp-server (DATA, with and
// without PIPELINING) here, and Postfix's reinjection smtpd (BDAT) when Postfix can run.

import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import t from 'tap';
import { createReinjector, ReinjectError } from '../../src/gateway/filter/reinject.ts';
import { wireFormat } from '../../src/gateway/filter/wire-format.ts';
import { postfixAvailable, startPostfix } from '../helpers/postfix.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';

const port = (url: string) => Number(new URL(url).port);

// Lines that DATA must escape or canonicalise: leading dots, a lone dot, bare LF and CR, and a
// "\r.\r" that a lenient receiver could take for the end of the data (SMTP smuggling).
const AWKWARD = Buffer.from(
  'From: a@example.org\r\nTo: b@example.net\r\nSubject: dots\r\n\r\n.leading dot\r\n.\r\n..two dots\r\nbare LF\nbare CR\rsmuggle\r.\rMAIL FROM:<x@y>\r\nlast line without end',
);
const AWKWARD_CANONICAL = 'From: a@example.org\r\nTo: b@example.net\r\nSubject: dots\r\n\r\n.leading dot\r\n.\r\n..two dots\r\nbare LF\r\nbare CR\r\nsmuggle\r\n.\r\nMAIL FROM:<x@y>\r\nlast line without end';

t.test('wire format: canonical messages pass as they are, others are mended', async (t) => {
  const canonical = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  t.equal(wireFormat(canonical, { dotStuff: false }).buffer, canonical.buffer, 'no copy for BDAT');
  t.equal(wireFormat(canonical, { dotStuff: true }).buffer, canonical.buffer, 'no copy for DATA without dots');
  t.equal(Buffer.from(wireFormat(AWKWARD, { dotStuff: false })).toString('latin1'), AWKWARD_CANONICAL, 'BDAT: line ends only');
  t.equal(
    Buffer.from(wireFormat(AWKWARD, { dotStuff: true })).toString('latin1'),
    AWKWARD_CANONICAL.replace(/(^|\r\n)\./g, '$1..'),
    'DATA: line ends, and every leading dot doubled',
  );
  t.equal(Buffer.from(wireFormat(Buffer.from('.x'), { dotStuff: true })).toString(), '..x', 'a dot at the very start');
});

t.test('DATA: the sink receives exactly the canonical message, over pipelined and one-by-one commands', async (t) => {
  for (const hidePIPELINING of [false, true]) {
    const sink = await startSmtpSinkWith({ hidePIPELINING });
    const reinject = createReinjector({ host: '127.0.0.1', port: sink.port });
    await reinject.send({ from: 'a@example.org', to: ['b@example.net', 'c@example.net'], raw: AWKWARD });
    t.equal(sink.mails.length, 1);
    t.same(sink.mails[0]!.to, ['b@example.net', 'c@example.net']);
    t.equal(sink.mails[0]!.raw.toString('latin1'), `${AWKWARD_CANONICAL}\r\n`, `byte for byte${hidePIPELINING ? ', without PIPELINING' : ''}`);
    reinject.close();
    await sink.close();
  }
});

t.test('a refused recipient hands nothing over; the error says whether to retry', async (t) => {
  const sink = await startSmtpSinkWith({
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('full@')) return callback(Object.assign(new Error('Mailbox busy'), { responseCode: 452 }));
      if (address.address.startsWith('gone@')) return callback(Object.assign(new Error('No such user'), { responseCode: 550 }));
      callback();
    },
  });
  const reinject = createReinjector({ host: '127.0.0.1', port: sink.port });
  const raw = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  const temporary = await reinject.send({ from: 'a@example.org', to: ['ok@example.net', 'full@example.net'], raw }).catch((e: unknown) => e);
  t.ok(temporary instanceof ReinjectError && temporary.temporary, '4xx: temporary');
  t.match((temporary as Error).message, /452/);
  const permanent = await reinject.send({ from: 'a@example.org', to: ['gone@example.net'], raw }).catch((e: unknown) => e);
  t.ok(permanent instanceof ReinjectError && !permanent.temporary, '5xx only: permanent');
  t.equal(sink.mails.length, 0, 'not even to the accepted recipient');
  await reinject.send({ from: 'a@example.org', to: ['ok@example.net'], raw });
  t.equal(sink.mails.length, 1, 'the next message goes through');
  reinject.close();
  await sink.close();
});

t.test('addresses that cannot be written in SMTP, and SMTPUTF8', async (t) => {
  const sink = await startSmtpSinkWith({});
  const reinject = createReinjector({ host: '127.0.0.1', port: sink.port });
  const raw = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  const injected = await reinject.send({ from: 'a@example.org', to: ['b@example.net>\r\nRCPT TO:<evil@example.com'], raw }).catch((e: unknown) => e);
  t.ok(injected instanceof ReinjectError && !injected.temporary, 'a line break in an address is refused before anything is sent');
  t.equal(sink.connections(), 0);
  await reinject.send({ from: 'a@example.org', to: ['jürgen@example.net'], raw });
  t.same(sink.mails[0]?.to, ['jürgen@example.net'], 'a non-ASCII address goes with SMTPUTF8');
  reinject.close();
  await sink.close();

  const ascii = await startSmtpSinkWith({ hideSMTPUTF8: true });
  const toAscii = createReinjector({ host: '127.0.0.1', port: ascii.port });
  const refused = await toAscii.send({ from: 'a@example.org', to: ['jürgen@example.net'], raw }).catch((e: unknown) => e);
  t.ok(refused instanceof ReinjectError && !refused.temporary, 'without SMTPUTF8 on the server: a permanent error');
  t.match((refused as Error).message, /SMTPUTF8/);
  t.equal(ascii.mails.length, 0);
  toAscii.close();
  await ascii.close();
});

t.test('connections: kept and reused, at most maxConnections, renewed when the server drops one', async (t) => {
  const sink = await startSmtpSinkWith({});
  // Cuts a connection when its second MAIL arrives, before answering: a server that dropped a
  // kept connection just as the next message went out.
  let cuts = 0;
  const proxy = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: sink.port });
    let mails = 0;
    client.on('data', (chunk) => {
      mails += (chunk.toString('latin1').match(/^MAIL FROM:/gm) ?? []).length;
      if (mails >= 2) {
        cuts += 1;
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const reinject = createReinjector({ host: '127.0.0.1', port: (proxy.address() as AddressInfo).port });
  const raw = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  await reinject.send({ from: 'a@example.org', to: ['one@example.net'], raw });
  await reinject.send({ from: 'a@example.org', to: ['two@example.net'], raw });
  t.equal(cuts, 1, 'the kept connection was cut at the second MAIL');
  t.same(sink.mails.map((m) => m.to[0]), ['one@example.net', 'two@example.net'], 'and the message went again on a new one, once');
  reinject.close();
  proxy.close();

  const pooled = createReinjector({ host: '127.0.0.1', port: sink.port }, { maxConnections: 2 });
  const before = sink.connections();
  await Promise.all(Array.from({ length: 12 }, (_, i) => pooled.send({ from: 'a@example.org', to: [`p${i}@example.net`], raw })));
  t.equal(sink.mails.length, 14, 'every message arrived');
  t.ok(sink.connections() - before <= 2, `no more than 2 connections (${sink.connections() - before})`);
  await pooled.send({ from: 'a@example.org', to: ['again@example.net'], raw });
  t.ok(sink.connections() - before <= 2, 'a later message reuses one');
  pooled.close();
  await sink.close();
});

t.test('a server that stops answering, or is not there, gives a temporary error', async (t) => {
  // Greets and answers EHLO, then says nothing more.
  const mute = net.createServer((socket) => {
    socket.write('220 mute ESMTP\r\n');
    socket.once('data', () => socket.write('250-mute\r\n250 PIPELINING\r\n'));
  });
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
  const reinject = createReinjector({ host: '127.0.0.1', port: (mute.address() as AddressInfo).port }, { replyTimeoutMs: 300 });
  const silent = await reinject.send({ from: 'a@example.org', to: ['b@example.net'], raw: Buffer.from('x\r\n') }).catch((e: unknown) => e);
  t.ok(silent instanceof ReinjectError && silent.temporary, 'no answer: temporary');
  t.match((silent as Error).message, /did not answer in time/);
  reinject.close();
  await new Promise<void>((resolve) => mute.close(() => resolve()));

  const closedPort = (mute.address() as AddressInfo | null)?.port ?? 1;
  const nobody = createReinjector({ host: '127.0.0.1', port: closedPort });
  const refused = await nobody.send({ from: 'a@example.org', to: ['b@example.net'], raw: Buffer.from('x\r\n') }).catch((e: unknown) => e);
  t.ok(refused instanceof ReinjectError && refused.temporary, 'connection refused: temporary');
  nobody.close();
});

const pf = postfixAvailable();
if (!pf.ok) {
  if (process.env['CI'] === 'true') t.fail(`CI=true but the BDAT hand-back test cannot run: ${pf.reason}`);
  else {
    const line = `*** BDAT hand-back to Postfix DID NOT RUN: ${pf.reason} ***`;
    process.stderr.write(`\n${'*'.repeat(line.length)}\n${line}\n${'*'.repeat(line.length)}\n\n`);
    t.comment(line);
  }
} else {
  t.test('BDAT to Postfix: the message arrives at the next hop with the same bytes', async (t) => {
    const sink = await startSmtpSink();
    const postfix = await startPostfix({ relay: { host: '127.0.0.1', port: port(sink.url) } });
    t.teardown(async () => {
      await postfix.stop();
      await sink.close();
    });
    const reinject = createReinjector({ host: '127.0.0.1', port: postfix.reinjectPort });
    const body = `${'x'.repeat(70)}\r\n`.repeat(20_000);
    const raw = Buffer.from(`From: a@example.org\r\nTo: b@example.net\r\nSubject: bdat\r\nDate: Sun, 29 Nov 2026 12:00:00 +0000\r\nMessage-ID: <bdat@example.org>\r\n\r\n.leading dot\r\n.\r\n${body}`);
    await reinject.send({ from: 'a@example.org', to: ['b@example.net'], raw });
    const mail = await sink.waitFor('b@example.net', /^bdat$/, 15_000);
    const arrived = mail.raw.toString('latin1');
    // Postfix adds its Received: line on top; everything after it is what was handed back.
    t.equal(arrived.slice(arrived.indexOf('From: a@example.org')), raw.toString('latin1'), 'byte for byte, dots included');
    reinject.close();
    // smtpd counts the commands of a session in its disconnect line.
    t.match(await postfix.waitForLog(/disconnect from .* bdat=1 /), /bdat=1/, 'it went as BDAT');
  });
}

/** smtp-server with the given options; keeps what it receives. */
async function startSmtpSinkWith(options: Partial<ConstructorParameters<typeof SMTPServer>[0]>) {
  const mails: { to: string[]; raw: Buffer }[] = [];
  let connections = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onConnect(_session, callback) {
      connections += 1;
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks) });
        callback();
      });
    },
    ...options,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.server.address() as AddressInfo).port,
    mails,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
