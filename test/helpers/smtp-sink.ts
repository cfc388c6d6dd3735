import type { AddressInfo } from 'node:net';
import PostalMime from 'postal-mime';
import { SMTPServer } from 'smtp-server';

export interface SunkMail {
  to: string[];
  /** whether the session had done STARTTLS */
  secure: boolean;
  raw: Buffer;
  parsed: Awaited<ReturnType<typeof PostalMime.parse>>;
}

export interface SmtpSink {
  url: string;
  mails: SunkMail[];
  /** SMTP sessions opened so far (probes included) */
  connections(): number;
  /** The first mail to `address` whose subject matches, waiting for it up to `timeoutMs`. */
  waitFor(address: string, subject?: RegExp, timeoutMs?: number): Promise<SunkMail>;
  close(): Promise<void>;
}

/**
 * A real SMTP server on 127.0.0.1 that keeps every message it accepts (a recipient's mailbox).
 * With `tls` it offers STARTTLS with that certificate; without, it offers none.
 */
export async function startSmtpSink(opts: { tls?: { key: Buffer; cert: Buffer } } = {}): Promise<SmtpSink> {
  const mails: SunkMail[] = [];
  const waiters: (() => void)[] = [];
  let connections = 0;
  const server = new SMTPServer({
    onConnect(_session, callback) {
      connections += 1;
      callback();
    },
    authOptional: true,
    disabledCommands: opts.tls ? ['AUTH'] : ['STARTTLS'],
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : {}),
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        PostalMime.parse(raw).then((parsed) => {
          mails.push({ to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()), secure: Boolean(session.secure), raw, parsed });
          waiters.splice(0).forEach((w) => w());
          callback();
        }, callback);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  const find = (address: string, subject?: RegExp) =>
    mails.find((m) => m.to.includes(address.toLowerCase()) && (!subject || subject.test(m.parsed.subject ?? '')));
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    connections: () => connections,
    async waitFor(address, subject, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = find(address, subject);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no mail to ${address}${subject ? ` matching ${subject}` : ''} arrived`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
