import type { i18n } from 'i18next';
import { DEFAULT_PROFILE_SETTINGS } from '../../domain/profiles/profile-settings.ts';
import type { GatewayProfileInfo, KeyServiceClient } from '../key-client.ts';
import { KeyServiceError } from '../key-client.ts';
import { MessageError } from '../message-errors.ts';
import { ProfileError, sealMessage } from '../seal.ts';
import { buildFailureNotice, type FailureReason } from './failure-notice.ts';
import { messageKey, type Journal } from './journal.ts';
import type { Reinjector } from './reinject.ts';
import type { DestinationTls } from '../policy/policy-config.ts';
import type { TemplateCache } from '../../envelope/template-cache.ts';

/** What the rules decided for one message (src/gateway/rules produce it). */
export interface FilterDecision {
  /** the message after the rules' header changes */
  raw: Uint8Array;
  encrypt: {
    profile: string;
    /** the notification's subject from the rule's template, or null for the profile's */
    subject: string | null;
    /** 'try-first': TLS as an alternative to encryption, per destination (DESIGN.md section 1) */
    tls: 'always' | 'try-first';
  } | null;
}

/** One encryption profile as the gateway reaches it: its credential's client, its settings. */
export interface ProfileHandle {
  client: KeyServiceClient;
  /** the profile as the key service last described it (cached); null if never reached */
  info(): Promise<GatewayProfileInfo | null>;
}

export interface ProcessDeps {
  decide(raw: Uint8Array, envelope: { sender: string; recipients: readonly string[] }): Promise<FilterDecision>;
  profile(name: string): ProfileHandle | null;
  tls: {
    setting(domain: string): DestinationTls;
    offersTls(domain: string): Promise<boolean>;
  };
  /** back to the MTA, delivered as it decides */
  reinject: Reinjector;
  /** back to the MTA on the port whose deliveries must use TLS (it retries, then bounces) */
  reinjectTls: Reinjector;
  journal: Journal;
  seal: { i18n: i18n; views: string; envelopeFileScript?: () => Promise<string>; templates?: TemplateCache };
  /** From: of failure notices */
  postmaster: string;
  now?: () => Date;
}

export type Outcome =
  | { kind: 'passed' }
  /** Handed again after it was finished (the MTA never heard the 250): nothing more to do. */
  | { kind: 'repeated' }
  | { kind: 'delivered'; sealed: number; overTls: number }
  | { kind: 'notified'; reason: FailureReason };

/** The message cannot be finished now; the MTA keeps it and tries again (SMTP 451). */
export class TryLater extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TryLater';
  }
}

/**
 * What the gateway does with one message the MTA handed it. Resolves once every part is back
 * in the MTA's queue (or the sender was sent a failure notice); only then may the SMTP answer be
 * 250. Throws TryLater when it cannot finish: the MTA keeps the message and retries.
 *
 * Never sends in the clear what a rule said to encrypt: the only clear paths are "no rule
 * matched" and "TLS as an alternative", and the latter goes to the MTA port that refuses to
 * deliver without TLS.
 */
