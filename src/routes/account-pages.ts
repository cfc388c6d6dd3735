import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { i18n } from 'i18next';
import type { Services } from '../services.ts';
import { openingOf, setOpeningCookie } from './opening-cookie.ts';
import type { Locale } from '../i18n/locales.ts';
import type { PageRenderer } from '../plugins/pages.ts';
import type { FieldErrors } from '../domain/accounts/account-service.ts';
import type { SessionInfo } from '../domain/accounts/session-service.ts';
import { EMAIL_TOKEN_LIFETIME_MS } from '../domain/accounts/email-tokens.ts';
import { MailDeliveryError } from '../domain/mail/mail-service.ts';
import {
  clearSessionCookie,
  field,
  networkOf,
  query,
  safeNext,
  seeOther,
  sessionOf,
  setSessionCookie,
  withQuery,
} from './account-http.ts';

const FRAGMENT_SCRIPT = '/assets/token-from-fragment.js';

export interface AccountRouteOptions {
  services: Services;
  pages: PageRenderer;
  i18n: i18n;
}

/** Field errors as the views want them: a message per field and a list for the summary. */
export function describeErrors(t: (key: string) => string, errors: FieldErrors) {
  const messages: Record<string, string> = {};
  for (const [f, code] of Object.entries(errors)) messages[f] = t(`account:errors.${f}.${code}`);
  return { errors: messages, errorList: Object.entries(messages).map(([f, message]) => ({ field: f, message })) };
}

/**
 * Sign-in, registration, address verification, passphrase reset and sign-out: the pages a
 * recipient meets on the way to an envelope. The envelope's secret rides in the URL fragment
 * across all of them, so every form posts to its own URL (action="") and every step onward is
 * a 303 whose Location has no fragment; `next` stays in the query string throughout.
 */
// An envelope page, the only `next` a kept key can be for.
const OPEN_PATH = /^\/open\/[A-Za-z0-9_-]{22}$/;

