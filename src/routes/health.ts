import Type from 'typebox';
import type { FastifyInstance } from 'fastify';
import { sendProblem } from '../plugins/problem.ts';

export async function healthRoutes(app: FastifyInstance, opts: { ping: () => Promise<void> }): Promise<void> {
  app.get(
    '/healthz',
    { schema: { tags: ['health'], summary: 'The process is alive', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'The service can reach its database',
        response: { 200: Type.Object({ status: Type.Literal('ready') }), 503: Type.Ref('Problem') },
      },
    },
    async (request, reply) => {
      try {
        await opts.ping();
        return { status: 'ready' as const };
      } catch (err) {
        request.log.warn({ err }, 'database not reachable');
        return sendProblem(reply, 503, 'database_unavailable', 'The database is not reachable.');
      }
    },
  );
}
