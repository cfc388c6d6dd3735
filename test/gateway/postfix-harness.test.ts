import t from 'tap';
import type { Test } from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { pollUntil, postfixAvailable, selfSignedCert, startPostfix } from '../helpers/postfix.ts';
import type { Hop, PostfixHarness, PostfixOptions } from '../helpers/postfix.ts';

// Proves the Postfix test harness (test/helpers/postfix.ts) does what the gateway's integration
// tests will rely on: plain relaying, per-domain next hops, the after-queue content filter
// round trip, the TLS-only reinjection port (and its bounces, which must still reach a sender
// without TLS), and a filter's 4xx keeping mail queued until a flush.

interface Received {
  from: string;
  to: string[];
  raw: Buffer;
  /** Whether the session had done STARTTLS when the message came. */
  secure: boolean;
}

interface Sink {
  hop: Hop;
  mails: Received[];
  /** Every DATA the sink saw, refused ones included. */
  attempts: number;
  /** When set, the sink answers every message with this temporary failure. */
  refuse: { code: number; message: string } | null;
  waitForMails(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/**
 * A real SMTP server that records what it is sent. With `tls`, it offers STARTTLS with that
 * certificate; `onMessage` runs before the sink accepts (a content filter re-submits there).
 */
async function startSink(opts: { tls?: { key: Buffer; cert: Buffer }; onMessage?: (mail: Received) => Promise<void> } = {}): Promise<Sink> {
  const sink: Sink = {
    hop: { host: '127.0.0.1', port: 0 },
    mails: [],
    attempts: 0,
    refuse: null,
    waitForMails: (count, timeoutMs = 15_000) =>
      pollUntil(() => (sink.mails.length >= count ? sink.mails : undefined), `${count} mail(s) at sink :${sink.hop.port}`, timeoutMs, 50),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    authOptional: true,
    logger: false,
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : { disabledCommands: ['STARTTLS'] }),
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        sink.attempts++;
        if (sink.refuse) {
          const error = Object.assign(new Error(sink.refuse.message), { responseCode: sink.refuse.code });
          callback(error);
          return;
        }
        const mailFrom = session.envelope.mailFrom;
        const mail: Received = {
          from: mailFrom ? mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
          raw: Buffer.concat(chunks),
          secure: session.secure,
        };
        (opts.onMessage ? opts.onMessage(mail) : Promise.resolve()).then(
          () => {
            sink.mails.push(mail);
            callback();
          },
          (error: unknown) => callback(Object.assign(new Error(`filter: ${(error as Error).message}`), { responseCode: 451 })),
        );
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.hop.port = (server.server.address() as AddressInfo).port;
  return sink;
}

/** Submits a raw message over SMTP with an explicit envelope (as an MTA or the gateway does). */
async function submit(port: number, envelope: { from: string; to: string[] }, raw: Buffer): Promise<void> {
  // Postfix's smtpd here offers no STARTTLS; ignoreTLS keeps nodemailer from asking.
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  try {
    await transport.sendMail({ envelope, raw });
  } finally {
    transport.close();
  }
}

let counter = 0;
function message(opts: { from: string; to: string[]; subject: string; body?: string }): Buffer {
  counter++;
  const body =
    opts.body ??
    [
      'Grüße aus dem Test — 8-bit UTF-8 text that must arrive as it left.',
      '.A line starting with a dot (SMTP dot-stuffing must be undone).',
      'Trailing spaces stay:   ',
      '',
      'x'.repeat(500),
      '',
    ].join('\r\n');
  const head = [
    `From: <${opts.from}>`,
    `To: ${opts.to.map((a) => `<${a}>`).join(', ')}`,
    `Subject: ${opts.subject}`,
    'Date: Sat, 28 Nov 2026 10:00:00 +0000',
    `Message-ID: <harness-${process.pid}-${counter}@sender.test>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ].join('\r\n');
  return Buffer.from(`${head}\r\n\r\n${body}`, 'utf8');
}

function bodyOf(raw: Buffer): Buffer {
  const end = raw.indexOf('\r\n\r\n');
  return end < 0 ? Buffer.alloc(0) : raw.subarray(end + 4);
}

function subjectOf(raw: Buffer): string {
  return /^Subject: (.*)$/m.exec(raw.toString('utf8'))?.[1]?.trim() ?? '';
}

/** A harness that the subtest stops when it ends, whatever happened. */
async function postfixFor(t: Test, opts: PostfixOptions): Promise<PostfixHarness> {
  const postfix = await startPostfix(opts);
  t.teardown(() => postfix.stop());
  return postfix;
}

async function sinkFor(t: Test, opts?: Parameters<typeof startSink>[0]): Promise<Sink> {
  const sink = await startSink(opts);
  t.teardown(() => sink.close());
  return sink;
}

/** Matches are counted, so a test can wait for "one more" retry rather than sleep. */
function count(log: string, pattern: RegExp): number {
  return log.match(new RegExp(pattern.source, 'g'))?.length ?? 0;
}

const available = postfixAvailable();
if (!available.ok) {
  if (process.env['CI'] === 'true') {
    t.fail(`CI=true but the Postfix integration tests cannot run: ${available.reason}`);
  } else {
    const line = `NOT RUN: the Postfix integration tests (${available.reason})`;
    const frame = '*'.repeat(line.length + 8);
    process.stderr.write(`\n${frame}\n*** ${line} ***\n${frame}\n\n`);
    t.comment(line);
  }
} else {
  t.test('without a content filter, mail reaches the relay sink with its body byte for byte', async (t) => {
    const relay = await sinkFor(t);
    const postfix = await postfixFor(t, { relay: relay.hop });
    const raw = message({ from: 'alice@sender.test', to: ['bob@relay.test'], subject: 'plain relay' });

    await submit(postfix.port, { from: 'alice@sender.test', to: ['bob@relay.test'] }, raw);

    const [mail] = await relay.waitForMails(1);
    t.same(mail?.to, ['bob@relay.test']);
    t.equal(mail?.from, 'alice@sender.test');
    t.ok(mail && bodyOf(mail.raw).equals(bodyOf(raw)), 'the body is unchanged, byte for byte');
    t.equal(mail && subjectOf(mail.raw), 'plain relay');
    await postfix.waitForEmptyQueue();
    t.equal(relay.mails.length, 1, 'delivered once');
  });

  t.test('a per-domain transport sends that domain to its own next hop', async (t) => {
    const relay = await sinkFor(t);
    const other = await sinkFor(t);
    const postfix = await postfixFor(t, { relay: relay.hop, transports: { 'other.test': other.hop } });
    const to = ['bob@relay.test', 'carol@other.test'];

    await submit(postfix.port, { from: 'alice@sender.test', to }, message({ from: 'alice@sender.test', to, subject: 'two hops' }));

    const [atOther] = await other.waitForMails(1);
    const [atRelay] = await relay.waitForMails(1);
    t.same(atOther?.to, ['carol@other.test'], 'the transport-mapped domain went to its own sink');
    t.same(atRelay?.to, ['bob@relay.test'], 'everything else went to the relay');
    await postfix.waitForEmptyQueue();
    t.equal(other.mails.length + relay.mails.length, 2, 'nothing was sent twice');
  });

  t.test('with a content filter, mail goes through the filter, back in, and out once', async (t) => {
    const relay = await sinkFor(t);
    let reinjectPort = 0;
    // What the gateway will do: take the message, change it, and hand it back to Postfix before
    // accepting it, so Postfix keeps it queued until the filter has passed it on.
    const filter = await sinkFor(t, {
      onMessage: (mail) =>
        submit(reinjectPort, { from: mail.from, to: mail.to }, Buffer.concat([Buffer.from('X-Waxseal-Filtered: yes\r\n'), mail.raw])),
    });
    const postfix = await postfixFor(t, { relay: relay.hop, contentFilter: filter.hop });
    reinjectPort = postfix.reinjectPort;
    const raw = message({ from: 'alice@sender.test', to: ['bob@relay.test'], subject: 'filtered' });

    await submit(postfix.port, { from: 'alice@sender.test', to: ['bob@relay.test'] }, raw);

    const [mail] = await relay.waitForMails(1);
    t.match(mail?.raw.toString('utf8'), /\r\nX-Waxseal-Filtered: yes\r\n/, 'the filter saw and changed it (Postfix adds its Received: above)');
    t.ok(mail && bodyOf(mail.raw).equals(bodyOf(raw)), 'the body is unchanged');
    // Once both queues are empty nothing more can be delivered, so the counts below are final.
    await postfix.waitForEmptyQueue();
    t.equal(filter.mails.length, 1, 'the filter got it once');
    t.equal(relay.mails.length, 1, 'the sink got it once (reinjected mail is not filtered again)');
  });

  t.test('the TLS reinjection port delivers over TLS or not at all, transport map or relayhost', async (t) => {
    const certDir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-cert-'));
    t.teardown(() => fs.rm(certDir, { recursive: true, force: true }));
    const tls = await selfSignedCert(certDir);
    const relay = await sinkFor(t);
    const plain = await sinkFor(t);
    const secure = await sinkFor(t, { tls });
    const postfix = await postfixFor(t, { relay: relay.hop, transports: { 'plain.test': plain.hop, 'tls.test': secure.hop } });
    const send = (port: number, to: string, subject: string) =>
      submit(port, { from: 'alice@sender.test', to: [to] }, message({ from: 'alice@sender.test', to: [to], subject }));
    const notOffered = /TLS is required, but was not offered by host 127\.0\.0\.1\[127\.0\.0\.1\]/;

    await send(postfix.tlsReinjectPort, 'ann@tls.test', 'tls required, tls offered');
    await send(postfix.tlsReinjectPort, 'ben@plain.test', 'tls required, transport map, no tls');
    await send(postfix.tlsReinjectPort, 'cid@elsewhere.test', 'tls required, relayhost, no tls');
    // The control: the same kind of destination through the ordinary reinjection port.
    await send(postfix.reinjectPort, 'dee@plain.test', 'tls may, no tls');

    const [encrypted] = await secure.waitForMails(1);
    t.same(encrypted?.to, ['ann@tls.test']);
    t.equal(encrypted?.secure, true, 'delivered after STARTTLS');
    const [clear] = await plain.waitForMails(1);
    t.same(clear?.to, ['dee@plain.test'], 'the ordinary port still delivers in clear');
    t.equal(clear?.secure, false);

    // Both TLS-required messages without TLS at their next hop stay queued with the reason.
    const deferred = await pollUntil(async () => {
      const queue = await postfix.queue();
      const held = queue.filter((m) => m.recipients.some((r) => notOffered.test(r.delay_reason ?? '')));
      return held.length === 2 ? held : undefined;
    }, 'both TLS-required messages to be deferred for want of TLS');
    t.same(deferred.flatMap((m) => m.recipients.map((r) => r.address)).sort(), ['ben@plain.test', 'cid@elsewhere.test']);
    t.ok(deferred.every((m) => m.instance === 'tls'));
    t.match(await postfix.log(), notOffered, 'the log says why');

    // A retry (forced, so the test need not wait for the timer) fails the same way.
    const before = count(await postfix.log(), notOffered);
    await postfix.flush();
    await pollUntil(async () => count(await postfix.log(), notOffered) >= before + 2, 'a second refusal of both');
    t.equal(plain.mails.length, 1, 'nothing TLS-required reached the sink without STARTTLS');
    t.equal(relay.mails.length, 0, 'nor the relay without STARTTLS');
    t.equal((await postfix.queueIds()).length, 2, 'both are still queued');
  });

  t.test('TLS-required mail that cannot go bounces to the sender in clear', async (t) => {
    const relay = await sinkFor(t);
    const plain = await sinkFor(t);
    // Lifetime 0: return the mail after the first failed attempt.
    const postfix = await postfixFor(t, { relay: relay.hop, transports: { 'plain.test': plain.hop }, queueLifetime: '0' });
    const to = ['ben@plain.test'];

    await submit(postfix.tlsReinjectPort, { from: 'alice@sender.test', to }, message({ from: 'alice@sender.test', to, subject: 'no tls anywhere' }));

    const [bounce] = await relay.waitForMails(1);
    t.same(bounce?.to, ['alice@sender.test'], 'the notice goes to the sender, via the relay, without TLS');
    t.equal(bounce?.from, '', 'from the null sender');
    t.match(bounce?.raw.toString('utf8'), /TLS is required, but was not offered/);
    await postfix.waitForEmptyQueue();
    t.equal(plain.mails.length, 0, 'the message itself never went out in clear');
  });

  t.test('a filter answering 451 leaves the mail queued until it accepts', async (t) => {
    const relay = await sinkFor(t);
    let reinjectPort = 0;
    const filter = await sinkFor(t, {
      onMessage: (mail) => submit(reinjectPort, { from: mail.from, to: mail.to }, mail.raw),
    });
    filter.refuse = { code: 451, message: 'Key service unavailable, try again later' };
    // Long timers: only the flush below can bring the retry forward.
    const postfix = await postfixFor(t, {
      relay: relay.hop,
      contentFilter: filter.hop,
      extraMain: { queue_run_delay: '300s', minimal_backoff_time: '300s', maximal_backoff_time: '300s' },
    });
    reinjectPort = postfix.reinjectPort;
    const to = ['bob@relay.test'];

    await submit(postfix.port, { from: 'alice@sender.test', to }, message({ from: 'alice@sender.test', to, subject: 'retry me' }));

    const [held] = await pollUntil(async () => {
      const queue = await postfix.queue();
      // The reason is written before the queue file leaves the active queue: wait for both.
      const [first] = queue;
      return first?.queue_name === 'deferred' && /451 Key service unavailable/.test(first.recipients[0]?.delay_reason ?? '') ? queue : undefined;
    }, 'the message to be deferred by the filter');
    t.equal(held?.instance, 'main');
    t.match(await postfix.log(), /status=deferred .*said: 451 Key service unavailable/);
    t.equal(relay.mails.length, 0);

    filter.refuse = null;
    await postfix.flush();
    const [mail] = await relay.waitForMails(1);
    t.equal(mail && subjectOf(mail.raw), 'retry me');
    await postfix.waitForEmptyQueue();
    t.equal(filter.attempts, 2, 'refused once, accepted once');
    t.equal(relay.mails.length, 1, 'delivered once');
  });
}
