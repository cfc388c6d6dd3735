import type { AddressInfo, Server, Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { Logger } from 'pino';
import { TryLater, type Outcome } from './process-message.ts';

export interface FilterServerOptions {
  host: string;
  port: number;
  /** the largest message taken at all (bigger ones get 552 and the MTA bounces them) */
  maxBytes: number;
  process(message: { raw: Uint8Array; sender: string; recipients: string[] }): Promise<Outcome>;
  log: Logger;
  onOutcome?(outcome: Outcome | { kind: 'deferred' | 'error' }): void;
}

export interface FilterServer {
  port: number;
  /**
   * Stops taking connections and waits for the ones open. `abrupt` cuts them instead, as a crash
   * would (the MTA then keeps and retries whatever was not answered 250); tests use it.
   */
  close(opts?: { abrupt?: boolean }): Promise<void>;
}

/**
 * The SMTP side of the content filter: the MTA connects, hands one message, and gets 250 only
 * once processMessage finished (every part back in the MTA's queue, or a failure notice sent).
 * Anything else is 451: the MTA keeps the message and retries, so nothing is lost when the
 * gateway, the key service or the reinjection port stops at any moment. smtp-server (from the
 * nodemailer project) speaks the protocol.
 */
export async function startFilterServer(opts: FilterServerOptions): Promise<FilterServer> {
  const server = new SMTPServer({
    // Local MTA only (docs/gateway.md): no AUTH, no STARTTLS on the loopback hop.
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: opts.maxBytes,
    logger: false,
    banner: 'waxseal gateway',
    // The MTA's name for 127.0.0.1 is of no use here, and looking it up delays every connection.
    disableReverseLookup: true,
    // Every sender and recipient the MTA hands over is taken. Answered at once (smtp-server's
    // defaults wait a turn of the event loop), so a pipelined MAIL, RCPT and DATA are answered
    // in the same turn, in one write (coalesceReplies below).
    onMailFrom(_address, _session, callback) {
      callback();
    },
    onRcptTo(_address, _session, callback) {
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (stream.sizeExceeded) {
          callback(Object.assign(new Error(`Message is larger than ${opts.maxBytes} bytes, the most this gateway accepts`), { responseCode: 552 }));
          return;
        }
        const raw = Buffer.concat(chunks);
        const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const recipients = session.envelope.rcptTo.map((r) => r.address);
        opts.process({ raw, sender, recipients }).then(
          (outcome) => {
            opts.onOutcome?.(outcome);
            opts.log.info({ outcome: outcome.kind, bytes: raw.length, recipients: recipients.length }, 'message handed back');
            callback(null, 'Ok: handed back');
          },
          (err: unknown) => {
            const later = err instanceof TryLater;
            opts.onOutcome?.({ kind: later ? 'deferred' : 'error' });
            // Never the message or its addresses in the log: only what went wrong.
            if (later) opts.log.warn({ reason: (err as Error).message }, 'message deferred');
            else opts.log.error({ err }, 'message processing failed');
            callback(Object.assign(new Error(later ? 'Try again later: the message could not be finished now' : 'Try again later: internal error'), { responseCode: 451 }));
          },
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  server.on('error', (err) => opts.log.error({ err }, 'smtp server error'));
  const net = (server as unknown as { server: Server }).server;
  const sockets = new Set<Socket>();
  net.on('connection', (socket: Socket) => {
    sockets.add(socket);
    coalesceReplies(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return {
    port: (net.address() as AddressInfo).port,
    close: (closeOpts = {}) =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if (closeOpts.abrupt) for (const socket of sockets) socket.destroy();
      }),
  };
}

/**
 * The MTA pipelines MAIL, RCPT and DATA in one packet, and smtp-server answers each with a write
 * of its own. Corking the socket while one read is handled sends those replies in one write:
 * fewer system calls here and fewer reads for the MTA, on the path every message takes.
 * The listener goes in front of smtp-server's own, which smtp-server adds (piping the socket
 * into its parser) a turn after the connection: added alone, before that, a 'data' listener
 * would set the socket flowing with nobody to read what arrives.
 */
function coalesceReplies(socket: Socket): void {
  const cork = () => {
    socket.cork();
    process.nextTick(() => socket.uncork());
  };
  if (socket.listenerCount('data') > 0) {
    socket.prependListener('data', cork);
    return;
  }
  const onNewListener = (event: string | symbol) => {
    if (event !== 'data') return;
    socket.off('newListener', onNewListener);
    socket.prependListener('data', cork);
  };
  socket.on('newListener', onNewListener);
}