export async function accountPageRoutes(app: FastifyInstance, opts: AccountRouteOptions): Promise<void> {
  const { services, pages } = opts;
  const { accounts, sessions } = services;
  const hide = { schema: { hide: true } };

  /** `next` to hand on to the next page, when the request brought an acceptable one. */
  const nextParam = (request: FastifyRequest) => {
    const raw = query(request, 'next');
    return raw !== undefined && safeNext(raw, '') !== '' ? raw : undefined;
  };
  const throttled = (reply: FastifyReply, locale: Locale, retryAfter: number) => {
    reply.header('retry-after', String(retryAfter));
    return opts.i18n.getFixedT(locale)('account:throttled.body', { count: retryAfter });
  };
  const mailFailed = (request: FastifyRequest, reply: FastifyReply, locale: Locale, err: MailDeliveryError) => {
    request.log.error({ err: err.message, transient: err.transient }, 'account mail not sent');
    return pages.send(request, reply, { view: 'pages/account/mail-failed.hbs', titleKey: 'account:mailFailed.title', locale, status: 503 });
  };

  // ---- sign-in and re-authentication ----

  // Offline re-opening: the envelope page asks for the box (offline=1) only for an envelope that
  // allows it (src/domain/releases/offline-offer.ts); it is ticked by the recipient, never preset.
  const offersKeepKey = (request: FastifyRequest) => query(request, 'offline') === '1' && OPEN_PATH.test(safeNext(query(request, 'next'), ''));
  /**
   * After a passphrase was typed: with the box ticked, the envelope's opening (its sealed cookie)
   * records it, and only then will the envelope page hand the key over (offline-offer.ts).
   */
  const afterPassphrase = (request: FastifyRequest, reply: FastifyReply, next: string) => {
    if (offersKeepKey(request) && field(request.body, 'keepKey') === '1') {
      const envelopeId = next.slice('/open/'.length);
      const at = new Date();
      const opening = openingOf(request, services.openings, envelopeId, at);
      if (opening?.mode === 'applet') setOpeningCookie(reply, services.openings, envelopeId, { ...opening, keepKeyAt: at });
    }
    return next;
  };

  async function renderSignin(
    request: FastifyRequest,
    reply: FastifyReply,
    page: { locale: Locale; session: SessionInfo | null; status?: number; email?: string; remember?: boolean; error?: string; notice?: string },
  ) {
    const account = page.session ? await accounts.get(page.session.accountId) : null;
    const reauth = query(request, 'reauth') === '1' && account !== null;
    const t = opts.i18n.getFixedT(page.locale);
    const done = query(request, 'done');
    const notice = page.notice ?? (done === 'signedout' ? t('account:signin.signedOut') : done === 'reset' ? t('account:signin.resetDone') : undefined);
    return pages.send(request, reply, {
      view: 'pages/account/signin.hbs',
      titleKey: reauth ? 'account:signin.reauthTitle' : 'account:signin.title',
      locale: page.locale,
      status: page.status ?? 200,
      data: {
        reauth,
        // The Personal Security Phrase only for a browser this site recognises, never for a typed address.
        recognised: account ? { name: account.name, phrase: account.securityPhrase } : null,
        email: page.email ?? '',
        remember: page.remember ?? false,
        keepKey: offersKeepKey(request),
        error: page.error,
        notice,
      },
    });
  }

  app.get('/signin', hide, async (request, reply) => {
    return renderSignin(request, reply, { locale: pages.localeOf(request), session: await sessionOf(request, sessions) });
  });

  app.post('/signin', hide, async (request, reply) => {
    const locale = pages.localeOf(request);
    const t = opts.i18n.getFixedT(locale);
    const next = safeNext(query(request, 'next'));
    const body = request.body;
    const go = field(body, 'go') || 'signin';
    const email = field(body, 'email');
    const remember = field(body, 'remember') === '1';
    const session = await sessionOf(request, sessions);

    switch (go) {
      case 'register':
        return seeOther(reply, withQuery('/register', { next: nextParam(request), email: email.trim() || undefined }));
      case 'reset':
        return seeOther(reply, withQuery('/reset', { next: nextParam(request) }));
      case 'continue':
        if (session) return seeOther(reply, next);
        return renderSignin(request, reply, { locale, session, status: 400, error: t('account:signin.expired') });
      case 'switch':
        if (session) await sessions.revoke(session.accountId, session.id);
        clearSessionCookie(reply);
        return seeOther(reply, withQuery('/signin', { next: nextParam(request) }));
      case 'reauth': {
        if (!session) return renderSignin(request, reply, { locale, session, status: 400, error: t('account:signin.expired') });
        const result = await accounts.reauthenticate({ accountId: session.accountId, passphrase: field(body, 'passphrase'), network: networkOf(request) });
        if (result.ok) {
          await sessions.passphraseTyped(session.id);
          return seeOther(reply, afterPassphrase(request, reply, next));
        }
        if (result.kind === 'throttled') return renderSignin(request, reply, { locale, session, status: 429, error: throttled(reply, locale, result.retryAfter) });
        return renderSignin(request, reply, { locale, session, status: 400, error: t('account:signin.wrong') });
      }
      default: {
        const result = await accounts.signInWithSession({
          email,
          passphrase: field(body, 'passphrase'),
          network: networkOf(request),
          session: { remember, userAgent: request.headers['user-agent'] ?? null, ip: request.ip },
        });
        if (result.ok) {
          // A fresh session every time (no fixation); whatever session this browser had ends.
          if (session) await sessions.revoke(session.accountId, session.id);
          setSessionCookie(reply, sessions, result.started.session, result.started.cookie);
          return seeOther(reply, afterPassphrase(request, reply, next));
        }
        const status = result.kind === 'throttled' ? 429 : 400;
        const error = result.kind === 'throttled' ? throttled(reply, locale, result.retryAfter) : t('account:signin.wrong');
        return renderSignin(request, reply, { locale, session, status, email, remember, error });
      }
    }
  });

  app.post('/signout', hide, async (request, reply) => {
    const session = await sessionOf(request, sessions);
    if (session) await sessions.revoke(session.accountId, session.id);
    clearSessionCookie(reply);
    return seeOther(reply, safeNext(query(request, 'next'), '/signin?done=signedout'));
  });

  // ---- registration ----

  const renderRegister = (request: FastifyRequest, reply: FastifyReply, locale: Locale, status: number, values: object, errors: FieldErrors = {}, error?: string) =>
    pages.send(request, reply, {
      view: 'pages/account/register.hbs',
      titleKey: 'account:register.title',
      locale,
      status,
      data: { values, error, ...describeErrors(opts.i18n.getFixedT(locale), errors) },
    });
  const renderCheckMail = (request: FastifyRequest, reply: FastifyReply, locale: Locale, status: number, email: string, extra: { resent?: boolean; error?: string } = {}) =>
    pages.send(request, reply, { view: 'pages/account/check-mail.hbs', titleKey: 'account:checkMail.title', locale, status, data: { email, ...extra } });

  app.get('/register', hide, async (request, reply) => {
    return renderRegister(request, reply, pages.localeOf(request), 200, { email: query(request, 'email') ?? '' });
  });

  app.post('/register', hide, async (request, reply) => {
    const locale = pages.localeOf(request);
    const body = request.body;
    const go = field(body, 'go') || 'register';
    const email = field(body, 'email');
    try {
      switch (go) {
        case 'signin':
        case 'continue':
          return seeOther(reply, withQuery('/signin', { next: nextParam(request) }));
        case 'resend': {
          const result = await accounts.resendVerification({ email, locale, network: networkOf(request) });
          if (result.ok) return renderCheckMail(request, reply, locale, 200, email, { resent: true });
          if (result.kind === 'throttled') return renderCheckMail(request, reply, locale, 429, email, { error: throttled(reply, locale, result.retryAfter) });
          return renderRegister(request, reply, locale, 400, { email }, result.errors);
        }
        default: {
          const values = { name: field(body, 'name'), email, securityPhrase: field(body, 'securityPhrase') };
          const result = await accounts.register({
            ...values,
            passphrase: field(body, 'passphrase'),
            passphrase2: field(body, 'passphrase2'),
            locale,
            network: networkOf(request),
          });
          if (result.ok) return renderCheckMail(request, reply, locale, 200, email.trim());
          if (result.kind === 'throttled') return renderRegister(request, reply, locale, 429, values, {}, throttled(reply, locale, result.retryAfter));
          return renderRegister(request, reply, locale, 400, values, result.errors);
        }
      }
    } catch (err) {
      if (err instanceof MailDeliveryError) return mailFailed(request, reply, locale, err);
      throw err;
    }
  });

  // ---- verification of an address ----

  const renderTokenRefused = (request: FastifyRequest, reply: FastifyReply, locale: Locale, purpose: 'verify' | 'reset', reason: string) => {
    const t = opts.i18n.getFixedT(locale);
    return pages.send(request, reply, {
      view: 'pages/account/token-refused.hbs',
      titleKey: 'account:tokenRefused.title',
      locale,
      status: 400,
      data: {
        heading: t(purpose === 'verify' ? 'account:tokenRefused.verifyHeading' : 'account:tokenRefused.resetHeading'),
        message: t(`account:tokenRefused.${reason}`),
        advice: t(purpose === 'verify' ? 'account:tokenRefused.verifyAdvice' : 'account:tokenRefused.resetAdvice'),
        link: purpose === 'verify' ? { href: '/signin', text: t('account:tokenRefused.signin') } : { href: '/reset', text: t('account:tokenRefused.newReset') },
      },
    });
  };

  app.get('/verify', hide, async (request, reply) => {
    return pages.send(request, reply, { view: 'pages/account/verify.hbs', titleKey: 'account:verify.title', locale: pages.localeOf(request), scripts: [FRAGMENT_SCRIPT] });
  });

  app.post('/verify', hide, async (request, reply) => {
    const locale = pages.localeOf(request);
    const token = (field(request.body, 'token') || field(request.body, 'code')).trim();
    if (!token) {
      const error = opts.i18n.getFixedT(locale)('account:verify.missingCode');
      return pages.send(request, reply, { view: 'pages/account/verify.hbs', titleKey: 'account:verify.title', locale, status: 400, scripts: [FRAGMENT_SCRIPT], data: { error } });
    }
    const result = await accounts.verifyAddress(token);
    if (!result.ok) return renderTokenRefused(request, reply, locale, 'verify', result.reason);
    return pages.send(request, reply, { view: 'pages/account/verify-done.hbs', titleKey: 'account:verifyDone.title', locale, data: { email: result.address } });
  });

  // ---- passphrase reset ----

  const renderReset = (
    request: FastifyRequest,
    reply: FastifyReply,
    locale: Locale,
    status: number,
    page: { values?: { email?: string; token?: string }; errors?: FieldErrors; error?: string; setting?: boolean } = {},
  ) =>
    pages.send(request, reply, {
      view: 'pages/account/reset.hbs',
      titleKey: 'account:reset.title',
      locale,
      status,
      scripts: [FRAGMENT_SCRIPT],
      data: { values: page.values ?? {}, error: page.error, setting: page.setting ?? false, ...describeErrors(opts.i18n.getFixedT(locale), page.errors ?? {}) },
    });

  app.get('/reset', hide, async (request, reply) => renderReset(request, reply, pages.localeOf(request), 200));

  app.post('/reset', hide, async (request, reply) => {
    const locale = pages.localeOf(request);
    const t = opts.i18n.getFixedT(locale);
    const body = request.body;
    const go = field(body, 'go') || 'request';
    if (go === 'signin') return seeOther(reply, withQuery('/signin', { next: nextParam(request) }));
    if (go === 'set') {
      const token = (field(body, 'token') || field(body, 'code')).trim();
      if (!token) return renderReset(request, reply, locale, 400, { error: t('account:reset.missingCode') });
      const session = await sessionOf(request, sessions);
      const result = await accounts.resetPassphrase({ token, passphrase: field(body, 'passphrase'), passphrase2: field(body, 'passphrase2'), keepSessionId: session?.id ?? null });
      if (result.ok) return seeOther(reply, withQuery('/signin', { next: nextParam(request), done: 'reset' }));
      if (result.kind === 'token') return renderTokenRefused(request, reply, locale, 'reset', result.reason);
      return renderReset(request, reply, locale, 400, { values: { token }, errors: result.errors, setting: true });
    }
    const email = field(body, 'email');
    const result = await accounts.requestReset({ email, locale, network: networkOf(request) });
    if (!result.ok) {
      if (result.kind === 'throttled') return renderReset(request, reply, locale, 429, { values: { email }, error: throttled(reply, locale, result.retryAfter) });
      return renderReset(request, reply, locale, 400, { values: { email }, errors: result.errors });
    }
    // Not awaited: whether a mail goes out must not show in the answer or its timing.
    result.delivery.catch((err: unknown) => request.log.error({ err: err instanceof Error ? err.message : String(err) }, 'reset mail not sent'));
    return pages.send(request, reply, {
      view: 'pages/account/reset-sent.hbs',
      titleKey: 'account:resetSent.title',
      locale,
      data: { email: email.trim(), minutes: EMAIL_TOKEN_LIFETIME_MS.reset / 60_000 },
    });
  });
}
