import { SmtpLink, SmtpLinkError, type SmtpReply } from './smtp-link.ts';
import { endsWithCrlf, wireFormat } from './wire-format.ts';

/** Where the gateway hands messages back to the MTA (Postfix's second smtpd, without the filter). */
export interface ReinjectTarget {
  host: string;
  port: number;
}

export interface Reinjector {
  /**
   * Hands one message back. Resolves once the MTA accepted it for every recipient (it is then
   * in the MTA's queue); rejects with a ReinjectError otherwise. Nothing is handed back unless
   * every recipient was accepted.
   */
  send(message: { from: string; to: readonly string[]; raw: Uint8Array }): Promise<void>;
  close(): void;
}

/**
 * The MTA did not take the message back. The gateway answers every such failure 451, permanent
 * refusals included: the reinjection port refusing mail is a configuration to mend, and until
 * then the message waits in the MTA's queue (which bounces it at its queue lifetime).
 */
export class ReinjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReinjectError';
  }
}

export interface ReinjectOptions {
  /** the name given in EHLO */
  name?: string;
  /** connections at once: as many as the MTA runs deliveries to the filter (FILTER_README: maxproc 10-20) */
  maxConnections?: number;
  connectTimeoutMs?: number;
  /** how long the MTA may take to answer one step (BDAT or the end of DATA included) */
  replyTimeoutMs?: number;
  /** an unused connection is closed after this long */
  idleMs?: number;
}

/**
 * SMTP to the MTA's reinjection port. The link is local, so no TLS and no authentication: the
 * port must listen on loopback only (docs/gateway.md).
 *
 * Why not nodemailer here (the project's SMTP client elsewhere): this hop carries every message
 * the gateway handles, and on it nodemailer cost more than a third of the gateway's CPU, most of
 * it in a stream that looks at every byte to double leading dots, plus a separate write for the
 * end of data. Postfix offers CHUNKING (BDAT, RFC 3030), which needs no dot-stuffing: a message
 * goes as MAIL and RCPT in one write and, once every recipient is accepted, BDAT with the bytes
 * in a second. A server without CHUNKING gets DATA, with the same line-end and dot rules as
 * nodemailer's (wire-format.ts); without PIPELINING, one command at a time.
 */
export function createReinjector(target: ReinjectTarget, opts: ReinjectOptions = {}): Reinjector {
  const linkOpts = {
    host: target.host,
    port: target.port,
    name: opts.name ?? 'waxseal-gateway',
    connectTimeoutMs: opts.connectTimeoutMs ?? 30_000,
    replyTimeoutMs: opts.replyTimeoutMs ?? 120_000,
  };
  const maxConnections = opts.maxConnections ?? 16;
  const idleMs = opts.idleMs ?? 30_000;
  const idle: SmtpLink[] = [];
  const queue: (() => void)[] = [];
  let busy = 0;
  let closed = false;

  // At most maxConnections transactions at once, each on a connection of its own.
  const slot = async (): Promise<void> => {
    if (busy < maxConnections) {
      busy += 1;
      return;
    }
    await new Promise<void>((resolve) => queue.push(resolve));
  };
  const freeSlot = () => {
    const next = queue.shift();
    if (next) next();
    else busy -= 1;
  };
  const reusable = (): SmtpLink | null => {
    for (let link = idle.pop(); link; link = idle.pop()) if (link.usable) return link;
    return null;
  };

  const where = `${target.host}:${target.port}`;
  return {
    async send(message) {
      if (closed) throw new ReinjectError('the gateway is stopping');
      for (const address of [message.from, ...message.to]) {
        // Addresses come from the MTA's envelope; a line break in one would add a command.
        if (/[\x00-\x1f\x7f<>]/.test(address)) throw new ReinjectError(`the address ${JSON.stringify(address)} cannot be written in SMTP`);
      }
      await slot();
      try {
        const attempt = async (link: SmtpLink): Promise<SmtpLink> => {
          try {
            await transact(link, message, where);
            return link;
          } catch (err) {
            // Refused (the connection is fine, so say goodbye), or broken.
            if (err instanceof ReinjectError) link.quit();
            else link.destroy();
            throw err;
          }
        };
        const kept = reusable();
        let link: SmtpLink;
        try {
          link = await attempt(kept ?? (await SmtpLink.open(linkOpts)));
        } catch (err) {
          // A kept connection the server has just dropped fails while MAIL and RCPT are under
          // way, before any content was sent: nothing was handed over, so the message goes once
          // more on a fresh connection. A failure once content went out is not retried here.
          const droppedBeforeContent = err instanceof StageError && err.stage === 'envelope' && err.cause instanceof SmtpLinkError;
          if (!(kept && droppedBeforeContent)) throw asReinjectError(err, where);
          try {
            link = await attempt(await SmtpLink.open(linkOpts));
          } catch (again) {
            throw asReinjectError(again, where);
          }
        }
        if (closed) link.quit();
        else {
          link.idle(idleMs);
          idle.push(link);
        }
      } finally {
        freeSlot();
      }
    },
    close() {
      closed = true;
      for (const link of idle.splice(0)) link.quit();
    },
  };
}

