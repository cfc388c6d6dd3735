import { resolve4, resolveMx } from 'node:dns/promises';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';

export interface TlsProbeEntry {
  domain: string;
  offersTls: boolean;
  /** the exchanger that answered (host:port), or null when none did */
  host: string | null;
  checkedAt: Date;
}

export interface TlsProbe {
  /** Whether the domain's mail exchanger completes STARTTLS; cached. */
  offersTls(domain: string): Promise<boolean>;
  /** What the cache holds now, for `waxseal gateway status`. */
  snapshot(): TlsProbeEntry[];
}

export interface TlsProbeOptions {
  /** how long an answer is kept; a negative one for a tenth of that (it may be a passing fault) */
  cacheTtlMs: number;
  /** domain → "host:port" probed instead of its MX (tests, or a destination behind a smarthost) */
  static?: Record<string, string>;
  timeoutMs?: number;
  now?: () => Date;
  /** how exchangers are found; DNS MX (then the domain's A record, RFC 5321 5.1) by default */
  exchangers?: (domain: string) => Promise<string[]>;
  /** the SMTP port of exchangers found in DNS */
  port?: number;
}

/**
 * Learns from the destination itself whether it offers TLS: the lowest-preference exchanger that
 * answers is asked EHLO and, if it advertises STARTTLS, the handshake is completed (a server that
 * advertises it but cannot finish counts as no TLS). Certificates are not verified, as in
 * opportunistic SMTP TLS; "Required" destinations are then delivered by the MTA's TLS-only port,
 * whose own policy decides what it accepts. nodemailer's SMTPConnection speaks SMTP.
 */
export function createTlsProbe(opts: TlsProbeOptions): TlsProbe {
  const now = opts.now ?? (() => new Date());
  const cache = new Map<string, TlsProbeEntry>();
  const pending = new Map<string, Promise<boolean>>();
  const exchangers = opts.exchangers ?? dnsExchangers;

  async function probe(domain: string): Promise<TlsProbeEntry> {
    const fixed = opts.static?.[domain];
    const targets = fixed ? [fixed] : (await exchangers(domain).catch(() => [])).map((h) => `${h}:${opts.port ?? 25}`);
    for (const target of targets) {
      const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
      const answer = await startTls(host, port, opts.timeoutMs ?? 15_000);
      if (answer !== 'unreachable') return { domain, offersTls: answer === 'tls', host: target, checkedAt: now() };
    }
    return { domain, offersTls: false, host: null, checkedAt: now() };
  }

  return {
    offersTls(rawDomain) {
      const domain = rawDomain.toLowerCase();
      const hit = cache.get(domain);
      if (hit) {
        const ttl = hit.offersTls ? opts.cacheTtlMs : opts.cacheTtlMs / 10;
        if (now().getTime() - hit.checkedAt.getTime() < ttl) return Promise.resolve(hit.offersTls);
      }
      // Messages to one domain arriving together share one probe.
      let p = pending.get(domain);
      if (!p) {
        p = probe(domain)
          .then((entry) => {
            cache.set(domain, entry);
            return entry.offersTls;
          })
          .finally(() => pending.delete(domain));
        pending.set(domain, p);
      }
      return p;
    },
    snapshot: () => [...cache.values()].sort((a, b) => a.domain.localeCompare(b.domain)),
  };
}

async function dnsExchangers(domain: string): Promise<string[]> {
  const mx = await resolveMx(domain).catch(() => []);
  if (mx.length > 0) return mx.sort((a, b) => a.priority - b.priority).map((m) => m.exchange);
  // No MX: the domain itself is the exchanger, if it has an address (RFC 5321 section 5.1).
  return (await resolve4(domain).catch(() => [])).length > 0 ? [domain] : [];
}

/** 'tls' when STARTTLS completed, 'plain' when the server answered without it, 'unreachable' otherwise. */
function startTls(host: string, port: number, timeoutMs: number): Promise<'tls' | 'plain' | 'unreachable'> {
  return new Promise((resolve) => {
    const connection = new SMTPConnection({
      host,
      port,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      name: 'waxseal-gateway',
    });
    let settled = false;
    const done = (answer: 'tls' | 'plain' | 'unreachable') => {
      if (settled) return;
      settled = true;
      resolve(answer);
      try {
        connection.quit();
      } catch {
        connection.close();
      }
    };
    connection.on('error', (err: Error & { code?: string }) => {
      // ETLS: the server answered but has no (working) STARTTLS.
      done(err.code === 'ETLS' ? 'plain' : 'unreachable');
    });
    connection.connect(() => done(connection.secure ? 'tls' : 'plain'));
  });
}