export async function processMessage(message: { raw: Uint8Array; sender: string; recipients: readonly string[] }, deps: ProcessDeps): Promise<Outcome> {
  const now = deps.now ?? (() => new Date());
  const key = messageKey(message.raw, message.sender, message.recipients);
  if (deps.journal.isFinished(key)) return { kind: 'repeated' };
  const decision = await deps.decide(message.raw, { sender: message.sender, recipients: message.recipients });

  if (!decision.encrypt) {
    if (!deps.journal.done(key, 'clear')) {
      await handBack(deps.reinject, { from: message.sender, to: message.recipients, raw: decision.raw });
      await deps.journal.markDone(key, 'clear');
    }
    deps.journal.finish(key);
    return { kind: 'passed' };
  }

  const encrypt = decision.encrypt;
  // Since when it waits for encryption (recorded at the first attempt), for the queue timeout.
  const firstSeen = deps.journal.firstSeen(key);
  const overTls: string[] = [];
  const toSeal: string[] = [];
  for (const rcpt of message.recipients) {
    if (encrypt.tls === 'try-first') {
      const domain = rcpt.slice(rcpt.lastIndexOf('@') + 1).toLowerCase();
      const setting = deps.tls.setting(domain);
      // None never looks: it encrypts whatever the destination offers.
      const offers = setting === 'none' ? false : await deps.tls.offersTls(domain);
      // Preferred: TLS if offered, else encrypt. Required: TLS, and if the destination does not
      // offer it the TLS-only port makes the MTA retry and finally bounce.
      if (setting === 'required' || (setting === 'preferred' && offers)) {
        overTls.push(rcpt);
        continue;
      }
    }
    toSeal.push(rcpt);
  }

  // Sealing first: it is the step that may fail for a while (the key service), and nothing has
  // been handed back yet when it does.
  if (toSeal.length > 0 && !deps.journal.done(key, 'sealed')) {
    const handle = deps.profile(encrypt.profile);
    // A profile the key service refuses to describe (a revoked credential, a newer format) is
    // answered like any other sealing failure below: wait, then notify.
    let info: GatewayProfileInfo | null = null;
    let infoError: unknown = null;
    try {
      info = handle ? await handle.info() : null;
    } catch (err) {
      infoError = err;
    }
    const settings = info?.profile.settings ?? DEFAULT_PROFILE_SETTINGS;
    let sealed: Buffer;
    try {
      if (infoError) throw infoError;
      if (!handle) throw new ProfileError(`no credential for the profile "${encrypt.profile}" in the gateway configuration`);
      if (!info) throw new KeyServiceError('unreachable', `the key service could not be reached to describe the profile "${encrypt.profile}"`);
      const result = await sealMessage(
        decision.raw,
        { client: handle.client, ...deps.seal },
        info,
        { envelopeRecipients: toSeal, ...(encrypt.subject ? { subject: encrypt.subject } : {}) },
      );
      sealed = result.envelope;
    } catch (err) {
      const reason = failureReason(err);
      if (reason === null) throw err;
      const waited = now().getTime() - firstSeen.getTime();
      const notifyNow = reason === 'size' || reason === 'malformed' || waited >= settings.queueTimeoutSeconds * 1000;
      if (!notifyNow) throw new TryLater(`not sealed yet (${(err as Error).message}); waiting since ${firstSeen.toISOString()}`);
      await notify(message, deps, settings, reason === 'unreachable' ? 'timeout' : reason, (err as Error).message, firstSeen, key, toSeal);
      // The other part (if any) still goes: TLS recipients were never to get an envelope.
      if (overTls.length > 0) await handOverTls(message, decision, overTls, deps, key);
      deps.journal.finish(key);
      return { kind: 'notified', reason: reason === 'unreachable' ? 'timeout' : reason };
    }
    await handBack(deps.reinject, { from: message.sender, to: toSeal, raw: sealed });
    await deps.journal.markDone(key, 'sealed');
  }
  if (overTls.length > 0) await handOverTls(message, decision, overTls, deps, key);
  deps.journal.finish(key);
  return { kind: 'delivered', sealed: toSeal.length, overTls: overTls.length };
}

async function handOverTls(message: { sender: string }, decision: FilterDecision, to: string[], deps: ProcessDeps, key: string): Promise<void> {
  if (deps.journal.done(key, 'tls')) return;
  await handBack(deps.reinjectTls, { from: message.sender, to, raw: decision.raw });
  await deps.journal.markDone(key, 'tls');
}

async function handBack(reinjector: Reinjector, message: { from: string; to: readonly string[]; raw: Uint8Array }): Promise<void> {
  try {
    await reinjector.send(message);
  } catch (err) {
    throw new TryLater((err as Error).message);
  }
}

/** How a sealing failure is answered; null for a bug, which is not a message's fault. */
function failureReason(err: unknown): FailureReason | 'unreachable' | null {
  if (err instanceof MessageError) return err.code === 'message_too_large' ? 'size' : 'malformed';
  if (err instanceof KeyServiceError) return err.code === 'unreachable' ? 'unreachable' : 'profile';
  if (err instanceof ProfileError) return 'profile';
  return null;
}

async function notify(
  message: { raw: Uint8Array; sender: string },
  deps: ProcessDeps,
  settings: typeof DEFAULT_PROFILE_SETTINGS,
  reason: FailureReason,
  detail: string,
  firstSeen: Date,
  key: string,
  recipients: string[],
): Promise<void> {
  if (deps.journal.done(key, 'notice')) return;
  // A bounce (null sender) that cannot be encrypted is not answered: no notice loops.
  if (message.sender !== '') {
    const head = headerBlock(message.raw);
    const notice = await buildFailureNotice(
      {
        reason,
        to: message.sender,
        from: deps.postmaster,
        settings,
        original: { subject: /^subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(head)?.[1]?.replace(/\r?\n[ \t]+/g, ' ').trim() ?? '', recipients, headerBlock: head, firstSeen },
        detail: detail.replace(/[\r\n]+/g, ' '),
      },
      { i18n: deps.seal.i18n },
    );
    // From the null sender (RFC 5321 section 4.5.5), so a failing notice cannot bounce back here.
    await handBack(deps.reinject, { from: '', to: [message.sender], raw: notice });
  }
  await deps.journal.markDone(key, 'notice');
}

/** The header block of a message (up to the first empty line), at most 64 KB of it. */
function headerBlock(raw: Uint8Array): string {
  const text = Buffer.from(raw.buffer, raw.byteOffset, Math.min(raw.byteLength, 65536)).toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  return end === -1 ? text : text.slice(0, end + 2);
}
