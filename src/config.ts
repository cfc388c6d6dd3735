import os from 'node:os';
import path from 'node:path';
import { parseSmtpUrl } from './domain/mail/smtp-url.ts';

/**
 * The key service's configuration, read once from the environment at start.
 * This is the only module that reads process.env: everything else receives a Config.
 */
export interface Config {
  port: number;
  host: string;
  /** Folder for the embedded database, the generated KEK file and the payload store. */
  dataDir: string;
  /** PostgreSQL connection string; absent means the embedded database (PGlite) in dataDir. */
  databaseUrl: string | null;
  /** The address recipients' browsers reach the key service at (form action in securedoc.html). */
  publicUrl: string;
  /** PUBLIC_URL was not set: envelopes would point at localhost, fine only for trying it out. */
  publicUrlIsDefault: boolean;
  /** Where payloads by reference are fetched from, when it differs from publicUrl. */
  payloadUrl: string | null;
  /** Key-encryption keys: inline from WAXSEAL_KEK, from WAXSEAL_KEK_FILE, or generated in dataDir. */
  kek: { source: 'env'; value: string } | { source: 'file'; path: string; create: boolean };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Largest request body the API accepts (payload uploads), bytes. */
  maxPayloadBytes: number;
  trustProxy: boolean;
  /** Outgoing mail server; null keeps mail in the local outbox (an embedded, single-machine install). */
  smtpUrl: string | null;
  /** The From of mail the key service sends (verification, reset, receipts). */
  mailFrom: string;
  /** Passphrase hashes (argon2id) computed at once; further sign-ins wait their turn. */
  hashConcurrency: number;
  /** Threads in libuv's pool (UV_THREADPOOL_SIZE), which the hashes share with fs, dns and zlib. */
  threadPoolSize: number;
}

export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `"${raw}" is not a whole number`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `${n} is outside ${min}..${max}`);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `"${raw}" is not true or false`);
}

function smtpUrl(env: Env): string | null {
  const raw = str(env, 'SMTP_URL');
  if (raw === undefined) return null;
  try {
    parseSmtpUrl(raw);
  } catch (err) {
    // The parser's sentences start with the variable's name and never repeat the password.
    throw new ConfigError('SMTP_URL', (err as Error).message.replace(/^SMTP_URL:?\s*/, ''));
  }
  return raw;
}

