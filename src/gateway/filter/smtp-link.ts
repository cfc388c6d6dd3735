import net from 'node:net';

/** One SMTP reply: its code and the text of each line (without the code). */
export interface SmtpReply {
  code: number;
  text: string;
}

/** The connection failed, timed out, or the peer broke the protocol. */
export class SmtpLinkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SmtpLinkError';
  }
}

export interface SmtpLinkOptions {
  host: string;
  port: number;
  /** the name given in EHLO */
  name: string;
  connectTimeoutMs: number;
  /** how long one exchange may wait for its replies */
  replyTimeoutMs: number;
}

// A reply line is "ddd text" (last line) or "ddd-text" (more follow); RFC 5321 caps a reply line
// at 512 octets, so a peer sending far more without a line end is not speaking SMTP.
const REPLY_LINE = /^(\d{3})([ -])(.*)$/;
const MAX_PENDING_TEXT = 64 * 1024;

/**
 * One client connection to an SMTP server, for the gateway's hand-back to its MTA. It only
 * writes what it is given and parses the replies: the transaction (MAIL, RCPT, BDAT or DATA)
 * is reinject.ts's. `exchange` writes all its pieces at once (one writev, no copy) and waits for
 * as many replies, which is what PIPELINING (RFC 2920) and BDAT (RFC 3030) allow.
 */
export class SmtpLink {
  /** EHLO keywords the server offered, upper case (PIPELINING, CHUNKING, SMTPUTF8, ...) */
  readonly features = new Set<string>();
  private readonly socket: net.Socket;
  private readonly opts: SmtpLinkOptions;
  private text = '';
  private lines: string[] = [];
  private replies: SmtpReply[] = [];
  private waiter: { count: number; got: SmtpReply[]; resolve: (r: SmtpReply[]) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private idleTimer: NodeJS.Timeout | null = null;

  private constructor(socket: net.Socket, opts: SmtpLinkOptions) {
    this.socket = socket;
    this.opts = opts;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new SmtpLinkError(`the connection to ${opts.host}:${opts.port} failed: ${err.message}`)));
    socket.on('close', () => this.fail(new SmtpLinkError(`${opts.host}:${opts.port} closed the connection`)));
    socket.on('timeout', () => {
      this.fail(new SmtpLinkError(`${opts.host}:${opts.port} did not answer in time`));
      socket.destroy();
    });
  }

  /** Connects, reads the greeting and says EHLO. */
  static async open(opts: SmtpLinkOptions): Promise<SmtpLink> {
    const socket = net.connect({ host: opts.host, port: opts.port });
    const link = new SmtpLink(socket, opts);
    try {
      const [greeting] = await link.expect(1, opts.connectTimeoutMs);
      if (greeting!.code !== 220) throw new SmtpLinkError(`${opts.host}:${opts.port} greeted with ${greeting!.code} ${greeting!.text}`);
      const [ehlo] = await link.exchange([`EHLO ${opts.name}\r\n`], 1);
      if (ehlo!.code !== 250) throw new SmtpLinkError(`${opts.host}:${opts.port} refused EHLO: ${ehlo!.code} ${ehlo!.text}`);
      // The first line names the server; each further line starts with a keyword.
      for (const line of ehlo!.text.split('\n').slice(1)) {
        const keyword = line.trim().split(/\s+/)[0];
        if (keyword) link.features.add(keyword.toUpperCase());
      }
    } catch (err) {
      link.destroy();
      throw err;
    }
    return link;
  }

  /** Whether the connection can still carry a transaction. */
  get usable(): boolean {
    return this.failure === null && !this.socket.destroyed;
  }

  /** Writes the pieces in one go, then waits for `count` replies. */
  exchange(pieces: (string | Uint8Array)[], count: number): Promise<SmtpReply[]> {
    this.stopIdle();
    if (this.failure) return Promise.reject(this.failure);
    this.socket.cork();
    for (const piece of pieces) this.socket.write(piece);
    this.socket.uncork();
    return this.expect(count);
  }

  /** Closes the connection after `ms` of not being used (a server drops idle clients itself, in its own time). */
  idle(ms: number): void {
    this.stopIdle();
    this.idleTimer = setTimeout(() => this.quit(), ms);
    this.idleTimer.unref();
  }

  /** Says QUIT and closes, without waiting for the answer. */
  quit(): void {
    this.stopIdle();
    if (this.usable) this.socket.end('QUIT\r\n');
    this.fail(new SmtpLinkError('the connection was closed'));
  }

  destroy(): void {
    this.stopIdle();
    this.fail(new SmtpLinkError('the connection was closed'));
    this.socket.destroy();
  }

  private stopIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private expect(count: number, timeoutMs = this.opts.replyTimeoutMs): Promise<SmtpReply[]> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new SmtpLinkError('an exchange is already waiting on this connection'));
    this.socket.setTimeout(timeoutMs);
    return new Promise((resolve, reject) => {
      this.waiter = { count, got: [], resolve, reject };
      this.deliver();
    });
  }

  private onData(chunk: Buffer): void {
    this.text += chunk.toString('latin1');
    let end: number;
    while ((end = this.text.indexOf('\n')) !== -1) {
      const line = this.text.slice(0, end).replace(/\r$/, '');
      this.text = this.text.slice(end + 1);
      const m = REPLY_LINE.exec(line) ?? /^(\d{3})()$/.exec(line);
      if (!m) {
        this.protocolError(`sent a line that is not an SMTP reply: ${JSON.stringify(line.slice(0, 80))}`);
        return;
      }
      this.lines.push(m[3] ?? '');
      if (m[2] !== '-') {
        this.replies.push({ code: Number(m[1]), text: this.lines.join('\n') });
        this.lines = [];
      }
    }
    if (this.text.length > MAX_PENDING_TEXT) {
      this.protocolError('sent an overlong reply line');
      return;
    }
    this.deliver();
  }

  private deliver(): void {
    const w = this.waiter;
    if (!w) {
      // A reply nobody asked for: a server that is going away (421 on an idle connection).
      if (this.replies.length > 0) this.destroy();
      return;
    }
    while (w.got.length < w.count && this.replies.length > 0) w.got.push(this.replies.shift()!);
    if (w.got.length === w.count) {
      this.waiter = null;
      this.socket.setTimeout(0);
      w.resolve(w.got);
      // More replies than commands (a 421 sent with the last answer): every later reply would be
      // read as the answer to the wrong command, so the connection is not used again.
      if (this.replies.length > 0) this.destroy();
    }
  }

  private protocolError(what: string): void {
    this.fail(new SmtpLinkError(`${this.opts.host}:${this.opts.port} ${what}`));
    this.socket.destroy();
  }

  private fail(err: SmtpLinkError): void {
    if (this.failure) return;
    this.stopIdle();
    const w = this.waiter;
    this.waiter = null;
    this.failure = err;
    w?.reject(this.failure);
  }
}
