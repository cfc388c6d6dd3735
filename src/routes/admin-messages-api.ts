import Type from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.ts';
import { requireBearer } from './auth.ts';
import { problemRef } from './schemas.ts';
import { auditJson, toCsv } from './audit-export.ts';

const security = [{ adminToken: [] }];
const errors = { 400: problemRef, 401: problemRef, 404: problemRef };
const IdParams = Type.Object({ id: Type.String({ minLength: 22, maxLength: 22, pattern: '^[A-Za-z0-9_-]{22}$' }) });

const MessageSchema = Type.Object({
  id: Type.String(),
  sender: Type.String(),
  subject: Type.Union([Type.String(), Type.Null()]),
  sentAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  readBy: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  locked: Type.Union([Type.Object({ at: Type.String({ format: 'date-time' }), reason: Type.String() }), Type.Null()]),
  recipients: Type.Array(Type.Object({ address: Type.String(), field: Type.String(), openedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]) })),
});

/**
 * The organisation's messages for its administrators: metadata only (who sent what to whom,
 * when, who opened it) — there is no route that returns a message's content or key — and the
 * lock any administrator may put on any message of the organisation. And the audit record,
 * filtered and exported as NDJSON or CSV.
 */
export async function adminMessagesApiRoutes(app: FastifyInstance, opts: { services: Services }): Promise<void> {
  const { services } = opts;
  const admin = requireBearer(app, (token) => services.admins.authenticate(token));
  const iso = (d: Date | null) => d?.toISOString() ?? null;

  app.get(
    '/messages',
    {
      schema: {
        tags: ['admin'],
        summary: "The organisation's messages, newest first, 20 per page (metadata only)",
        security,
        querystring: Type.Object({ q: Type.Optional(Type.String({ maxLength: 200 })), page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })) }),
        response: { 200: Type.Object({ page: Type.Integer(), more: Type.Boolean(), messages: Type.Array(MessageSchema) }), ...errors },
      },
    },
    async (request) => {
      const q = request.query as { q?: string; page?: number };
      const r = await services.orgMessages.list({ orgId: admin(request).orgId, profileIds: null }, { q: q.q ?? null, page: q.page ?? 1 });
      return {
        page: r.page,
        more: r.more,
        messages: r.messages.map((m) => ({
          ...m,
          sentAt: m.sentAt.toISOString(),
          expiresAt: iso(m.expiresAt),
          readBy: iso(m.readBy),
          locked: m.locked ? { at: m.locked.at.toISOString(), reason: m.locked.reason } : null,
          recipients: m.recipients.map((x) => ({ ...x, openedAt: iso(x.openedAt) })),
        })),
      };
    },
  );

  app.post(
    '/messages/:id/lock',
    { schema: { tags: ['admin'], summary: 'Lock a message of the organisation; recipients see the reason', security, params: IdParams, body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }), response: { 204: Type.Null(), ...errors } } },
    async (request, reply) => {
      const who = admin(request);
      await services.orgMessages.lock({ orgId: who.orgId, profileIds: null }, (request.params as { id: string }).id, (request.body as { reason: string }).reason, `admin:${who.email}`);
      return reply.code(204).send();
    },
  );

  app.post(
    '/messages/:id/unlock',
    { schema: { tags: ['admin'], summary: 'Unlock a message of the organisation', security, params: IdParams, response: { 204: Type.Null(), ...errors } } },
    async (request, reply) => {
      const who = admin(request);
      await services.orgMessages.unlock({ orgId: who.orgId, profileIds: null }, (request.params as { id: string }).id, `admin:${who.email}`);
      return reply.code(204).send();
    },
  );

  app.get(
    '/audit',
    {
      schema: {
        tags: ['admin'],
        summary: "The organisation's audit record, oldest first, as NDJSON (default) or CSV",
        security,
        querystring: Type.Object({
          format: Type.Optional(Type.Union([Type.Literal('ndjson'), Type.Literal('csv')])),
          action: Type.Optional(Type.String({ maxLength: 100 })),
          actor: Type.Optional(Type.String({ maxLength: 300 })),
          subject: Type.Optional(Type.String({ maxLength: 300 })),
          from: Type.Optional(Type.String({ format: 'date-time' })),
          to: Type.Optional(Type.String({ format: 'date-time' })),
          afterSeq: Type.Optional(Type.Integer({ minimum: 0 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
        }),
        response: { 200: Type.String(), ...errors },
      },
    },
    async (request, reply) => {
      const q = request.query as { format?: 'ndjson' | 'csv'; action?: string; actor?: string; subject?: string; from?: string; to?: string; afterSeq?: number; limit?: number };
      const records = await services.audit.list({
        orgId: admin(request).orgId,
        action: q.action,
        actor: q.actor,
        subject: q.subject,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        afterSeq: q.afterSeq,
        limit: q.limit ?? 1000,
      });
      reply.header('cache-control', 'no-store');
      if (q.format === 'csv') {
        reply.header('content-disposition', 'attachment; filename="audit.csv"');
        return reply.type('text/csv; charset=utf-8').send(toCsv(records));
      }
      reply.header('content-disposition', 'attachment; filename="audit.ndjson"');
      return reply.type('application/x-ndjson; charset=utf-8').send(records.map((r) => `${JSON.stringify(auditJson(r))}\n`).join(''));
    },
  );
}
