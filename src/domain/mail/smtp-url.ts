import net from 'node:net';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';

/**
 * Reads SMTP_URL into nodemailer transport options:
 *
 *   smtp://user:pass@host:587     submission; STARTTLS is required unless the host is loopback
 *   smtps://user:pass@host:465    implicit TLS
 *   smtp://host:25?tls=none       plain text, accepted for loopback hosts only (a local relay)
 *
 * Without a port, smtp:// means 587 (submission, where authenticated senders belong) and
 * smtps:// means 465. The sender address is not part of the URL. Errors name the problem but
 * never echo the URL, which carries the password.
 */
export function parseSmtpUrl(url: string): SMTPTransport.Options {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Node's own TypeError keeps the whole input on `err.input`; it must not travel further.
    throw new Error('SMTP_URL is not a valid URL (expected smtp://user:password@host:587 or smtps://user:password@host:465)');
  }
  const secure = u.protocol === 'smtps:';
  if (!secure && u.protocol !== 'smtp:') {
    throw new Error(`SMTP_URL must start with smtp:// or smtps://, not ${JSON.stringify(u.protocol.slice(0, 20))}`);
  }
  const host = u.hostname.startsWith('[') && u.hostname.endsWith(']') ? u.hostname.slice(1, -1) : u.hostname;
  if (host === '') throw new Error('SMTP_URL has no host name');
  if (u.pathname !== '' && u.pathname !== '/') throw new Error('SMTP_URL must not have a path (only smtp[s]://user:password@host:port)');
  if (u.hash !== '') throw new Error('SMTP_URL must not have a #fragment');

  const port = u.port === '' ? (secure ? 465 : 587) : Number(u.port);
  if (port === 0) throw new Error('SMTP_URL: port 0 is not a port a server listens on');
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;

  let plain = false;
  for (const [key, value] of u.searchParams) {
    if (key !== 'tls') throw new Error(`SMTP_URL has an unknown parameter ${JSON.stringify(key.slice(0, 40))} (only tls=none is known)`);
    // The value is not echoed: a misplaced password could be sitting there.
    if (value !== 'none') throw new Error('SMTP_URL: the only value tls= accepts is none');
    plain = true;
  }
  const loopback = isLoopback(host);
  if (plain && secure) throw new Error('SMTP_URL: smtps:// is TLS from the first byte, so tls=none contradicts it');
  if (plain && !loopback) {
    // Credentials and every mail would cross the network in the clear.
    throw new Error(`SMTP_URL: tls=none is accepted only for a loopback host (localhost, 127.0.0.1, ::1), not ${where}`);
  }

  let user: string;
  let pass: string;
  try {
    user = decodeURIComponent(u.username);
    pass = decodeURIComponent(u.password);
  } catch {
    throw new Error('SMTP_URL: the user name or password has a malformed %-escape');
  }
  if (user !== '' && pass === '') throw new Error(`SMTP_URL names the user ${JSON.stringify(user)} but no password`);
  if (user === '' && pass !== '') throw new Error('SMTP_URL has a password but no user name');

  return {
    host,
    port,
    secure,
    // A server beyond this machine must upgrade to TLS, so a stripped STARTTLS cannot expose the
    // credentials; on loopback STARTTLS is used when offered.
    requireTLS: !secure && !plain && !loopback,
    ignoreTLS: plain,
    ...(user === '' ? {} : { auth: { user, pass } }),
    // nodemailer's defaults (two minutes to connect, ten idle) would hold a request that sends a
    // verification mail for far too long.
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
    logger: false,
    debug: false,
  };
}

export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  // An IPv4-mapped address may come back from URL parsing as hex (::ffff:7f00:1).
  if (net.isIPv6(h)) return h === '::1' || /^::ffff:(127\.|7f[0-9a-f]{2}:)/.test(h);
  return false;
}
