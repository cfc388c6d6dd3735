import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import PostalMime from 'postal-mime';
import { buildApp, REDACT_PATHS } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createKeyRing } from '../../src/crypto/kek.ts';
import { createPassphraseHasher, type PassphraseHasher } from '../../src/crypto/passphrases.ts';
import { SESSION_COOKIE } from '../../src/domain/accounts/session-service.ts';
import { createFilePayloadStore } from '../../src/domain/payloads/payload-store.ts';
import { createServices, type Services } from '../../src/services.ts';
import type { OpenedDatabase } from '../helpers/databases.ts';

/**
 * A key service for the account tests: real argon2 (pinned parameters), the outbox for mail, a
 * clock the test moves, the argon2 calls counted (the real hasher, observed), and the log kept.
 */
export const PUBLIC_URL = 'https://keys.example.test';
export const SAME_ORIGIN = { origin: PUBLIC_URL, 'sec-fetch-site': 'same-origin' };
export const CROSS_SITE = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };

export interface Clock {
  now(): Date;
  advance(ms: number): void;
}

export interface ArgonCalls {
  hash: number;
  verify: number;
  dummy: number;
}

export interface AccountApp {
  app: FastifyInstance;
  services: Services;
  clock: Clock;
  argon: ArgonCalls;
  log(): string;
  /** Mail in the outbox, oldest first, parsed. */
  mails(): Promise<{ to: string; subject: string; text: string; html: string; kind: string }[]>;
  close(): Promise<void>;
}

function observed(real: PassphraseHasher, calls: ArgonCalls): PassphraseHasher {
  return {
    ...real,
    hash: (p) => (calls.hash++, real.hash(p)),
    verify: (s, p) => (calls.verify++, real.verify(s, p)),
    dummyVerify: (p) => (calls.dummy++, real.dummyVerify(p)),
  };
}

