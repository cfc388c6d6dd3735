import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.ts';
import { sendProblem } from '../plugins/problem.ts';
import { EnvelopeIdParams } from './schemas.ts';

/**
 * Public download of by-reference ciphertext. It is encrypted under a key that needs both the
 * server share and the envelope secret, so serving it to anyone reveals nothing; CORS is open
 * so a page on another origin (a separate payload host) can fetch it.
 */
export async function payloadRoutes(app: FastifyInstance, opts: { services: Services }): Promise<void> {
  app.get(
    '/payloads/:id',
    { schema: { tags: ['recipient'], summary: 'Ciphertext of a by-reference envelope', params: EnvelopeIdParams } },
    async (request, reply) => {
      // Streamed from the store: the reader decrypts the first records while the rest arrives.
      const payload = await opts.services.envelopes.payloadStream((request.params as { id: string }).id);
      if (!payload) return sendProblem(reply, 404, 'not_found', 'There is no payload with this id.');
      return reply
        .header('access-control-allow-origin', '*')
        .header('cache-control', 'private, max-age=3600')
        .header('content-length', payload.size)
        .type('application/octet-stream')
        .send(payload.stream);
    },
  );
}
