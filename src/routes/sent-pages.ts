import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SessionInfo } from '../domain/accounts/session-service.ts';
import { DomainError } from '../domain/errors.ts';
import { ENVELOPE_ID } from '../domain/envelopes/envelope-service.ts';
import type { SentMessage } from '../domain/senders/sent-service.ts';
import type { Locale } from '../i18n/locales.ts';
import type { AccountRouteOptions } from './account-pages.ts';
import { clearSessionCookie, field, query, seeOther, sessionOf, withQuery } from './account-http.ts';

const NOTICES = new Set(['locked', 'unlocked', 'dates']);
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A sender's pages (/sent): what the account's verified addresses sent, who opened it, and the
 * controls the release point obeys — lock with a reason, unlock, expiration and read-by dates.
 * Plain forms, no script; every action answers with a 303 back to the message's page.
 */
export async function sentPageRoutes(app: FastifyInstance, opts: AccountRouteOptions): Promise<void> {
  const { services, pages } = opts;
  const hide = { schema: { hide: true } };

  async function requireSession(request: FastifyRequest, reply: FastifyReply, next: string): Promise<SessionInfo | null> {
    const session = await sessionOf(request, services.sessions);
    if (!session) {
      clearSessionCookie(reply);
      seeOther(reply, withQuery('/signin', { next }));
    }
    return session;
  }

  const now = () => new Date();
  const view = (m: SentMessage) => ({
    ...m,
    expired: m.expiresAt !== null && m.expiresAt.getTime() <= now().getTime(),
    openedCount: m.recipients.filter((r) => r.openedAt).length,
    recipientCount: m.recipients.length,
    expiresDay: m.expiresAt ? m.expiresAt.toISOString().slice(0, 10) : '',
    readByDay: m.readBy ? m.readBy.toISOString().slice(0, 10) : '',
  });

  app.get('/sent', hide, async (request, reply) => {
    const session = await requireSession(request, reply, '/sent');
    if (!session) return reply;
    const q = query(request, 'q') ?? '';
    const page = Math.max(1, Number.parseInt(query(request, 'page') ?? '1', 10) || 1);
    const result = await services.sent.list(session.accountId, { q, page });
    return pages.send(request, reply, {
      view: 'pages/sent/list.hbs',
      titleKey: 'sent:list.title',
      locale: pages.localeOf(request),
      data: {
        q,
        messages: result.messages.map(view),
        newer: page > 1 ? withQuery('/sent', { q: q || undefined, page: page > 2 ? String(page - 1) : undefined }) : null,
        older: result.more ? withQuery('/sent', { q: q || undefined, page: String(page + 1) }) : null,
      },
    });
  });

  async function renderMessage(request: FastifyRequest, reply: FastifyReply, session: SessionInfo, id: string, page: { locale: Locale; status?: number; error?: string }) {
    const message = ENVELOPE_ID.test(id) ? await services.sent.get(session.accountId, id) : null;
    if (!message) {
      return pages.send(request, reply, { view: 'pages/sent/missing.hbs', titleKey: 'sent:missing.title', locale: page.locale, status: 404 });
    }
    const t = opts.i18n.getFixedT(page.locale);
    const done = query(request, 'done');
    return pages.send(request, reply, {
      view: 'pages/sent/message.hbs',
      titleKey: 'sent:message.title',
      locale: page.locale,
      status: page.status ?? 200,
      data: { message: view(message), notice: done && NOTICES.has(done) ? t(`sent:notices.${done}`) : undefined, error: page.error },
    });
  }

  app.get('/sent/:id', hide, async (request, reply) => {
    const { id } = request.params as { id: string };
    const session = await requireSession(request, reply, `/sent/${id}`);
    if (!session) return reply;
    return renderMessage(request, reply, session, id, { locale: pages.localeOf(request) });
  });

  app.post('/sent/:id', hide, async (request, reply) => {
    const { id } = request.params as { id: string };
    const session = await requireSession(request, reply, `/sent/${id}`);
    if (!session) return reply;
    const locale = pages.localeOf(request);
    const t = opts.i18n.getFixedT(locale);
    const body = request.body;
    const go = field(body, 'go');
    try {
      if (go === 'lock') {
        await services.sent.lock(session.accountId, id, field(body, 'reason'));
        return seeOther(reply, `/sent/${id}?done=locked`);
      }
      if (go === 'unlock') {
        await services.sent.unlock(session.accountId, id);
        return seeOther(reply, `/sent/${id}?done=unlocked`);
      }
      if (go === 'dates') {
        const day = (name: string) => {
          const v = field(body, name).trim();
          if (v === '') return null;
          const d = DAY.test(v) ? new Date(`${v}T23:59:59.000Z`) : new Date(Number.NaN);
          if (Number.isNaN(d.getTime())) throw new DomainError('invalid', t('sent:errors.date'));
          return d;
        };
        await services.sent.setDates(session.accountId, id, { expiresAt: day('expires'), readBy: day('readBy') });
        return seeOther(reply, `/sent/${id}?done=dates`);
      }
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      if (err.code === 'not_found') return renderMessage(request, reply, session, '', { locale });
      const error = go === 'lock' ? t('sent:errors.reason') : t('sent:errors.date');
      return renderMessage(request, reply, session, id, { locale, status: 400, error });
    }
    return renderMessage(request, reply, session, id, { locale, status: 400, error: t('sent:errors.unknown') });
  });
}
