import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditFilter } from '../domain/audit/audit-repository.ts';
import { DomainError } from '../domain/errors.ts';
import { ENVELOPE_ID } from '../domain/envelopes/envelope-service.ts';
import type { ConsolePrincipal } from '../domain/staff/staff-service.ts';
import { actorOf } from '../domain/staff/staff-service.ts';
import type { AccountRouteOptions } from './account-pages.ts';
import { field, query, safeNext, seeOther, withQuery } from './account-http.ts';
import { auditJson, toCsv } from './audit-export.ts';
import { consoleHttp } from './console-http.ts';

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const AUDIT_PAGE = 50;

/**
 * The organisation's messages in the console (metadata only: there is nothing here, or anywhere
 * in the console, that shows a message's content) with the lock any administrator may put on
 * any of them, a delegated administrator on those of their role's profiles only; and the audit
 * record, filtered, paged and exported (administrators only).
 */
export async function consoleMessageRoutes(app: FastifyInstance, opts: AccountRouteOptions): Promise<void> {
  const { services, i18n } = opts;
  const http = consoleHttp(opts);
  const hide = { schema: { hide: true } };
  const scopeOf = (who: ConsolePrincipal) => ({ orgId: who.orgId, profileIds: who.profileIds });

  async function messages(request: FastifyRequest, reply: FastifyReply, who: ConsolePrincipal, error?: { id: string; text: string }) {
    const t = i18n.getFixedT(opts.pages.localeOf(request));
    const q = query(request, 'q') ?? '';
    const page = Math.max(1, Number.parseInt(query(request, 'page') ?? '1', 10) || 1);
    const result = await services.orgMessages.list(scopeOf(who), { q, page });
    const done = query(request, 'done');
    const now = Date.now();
    return http.send(request, reply, who, {
      view: 'pages/console/messages.hbs',
      titleKey: 'console:messages.title',
      section: 'messages',
      status: error ? 400 : 200,
      data: {
        q,
        back: withQuery('/admin/messages', { q: q || undefined, page: page > 1 ? String(page) : undefined }),
        messages: result.messages.map((m) => ({
          ...m,
          expired: m.expiresAt !== null && m.expiresAt.getTime() <= now,
          opened: m.recipients.filter((r) => r.openedAt).length,
          total: m.recipients.length,
          error: error?.id === m.id ? error.text : undefined,
        })),
        newer: page > 1 ? withQuery('/admin/messages', { q: q || undefined, page: page > 2 ? String(page - 1) : undefined }) : null,
        older: result.more ? withQuery('/admin/messages', { q: q || undefined, page: String(page + 1) }) : null,
        notice: done === 'locked' || done === 'unlocked' ? t(`sent:notices.${done}`) : undefined,
      },
    });
  }

  app.get('/admin/messages', hide, async (request, reply) => {
    const who = await http.principal(request, reply);
    return who ? messages(request, reply, who) : reply;
  });

  app.post('/admin/messages', hide, async (request, reply) => {
    const who = await http.principal(request, reply);
    if (!who) return reply;
    const t = i18n.getFixedT(opts.pages.localeOf(request));
    const body = request.body;
    const id = field(body, 'message');
    // Back to the list page the form was on (its search and page), and never anywhere else.
    const back = field(body, 'back').startsWith('/admin/messages') ? safeNext(field(body, 'back'), '/admin/messages') : '/admin/messages';
    const sep = back.includes('?') ? '&' : '?';
    if (!ENVELOPE_ID.test(id)) return http.missing(request, reply, who, 'messages');
    try {
      if (field(body, 'go') === 'lock') {
        await services.orgMessages.lock(scopeOf(who), id, field(body, 'reason'), actorOf(who));
        return seeOther(reply, `${back}${sep}done=locked`);
      }
      if (field(body, 'go') === 'unlock') {
        await services.orgMessages.unlock(scopeOf(who), id, actorOf(who));
        return seeOther(reply, `${back}${sep}done=unlocked`);
      }
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      if (err.code === 'not_found') return http.missing(request, reply, who, 'messages');
      return messages(request, reply, who, { id, text: t('sent:errors.reason') });
    }
    return messages(request, reply, who, { id, text: t('console:errors.unknown') });
  });

  /** The filter as the form and the export links carry it; bad dates are ignored, and said so. */
  function auditFilter(request: FastifyRequest, who: ConsolePrincipal) {
    const text = (name: string) => (query(request, name) ?? '').trim().slice(0, 300);
    const day = (name: string, end: boolean) => {
      const v = text(name);
      return DAY.test(v) ? new Date(`${v}T${end ? '23:59:59.999' : '00:00:00.000'}Z`) : undefined;
    };
    const form = { action: text('action'), actor: text('actor'), subject: text('subject'), from: text('from'), to: text('to') };
    const afterSeq = Math.max(0, Number.parseInt(query(request, 'after') ?? '0', 10) || 0);
    const filter: AuditFilter = {
      orgId: who.orgId,
      action: form.action || undefined,
      actor: form.actor || undefined,
      subject: form.subject || undefined,
      from: day('from', false),
      to: day('to', true),
      afterSeq,
      limit: AUDIT_PAGE,
    };
    const badDate = (form.from !== '' && !filter.from) || (form.to !== '' && !filter.to);
    return { form, filter, badDate };
  }

  app.get('/admin/audit', hide, (request, reply) =>
    http.adminPage(request, reply, 'audit', async (who, locale) => {
      const t = i18n.getFixedT(locale);
      const { form, filter, badDate } = auditFilter(request, who);
      const records = await services.audit.list({ ...filter, limit: AUDIT_PAGE + 1 });
      const shown = records.slice(0, AUDIT_PAGE);
      const keep = { action: form.action, actor: form.actor, subject: form.subject, from: form.from, to: form.to };
      return http.send(request, reply, who, {
        view: 'pages/console/audit.hbs',
        titleKey: 'console:audit.title',
        section: 'audit',
        data: {
          form,
          records: shown.map((r) => ({ ...auditJson(r), at: r.at, detail: JSON.stringify(r.detail) })),
          next: records.length > AUDIT_PAGE ? withQuery('/admin/audit', { ...keep, after: String(shown[shown.length - 1]!.seq) }) : null,
          first: filter.afterSeq ? withQuery('/admin/audit', keep) : null,
          csv: withQuery('/admin/audit/export', { ...keep, format: 'csv' }),
          ndjson: withQuery('/admin/audit/export', { ...keep, format: 'ndjson' }),
          error: badDate ? t('sent:errors.date') : undefined,
        },
      });
    }),
  );

  app.get('/admin/audit/export', hide, (request, reply) =>
    http.adminPage(request, reply, 'audit', async (who) => {
      const { filter } = auditFilter(request, who);
      const records = await services.audit.list({ ...filter, limit: 100_000 });
      reply.header('cache-control', 'no-store');
      if (query(request, 'format') === 'csv') {
        reply.header('content-disposition', 'attachment; filename="audit.csv"');
        return reply.type('text/csv; charset=utf-8').send(toCsv(records));
      }
      reply.header('content-disposition', 'attachment; filename="audit.ndjson"');
      return reply.type('application/x-ndjson; charset=utf-8').send(records.map((r) => `${JSON.stringify(auditJson(r))}\n`).join(''));
    }),
  );
}
