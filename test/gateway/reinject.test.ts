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
  t.equal(Buffer.from(wireFormat(Buffer.from('\nx'), { dotStuff: false })).toString(), '\r\nx', 'an LF first');
  t.equal(Buffer.from(wireFormat(Buffer.from('x\r'), { dotStuff: false })).toString(), 'x\r\n', 'a CR last');
  t.equal(Buffer.from(wireFormat(Buffer.from('x\r\r\n.y'), { dotStuff: true })).toString(), 'x\r\n\r\n..y', 'CR CR LF is two line ends');
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

t.test('a refused recipient hands nothing over, and frees its connection slot', async (t) => {
  const sink = await startSmtpSinkWith({
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('full@')) return callback(Object.assign(new Error('Mailbox busy'), { responseCode: 452 }));
      if (address.address.startsWith('gone@')) return callback(Object.assign(new Error('No such user'), { responseCode: 550 }));
      callback();
    },
  });
  // One connection at most: a slot kept by a failed send would hang the next one.
  const reinject = createReinjector({ host: '127.0.0.1', port: sink.port }, { maxConnections: 1 });
  const raw = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  const busy = await reinject.send({ from: 'a@example.org', to: ['ok@example.net', 'full@example.net'], raw }).catch((e: unknown) => e);
  t.ok(busy instanceof ReinjectError, 'one recipient refused: the message is refused');
  t.match((busy as Error).message, /452 Mailbox busy/, 'with the server\'s answer');
  const gone = await reinject.send({ from: 'a@example.org', to: ['gone@example.net'], raw }).catch((e: unknown) => e);
  t.match((gone as Error).message, /550 No such user/);
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
  t.ok(injected instanceof ReinjectError, 'a line break in an address is refused before anything is sent');
  t.equal(sink.connections(), 0);
  await reinject.send({ from: 'a@example.org', to: ['jürgen@example.net'], raw });
  t.same(sink.mails[0]?.to, ['jürgen@example.net'], 'a non-ASCII address goes with SMTPUTF8');
  reinject.close();
  await sink.close();

  const ascii = await startSmtpSinkWith({ hideSMTPUTF8: true });
  const toAscii = createReinjector({ host: '127.0.0.1', port: ascii.port });
  const refused = await toAscii.send({ from: 'a@example.org', to: ['jürgen@example.net'], raw }).catch((e: unknown) => e);
  t.ok(refused instanceof ReinjectError, 'without SMTPUTF8 on the server: refused');
  t.match((refused as Error).message, /SMTPUTF8/);
  t.equal(ascii.mails.length, 0);
  toAscii.close();
  await ascii.close();
});

t.test('connections: kept and reused, at most maxConnections, renewed when the server drops one', async (t) => {
  const sink = await startSmtpSinkWith({});
  // Cuts a connection when its second MAIL arrives, before answering: a server that dropped a
  // kept connection just as the next message went out.
  const proxy = await cuttingProxy(sink.port, /^MAIL FROM:/gm);
  const reinject = createReinjector({ host: '127.0.0.1', port: proxy.port });
  const raw = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  await reinject.send({ from: 'a@example.org', to: ['one@example.net'], raw });
  await reinject.send({ from: 'a@example.org', to: ['two@example.net'], raw });
  t.equal(proxy.cuts(), 1, 'the kept connection was cut at the second MAIL');
  t.same(sink.mails.map((m) => m.to[0]), ['one@example.net', 'two@example.net'], 'and the message went again on a new one, once');
  reinject.close();
  await proxy.close();

  // Cut once the content is under way (at DATA): the message may have reached the server, so it
  // is not sent again here; the gateway answers 451 and the MTA decides.
  const late = await cuttingProxy(sink.port, /^DATA\r$/gm);
  const once = createReinjector({ host: '127.0.0.1', port: late.port });
  await once.send({ from: 'a@example.org', to: ['three@example.net'], raw });
  const cut = await once.send({ from: 'a@example.org', to: ['four@example.net'], raw }).catch((e: unknown) => e);
  t.ok(cut instanceof ReinjectError, 'a connection lost after DATA is an error');
  t.equal(late.cuts(), 1);
  t.same(sink.mails.map((m) => m.to[0]).slice(2), ['three@example.net'], 'and no second try on another connection');
  once.close();
  await late.close();

  const pooled = createReinjector({ host: '127.0.0.1', port: sink.port }, { maxConnections: 2 });
  const before = sink.connections();
  await Promise.all(Array.from({ length: 12 }, (_, i) => pooled.send({ from: 'a@example.org', to: [`p${i}@example.net`], raw })));
  t.equal(sink.mails.length, 15, 'every message arrived');
  t.ok(sink.connections() - before <= 2, `no more than 2 connections (${sink.connections() - before})`);
  await pooled.send({ from: 'a@example.org', to: ['again@example.net'], raw });
  t.ok(sink.connections() - before <= 2, 'a later message reuses one');
  pooled.close();
  await sink.close();
});

