import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Locale } from '../i18n/locales.ts';
import type { FieldErrors } from '../domain/accounts/account-service.ts';
import type { SessionInfo } from '../domain/accounts/session-service.ts';
import { MailDeliveryError } from '../domain/mail/mail-service.ts';
import { describeErrors, type AccountRouteOptions } from './account-pages.ts';
import { clearSessionCookie, describeBrowser, field, networkOf, query, seeOther, sessionOf, withQuery } from './account-http.ts';

const NOTICES = new Set(['added', 'resent', 'removed', 'passphrase', 'revoked', 'others']);

/**
 * The signed-in recipient's own page (/account) and its actions: addresses (aliases), passphrase,
 * sessions. Plain forms, no script; each action answers with a 303 back to /account (so a reload
 * does not repeat it) or, when something needs fixing, the page again with the reason.
 */
export async function accountSettingsRoutes(app: FastifyInstance, opts: AccountRouteOptions): Promise<void> {
  const { services, pages } = opts;
  const { accounts, sessions } = services;
  const hide = { schema: { hide: true } };

  /** The request's session, or a 303 to sign-in (and the stale cookie cleared). */
  async function requireSession(request: FastifyRequest, reply: FastifyReply): Promise<SessionInfo | null> {
    const session = await sessionOf(request, sessions);
    if (!session) {
      clearSessionCookie(reply);
      seeOther(reply, withQuery('/signin', { next: '/account' }));
    }
    return session;
  }

  async function renderAccount(
    request: FastifyRequest,
    reply: FastifyReply,
    session: SessionInfo,
    page: { locale: Locale; status?: number; errors?: { address?: string; current?: string; passphrase?: string; passphrase2?: string }; error?: string; values?: object; notice?: string },
  ) {
    const t = opts.i18n.getFixedT(page.locale);
    const account = await accounts.get(session.accountId);
    const addresses = await accounts.addresses(session.accountId);
    const list = await sessions.list(session.accountId);
    if (!account) {
      clearSessionCookie(reply);
      return seeOther(reply, withQuery('/signin', { next: '/account' }));
    }
    const done = query(request, 'done');
    return pages.send(request, reply, {
      view: 'pages/account/account.hbs',
      titleKey: 'account:home.title',
      locale: page.locale,
      status: page.status ?? 200,
      data: {
        name: account.name,
        phrase: account.securityPhrase,
        addresses,
        sessions: list.map((s) => ({ ...s, browser: describeBrowser(s.userAgent) ?? t('account:home.unknownBrowser'), current: s.id === session.id })),
        others: list.some((s) => s.id !== session.id),
        notice: page.notice ?? (done && NOTICES.has(done) ? t(`account:home.notices.${done}`) : undefined),
        error: page.error,
        errors: page.errors ?? {},
        values: page.values ?? {},
      },
    });
  }

  const fieldMessages = (locale: Locale, errors: FieldErrors) => describeErrors(opts.i18n.getFixedT(locale), errors).errors;
  const throttledMessage = (reply: FastifyReply, locale: Locale, retryAfter: number) => {
    reply.header('retry-after', String(retryAfter));
    return opts.i18n.getFixedT(locale)('account:throttled.body', { count: retryAfter });
  };

  app.get('/account', hide, async (request, reply) => {
    const session = await requireSession(request, reply);
    if (!session) return reply;
    return renderAccount(request, reply, session, { locale: pages.localeOf(request) });
  });

  app.post('/account/addresses', hide, async (request, reply) => {
    const session = await requireSession(request, reply);
    if (!session) return reply;
    const locale = pages.localeOf(request);
    const go = field(request.body, 'go') || 'add';
    const email = field(request.body, 'email');
    if (go === 'remove') {
      await accounts.removePendingAddress(session.accountId, email.trim());
      return seeOther(reply, '/account?done=removed');
    }
    let result;
    try {
      result = await accounts.addAddress({ accountId: session.accountId, email, locale, network: networkOf(request) });
    } catch (err) {
      if (!(err instanceof MailDeliveryError)) throw err;
      request.log.error({ err: err.message, transient: err.transient }, 'account mail not sent');
      return renderAccount(request, reply, session, { locale, status: 503, error: opts.i18n.getFixedT(locale)('account:mailFailed.body'), values: { address: email } });
    }
    if (result.ok) return seeOther(reply, go === 'resend' ? '/account?done=resent' : '/account?done=added');
    if (result.kind === 'throttled') return renderAccount(request, reply, session, { locale, status: 429, error: throttledMessage(reply, locale, result.retryAfter), values: { address: email } });
    const messages = fieldMessages(locale, result.errors);
    return renderAccount(request, reply, session, { locale, status: 400, errors: { address: messages.email }, values: { address: email } });
  });

  app.post('/account/passphrase', hide, async (request, reply) => {
    const session = await requireSession(request, reply);
    if (!session) return reply;
    const locale = pages.localeOf(request);
    const body = request.body;
    const result = await accounts.changePassphrase({
      accountId: session.accountId,
      sessionId: session.id,
      current: field(body, 'current'),
      passphrase: field(body, 'passphrase'),
      passphrase2: field(body, 'passphrase2'),
      network: networkOf(request),
    });
    if (result.ok) {
      // The passphrase was just typed here: this session counts as freshly authenticated.
      await sessions.passphraseTyped(session.id);
      return seeOther(reply, '/account?done=passphrase');
    }
    if (result.kind === 'throttled') return renderAccount(request, reply, session, { locale, status: 429, error: throttledMessage(reply, locale, result.retryAfter) });
    return renderAccount(request, reply, session, { locale, status: 400, errors: fieldMessages(locale, result.errors) });
  });

  app.post('/account/sessions', hide, async (request, reply) => {
    const session = await requireSession(request, reply);
    if (!session) return reply;
    if (field(request.body, 'go') === 'others') {
      await sessions.revokeAll(session.accountId, { except: session.id });
      return seeOther(reply, '/account?done=others');
    }
    const target = field(request.body, 'session');
    // Only the account's own sessions: revoke() matches on the account too.
    if (target && target !== session.id) await sessions.revoke(session.accountId, target);
    return seeOther(reply, '/account?done=revoked');
  });
}