export async function startAccountApp(opened: OpenedDatabase): Promise<AccountApp> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-accounts-'));
  // Each reading moves the clock on by a millisecond, so mails and rows written in one test
  // step still have an order; tests move it further by hand.
  let now = Date.now();
  const clock: Clock = { now: () => new Date(now++), advance: (ms) => void (now += ms) };
  const argon: ArgonCalls = { hash: 0, verify: 0, dummy: 0 };
  const config = loadConfig({ DATA_DIR: dataDir, PUBLIC_URL, LOG_LEVEL: 'silent' });
  const services = createServices({
    database: opened.database,
    keyRing: createKeyRing(new Map([[1, randomBytes(32)]])),
    payloads: createFilePayloadStore(path.join(dataDir, 'payloads')),
    publicUrl: PUBLIC_URL,
    now: clock.now,
    hasher: observed(createPassphraseHasher(), argon),
  });
  let logged = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logged += chunk.toString();
      cb();
    },
  });
  const logger = pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
  const app = await buildApp({ config, database: opened.database, services, logger });
  return {
    app,
    services,
    clock,
    argon,
    log: () => logged,
    async mails() {
      const list = (await services.mail.listOutbox(1000)).reverse();
      const out = [];
      for (const entry of list) {
        const parsed = await PostalMime.parse((await services.mail.readOutbox(entry.id))!);
        out.push({ to: entry.to, subject: entry.subject, text: parsed.text ?? '', html: parsed.html ?? '', kind: entry.kind });
      }
      return out;
    },
    async close() {
      await services.accounts.settled();
      await app.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Browser {
  cookie: string | null;
  ip: string;
  userAgent?: string;
}

/** A form POST from this site's own page, as a browser sends it. */
export async function post(app: FastifyInstance, url: string, fields: Record<string, string>, browser?: Browser, headers: Record<string, string> = SAME_ORIGIN): Promise<LightMyRequestResponse> {
  const res = await app.inject({
    method: 'POST',
    url,
    headers: {
      ...headers,
      'content-type': 'application/x-www-form-urlencoded',
      ...(browser?.cookie ? { cookie: `${SESSION_COOKIE}=${browser.cookie}` } : {}),
      ...(browser?.userAgent ? { 'user-agent': browser.userAgent } : {}),
    },
    payload: new URLSearchParams(fields).toString(),
    remoteAddress: browser?.ip ?? '192.0.2.10',
  });
  if (browser) keepCookie(browser, res);
  return res;
}

export async function get(app: FastifyInstance, url: string, browser?: Browser): Promise<LightMyRequestResponse> {
  const res = await app.inject({
    method: 'GET',
    url,
    headers: browser?.cookie ? { cookie: `${SESSION_COOKIE}=${browser.cookie}` } : {},
    remoteAddress: browser?.ip ?? '192.0.2.10',
  });
  if (browser) keepCookie(browser, res);
  return res;
}

/** The session cookie as the response sets it (null: cleared), or undefined when untouched. */
export function sessionCookie(res: LightMyRequestResponse): { value: string; raw: string } | null | undefined {
  const headers = res.headers['set-cookie'];
  const all = headers === undefined ? [] : Array.isArray(headers) ? headers : [headers];
  const raw = all.find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  if (!raw) return undefined;
  const value = decodeURIComponent(raw.slice(SESSION_COOKIE.length + 1).split(';')[0]!);
  return value === '' ? null : { value, raw };
}

function keepCookie(browser: Browser, res: LightMyRequestResponse) {
  const c = sessionCookie(res);
  if (c !== undefined) browser.cookie = c?.value ?? null;
}

export function newBrowser(ip = '192.0.2.10'): Browser {
  return { cookie: null, ip, userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0' };
}

/** The one-time code a mail carries (also in its link's fragment). */
export function codeIn(text: string, prefix: 'wxv' | 'wxr'): string {
  const m = new RegExp(`#(${prefix}_[A-Za-z0-9]{12}\\.[A-Za-z0-9_-]{43})`).exec(text);
  if (!m) throw new Error(`no ${prefix} link in: ${text}`);
  return m[1]!;
}

/** The page as text a reader sees: character references decoded. */
export function decoded(html: string): string {
  return html
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

export const PASSPHRASE = 'orange kettle walks slowly';

let registrations = 0;
/** A network of its own for each set-up registration, so set-up never meets the mail throttle. */
const setupNetwork = () => `10.77.${Math.floor(registrations / 250)}.${(registrations++ % 250) + 1}`;

/** Registers and verifies an account through the pages; returns its id. */
export async function registeredAccount(fx: AccountApp, email: string, opts: { name?: string; passphrase?: string; phrase?: string } = {}): Promise<string> {
  const res = await post(fx.app, '/register', {
    name: opts.name ?? 'Ana Example',
    email,
    passphrase: opts.passphrase ?? PASSPHRASE,
    passphrase2: opts.passphrase ?? PASSPHRASE,
    securityPhrase: opts.phrase ?? 'green teapot on Sunday',
  }, newBrowser(setupNetwork()));
  if (res.statusCode !== 200) throw new Error(`register ${res.statusCode}: ${res.body}`);
  const mail = (await fx.mails()).filter((m) => m.to === email).at(-1)!;
  const verified = await post(fx.app, '/verify', { token: codeIn(mail.text, 'wxv') }, newBrowser(setupNetwork()));
  if (verified.statusCode !== 200) throw new Error(`verify ${verified.statusCode}: ${verified.body}`);
  const row = await fx.services.accounts.signIn({ email, passphrase: opts.passphrase ?? PASSPHRASE, network: setupNetwork() });
  if (!row.ok) throw new Error('cannot sign in after registration');
  return row.accountId;
}

/** Signs in through the page; the browser keeps the cookie. */
export async function signIn(fx: AccountApp, browser: Browser, email: string, passphrase = PASSPHRASE, opts: { remember?: boolean; next?: string } = {}) {
  return post(fx.app, `/signin${opts.next ? `?next=${encodeURIComponent(opts.next)}` : ''}`, { email, passphrase, ...(opts.remember ? { remember: '1' } : {}), go: 'signin' }, browser);
}