function mailFrom(env: Env, publicUrl: string): string {
  const raw = str(env, 'MAIL_FROM') ?? `Waxseal <noreply@${new URL(publicUrl).hostname}>`;
  if (/[\r\n]/.test(raw) || !/@[^\s@>]+>?$/.test(raw)) throw new ConfigError('MAIL_FROM', `"${raw}" is not an address like "Waxseal <noreply@example.org>"`);
  return raw;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function httpUrl(env: Env, name: string, fallback: string | null): string | null {
  const raw = str(env, name) ?? fallback;
  if (raw === null) return null;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(name, `"${raw}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(name, `"${raw}" must start with http:// or https://`);
  }
  if (u.search || u.hash) throw new ConfigError(name, 'must not carry a query or fragment');
  return u.toString().replace(/\/+$/, '');
}

/**
 * One hash per core, and one more, by default: argon2 keeps a core busy, but a core whose hash
 * has ended waits for the event loop to hand it the next one, and the extra hash runs in that
 * gap (idle CPU during sign-ins fell from 1.1 to 0.4 ms a sign-in on 2 cores,
 * docs/benchmarks.md). The pool gets four threads more than the hashes (libuv's own default),
 * so a burst of sign-ins never holds up file and DNS work.
 */
function hashing(env: Env): { hashConcurrency: number; threadPoolSize: number } {
  const hashConcurrency = int(env, 'HASH_CONCURRENCY', Math.min(os.availableParallelism() + 1, 64), 1, 64);
  const threadPoolSize = int(env, 'UV_THREADPOOL_SIZE', hashConcurrency + 4, 1, 1024);
  if (threadPoolSize <= hashConcurrency) {
    throw new ConfigError('UV_THREADPOOL_SIZE', `${threadPoolSize} leaves no thread for files and DNS beside ${hashConcurrency} passphrase hashes (HASH_CONCURRENCY): make it larger`);
  }
  return { hashConcurrency, threadPoolSize };
}

export function loadConfig(env: Env, cwd: string = process.cwd()): Config {
  const port = int(env, 'PORT', 8080, 0, 65535);
  const host = str(env, 'HOST') ?? '0.0.0.0';
  const dataDir = path.resolve(cwd, str(env, 'DATA_DIR') ?? 'data');

  const databaseUrl = str(env, 'DATABASE_URL') ?? null;
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must start with postgres:// or postgresql://');
  }

  const publicUrl = httpUrl(env, 'PUBLIC_URL', `http://localhost:${port === 0 ? 8080 : port}`)!;
  const payloadUrl = httpUrl(env, 'PAYLOAD_URL', null);
  // Envelope files post the envelope secret (server-side opening) and browsers receive server
  // shares from this address: plain http is only for this machine, unless explicitly allowed.
  if (!publicUrl.startsWith('https://') && !isLoopback(new URL(publicUrl).hostname) && !bool(env, 'ALLOW_HTTP_PUBLIC_URL', false)) {
    throw new ConfigError('PUBLIC_URL', `"${publicUrl}" must use https:// (plain http is allowed for localhost, or with ALLOW_HTTP_PUBLIC_URL=true)`);
  }
  const production = (str(env, 'NODE_ENV') ?? '').toLowerCase() === 'production';

  const kekInline = str(env, 'WAXSEAL_KEK');
  const kekFile = str(env, 'WAXSEAL_KEK_FILE');
  if (kekInline && kekFile) {
    throw new ConfigError('WAXSEAL_KEK', 'set either WAXSEAL_KEK or WAXSEAL_KEK_FILE, not both');
  }
  if (production && !kekInline && !kekFile) {
    throw new ConfigError(
      'WAXSEAL_KEK_FILE',
      'is required in production (NODE_ENV=production): keep the key-encryption key apart from DATA_DIR, or a copy of the data volume opens every envelope whose file is stolen',
    );
  }
  const kek: Config['kek'] = kekInline
    ? { source: 'env', value: kekInline }
    : kekFile
      ? { source: 'file', path: path.resolve(cwd, kekFile), create: false }
      : { source: 'file', path: path.join(dataDir, 'kek.json'), create: true };

  const logLevelRaw = (str(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevelRaw)) {
    throw new ConfigError('LOG_LEVEL', `"${logLevelRaw}" is not one of ${LOG_LEVELS.join(', ')}`);
  }

  return {
    port,
    host,
    dataDir,
    databaseUrl,
    publicUrl,
    publicUrlIsDefault: str(env, 'PUBLIC_URL') === undefined,
    payloadUrl,
    kek,
    logLevel: logLevelRaw as Config['logLevel'],
    maxPayloadBytes: int(env, 'MAX_PAYLOAD_BYTES', 40 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    trustProxy: bool(env, 'TRUST_PROXY', false),
    smtpUrl: smtpUrl(env),
    mailFrom: mailFrom(env, publicUrl),
    ...hashing(env),
  };
}

/** What `waxseal seal` needs: where the key service is, and the credential for a profile. */
export interface SealConfig {
  keyServiceUrl: string;
  credential: string;
}

/**
 * The credential comes from WAXSEAL_CREDENTIAL_<PROFILE> (profile name upper-cased, other
 * characters as "_") so one gateway can hold several profiles, else from WAXSEAL_CREDENTIAL.
 */
export function loadSealConfig(env: Env, profile: string): SealConfig {
  const keyServiceUrl = httpUrl(env, 'WAXSEAL_URL', null);
  if (!keyServiceUrl) throw new ConfigError('WAXSEAL_URL', 'is not set; it is the key service address, e.g. https://keys.example.org');
  const specific = `WAXSEAL_CREDENTIAL_${profile.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  const credential = str(env, specific) ?? str(env, 'WAXSEAL_CREDENTIAL');
  if (!credential) throw new ConfigError('WAXSEAL_CREDENTIAL', `is not set (nor ${specific}); provision the profile to get one`);
  if (!/^wxg_[A-Za-z0-9_-]{12}\.[A-Za-z0-9_-]{43}$/.test(credential)) {
    throw new ConfigError(str(env, specific) ? specific : 'WAXSEAL_CREDENTIAL', 'does not look like a gateway credential (wxg_…)');
  }
  return { keyServiceUrl, credential };
}

/** What the administrative CLI needs to talk to the key service's API. */
export function loadAdminClientConfig(env: Env): { url: string; token: string } {
  const url = httpUrl(env, 'WAXSEAL_URL', 'http://localhost:8080')!;
  const token = str(env, 'WAXSEAL_ADMIN_TOKEN');
  if (!token) throw new ConfigError('WAXSEAL_ADMIN_TOKEN', 'is not set; `waxseal admin init` prints the first one');
  return { url, token };
}
