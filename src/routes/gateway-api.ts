import Type from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';
import type { EnvelopeUpload } from '../domain/envelopes/envelope-types.ts';
import { DomainError } from '../domain/errors.ts';
import { ProfileSettingsSchema } from '../domain/profiles/profile-settings.ts';
import { payloadUrlFor, type Services } from '../services.ts';
import { requireBearer } from './auth.ts';
import { EnvelopeIdParams, EnvelopeStoredSchema, EnvelopeUploadSchema, problemRef } from './schemas.ts';

/** Versions a gateway learns from the key service, so both sides agree on what they write. */
export const FORMAT_VERSIONS = { envelope: 1, securedoc: 1 } as const;

const security = [{ gatewayCredential: [] }];
const errors = { 400: problemRef, 401: problemRef, 404: problemRef, 409: problemRef, 413: problemRef, 422: problemRef };

/** The key API a provisioned gateway uses (credential from `waxseal profile provision`). */
export async function gatewayApiRoutes(app: FastifyInstance, opts: { services: Services; config: Config }): Promise<void> {
  const { services, config } = opts;
  const gateway = requireBearer(app, (token) => services.credentials.authenticate(token));

  // Ciphertext only: it is useless without both key halves, so a raw body is fine here.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: config.maxPayloadBytes }, (_req, body, done) => done(null, body));

  app.get(
    '/gateway/profile',
    {
      schema: {
        tags: ['gateway'],
        summary: 'The profile this credential seals with, and the key service\'s format versions',
        security,
        response: {
          200: Type.Object({
            profile: Type.Object({ name: Type.String(), settings: ProfileSettingsSchema }),
            keyService: Type.Object({ url: Type.String() }),
            versions: Type.Object({ envelope: Type.Integer(), securedoc: Type.Integer() }),
          }),
          401: problemRef,
        },
      },
    },
    async (request) => {
      const { profile } = gateway(request);
      return { profile: { name: profile.name, settings: profile.settings }, keyService: { url: config.publicUrl }, versions: FORMAT_VERSIONS };
    },
  );

  app.put(
    '/envelopes/:id',
    {
      schema: {
        tags: ['gateway'],
        summary: 'Store an envelope\'s server share and settings (idempotent)',
        description:
          'The gateway picks the id. Repeating the same body is harmless (200, created false); a different body under a used id is refused (409).',
        security,
        params: EnvelopeIdParams,
        body: EnvelopeUploadSchema,
        response: { 200: EnvelopeStoredSchema, 201: EnvelopeStoredSchema, ...errors },
      },
    },
    async (request, reply) => {
      const principal = gateway(request);
      const { id } = request.params as { id: string };
      const upload = request.body as EnvelopeUpload;
      const result = await services.envelopes.store(principal, id, upload);
      const payloadUrl = upload.payload.transport === 'reference' ? payloadUrlFor(config, principal.profile.settings.payloadTransport, id) : null;
      return reply.code(result.created ? 201 : 200).send({ id, created: result.created, payloadPending: result.payloadPending, payloadUrl });
    },
  );

  app.put(
    '/envelopes/:id/payload',
    {
      schema: {
        tags: ['gateway'],
        summary: 'Upload the ciphertext of a by-reference envelope (idempotent; checked against the digest)',
        security,
        params: EnvelopeIdParams,
        consumes: ['application/octet-stream'],
        response: { 200: Type.Object({ created: Type.Boolean() }), 201: Type.Object({ created: Type.Boolean() }), ...errors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (!Buffer.isBuffer(body)) throw new DomainError('invalid', 'send the ciphertext as application/octet-stream');
      const result = await services.envelopes.storePayload(gateway(request), (request.params as { id: string }).id, body);
      return reply.code(result.created ? 201 : 200).send(result);
    },
  );
}