/** Which step failed: 'envelope' (MAIL, RCPT) hands nothing over; 'content' may have. */
class StageError extends Error {
  readonly stage: 'envelope' | 'content';
  constructor(stage: 'envelope' | 'content', cause: unknown) {
    super((cause as Error).message, { cause });
    this.stage = stage;
  }
}

async function transact(link: SmtpLink, message: { from: string; to: readonly string[]; raw: Uint8Array }, where: string): Promise<void> {
  // A non-ASCII address needs SMTPUTF8 (RFC 6531); a server without it cannot take the message.
  const utf8 = [message.from, ...message.to].some((a) => /[^\x20-\x7e]/.test(a));
  if (utf8 && !link.features.has('SMTPUTF8')) throw new ReinjectError(`${where} does not offer SMTPUTF8, which the addresses need`);
  const commands = [`MAIL FROM:<${message.from}>${utf8 ? ' SMTPUTF8' : ''}\r\n`, ...message.to.map((r) => `RCPT TO:<${r}>\r\n`)];

  let replies: SmtpReply[];
  try {
    replies = link.features.has('PIPELINING') ? await link.exchange([commands.join('')], commands.length) : await oneByOne(link, commands);
  } catch (err) {
    throw new StageError('envelope', err);
  }
  const refused = replies.filter((r) => r.code < 200 || r.code >= 300);
  if (refused.length > 0 || replies.length < commands.length) {
    // Nothing was handed over: no BDAT or DATA follows, and the connection is closed.
    throw new ReinjectError(`${where} did not accept the envelope: ${refused.map((r) => `${r.code} ${r.text}`).join('; ')}`);
  }

  let final: SmtpReply;
  try {
    if (link.features.has('CHUNKING')) {
      const data = wireFormat(message.raw, { dotStuff: false });
      [final] = (await link.exchange([`BDAT ${data.length} LAST\r\n`, data], 1)) as [SmtpReply];
    } else {
      const [go] = (await link.exchange(['DATA\r\n'], 1)) as [SmtpReply];
      if (go.code !== 354) throw new ReinjectError(`${where} refused DATA: ${go.code} ${go.text}`);
      const data = wireFormat(message.raw, { dotStuff: true });
      [final] = (await link.exchange([data, endsWithCrlf(data) ? '.\r\n' : '\r\n.\r\n'], 1)) as [SmtpReply];
    }
  } catch (err) {
    if (err instanceof ReinjectError) throw err;
    throw new StageError('content', err);
  }
  if (final.code !== 250) throw new ReinjectError(`${where} did not take the message: ${final.code} ${final.text}`);
}

async function oneByOne(link: SmtpLink, commands: string[]): Promise<SmtpReply[]> {
  const replies: SmtpReply[] = [];
  for (const command of commands) {
    const [reply] = await link.exchange([command], 1);
    replies.push(reply!);
    if (reply!.code >= 300) break;
  }
  return replies;
}

function asReinjectError(err: unknown, where: string): ReinjectError {
  if (err instanceof ReinjectError) return err;
  const cause = err instanceof StageError ? err.cause : err;
  // A broken connection or a timeout: the MTA may be back soon.
  return new ReinjectError(`the MTA at ${where} did not take the message back: ${(cause as Error).message}`);
}
