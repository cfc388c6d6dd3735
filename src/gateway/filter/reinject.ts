import nodemailer from 'nodemailer';

/** Where the gateway hands messages back to the MTA (Postfix's second smtpd, without the filter). */
export interface ReinjectTarget {
  host: string;
  port: number;
}

export interface Reinjector {
  /**
   * Hands one message back. Resolves once the MTA accepted it for every recipient (it is then
   * in the MTA's queue); rejects otherwise, with `temporary` telling whether trying later may help.
   */
  send(message: { from: string; to: readonly string[]; raw: Uint8Array }): Promise<void>;
  close(): void;
}

export class ReinjectError extends Error {
  readonly temporary: boolean;
  constructor(message: string, temporary: boolean) {
    super(message);
    this.name = 'ReinjectError';
    this.temporary = temporary;
  }
}

/**
 * SMTP to the MTA's reinjection port with nodemailer (a pooled, well-kept client). The link is
 * local, so no TLS and no authentication: the port must listen on loopback only (docs/gateway.md).
 */
export function createReinjector(target: ReinjectTarget, opts: { name?: string; timeoutMs?: number } = {}): Reinjector {
  const transport = nodemailer.createTransport({
    host: target.host,
    port: target.port,
    secure: false,
    ignoreTLS: true,
    pool: true,
    // As many as the MTA runs deliveries to the filter at once (FILTER_README: maxproc 10-20).
    maxConnections: 16,
    maxMessages: Infinity,
    name: opts.name ?? 'waxseal-gateway',
    connectionTimeout: opts.timeoutMs ?? 30_000,
    socketTimeout: opts.timeoutMs ?? 120_000,
  });
  return {
    async send(message) {
      let info: { accepted: unknown[]; rejected: unknown[] };
      try {
        // The raw bytes go as they are: envelope sender and recipients are given separately.
        info = await transport.sendMail({ envelope: { from: message.from, to: [...message.to] }, raw: Buffer.from(message.raw.buffer, message.raw.byteOffset, message.raw.byteLength) });
      } catch (err) {
        const e = err as { responseCode?: number; message?: string };
        const permanent = typeof e.responseCode === 'number' && e.responseCode >= 500;
        throw new ReinjectError(`the MTA at ${target.host}:${target.port} did not take the message back: ${e.message ?? String(err)}`, !permanent);
      }
      if (info.rejected.length > 0) throw new ReinjectError(`the MTA refused recipients ${info.rejected.join(', ')}`, true);
    },
    close: () => transport.close(),
  };
}