t.test('a kept connection the server closes while idle (421) is not used again', async (t) => {
  // smtp-server says 421 and closes a connection idle for longer than socketTimeout.
  const sink = await startSmtpSinkWith({ socketTimeout: 300 });
  const reinject = createReinjector({ host: '127.0.0.1', port: sink.port });
  const raw = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  await reinject.send({ from: 'a@example.org', to: ['one@example.net'], raw });
  await new Promise((resolve) => setTimeout(resolve, 700));
  await reinject.send({ from: 'a@example.org', to: ['two@example.net'], raw });
  t.same(sink.mails.map((m) => m.to[0]), ['one@example.net', 'two@example.net']);
  t.equal(sink.connections(), 2, 'the second message went on a new connection');
  reinject.close();
  await sink.close();
});

t.test('a connection that answers more than it was asked is not used again', async (t) => {
  // Takes BDAT, then adds a 421 to its answer and stays open: every later reply on that
  // connection would answer the wrong command.
  let connections = 0;
  let messages = 0;
  const chatty = net.createServer((socket) => {
    connections += 1;
    socket.write('220 chatty ESMTP\r\n');
    let buffered = '';
    let expectBytes = 0;
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (;;) {
        if (expectBytes > 0) {
          if (buffered.length < expectBytes) return;
          buffered = buffered.slice(expectBytes);
          expectBytes = 0;
          messages += 1;
          socket.write('250 queued\r\n421 going away soon\r\n');
          continue;
        }
        const end = buffered.indexOf('\r\n');
        if (end === -1) return;
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (line.startsWith('EHLO')) socket.write('250-chatty\r\n250-PIPELINING\r\n250 CHUNKING\r\n');
        else if (line.startsWith('MAIL') || line.startsWith('RCPT')) socket.write('250 ok\r\n');
        else if (line.startsWith('BDAT')) expectBytes = Number(line.split(' ')[1]);
        else if (line === 'QUIT') socket.end('221 bye\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => chatty.listen(0, '127.0.0.1', resolve));
  const reinject = createReinjector({ host: '127.0.0.1', port: (chatty.address() as AddressInfo).port });
  t.teardown(() => {
    reinject.close();
    chatty.close();
    chatty.unref();
  });
  const raw = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  await reinject.send({ from: 'a@example.org', to: ['one@example.net'], raw });
  await reinject.send({ from: 'a@example.org', to: ['two@example.net'], raw });
  t.equal(messages, 2, 'both messages were taken');
  t.equal(connections, 2, 'the second on a new connection');
});

t.test('a server that stops answering, or is not there, gives an error', async (t) => {
  // Greets and answers EHLO, then says nothing more.
  const mute = net.createServer((socket) => {
    socket.write('220 mute ESMTP\r\n');
    socket.once('data', () => socket.write('250-mute\r\n250 PIPELINING\r\n'));
  });
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
  const reinject = createReinjector({ host: '127.0.0.1', port: (mute.address() as AddressInfo).port }, { replyTimeoutMs: 300 });
  const silent = await reinject.send({ from: 'a@example.org', to: ['b@example.net'], raw: Buffer.from('x\r\n') }).catch((e: unknown) => e);
  t.ok(silent instanceof ReinjectError, 'no answer: refused in time');
  t.match((silent as Error).message, /did not answer in time/);
  reinject.close();
  await new Promise<void>((resolve) => mute.close(() => resolve()));

  const closedPort = (mute.address() as AddressInfo | null)?.port ?? 1;
  const nobody = createReinjector({ host: '127.0.0.1', port: closedPort });
  const refused = await nobody.send({ from: 'a@example.org', to: ['b@example.net'], raw: Buffer.from('x\r\n') }).catch((e: unknown) => e);
  t.ok(refused instanceof ReinjectError, 'connection refused: an error, not a hang');
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

/**
 * A TCP relay to `target` that cuts a connection (both sides, no answer) when `pattern` has
 * matched twice in what the client sent on it: a server going away at that step.
 */
async function cuttingProxy(target: number, pattern: RegExp) {
  let cuts = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: target });
    let seen = 0;
    client.on('data', (chunk) => {
      seen += (chunk.toString('latin1').match(pattern) ?? []).length;
      if (seen >= 2) {
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cuts: () => cuts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
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
