import Type from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { Credential } from '../domain/credentials/credential-service.ts';
import type { Profile } from '../domain/profiles/profile-service.ts';
import type { Services } from '../services.ts';
import { requireBearer } from './auth.ts';
import { actorOf } from '../domain/staff/staff-service.ts';
import { CredentialSchema, IssuedCredentialSchema, ProfileSchema, problemRef } from './schemas.ts';

const security = [{ adminToken: [] }];
const errors = { 400: problemRef, 401: problemRef, 404: problemRef, 409: problemRef, 422: problemRef };
const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }) });
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

const profileJson = (p: Profile) => ({
  id: p.id,
  name: p.name,
  settings: p.settings,
  createdAt: p.createdAt.toISOString(),
  updatedAt: p.updatedAt.toISOString(),
});
const credentialJson = (c: Credential) => ({
  id: c.id,
  adminEmail: c.adminEmail,
  createdAt: c.createdAt.toISOString(),
  lastUsedAt: c.lastUsedAt?.toISOString() ?? null,
  revokedAt: c.revokedAt?.toISOString() ?? null,
});

/** Organisation administration over HTTP, for administrator tokens (`waxseal admin init`). */
export async function adminApiRoutes(app: FastifyInstance, opts: { services: Services }): Promise<void> {
  const { services } = opts;
  const admin = requireBearer(app, (token) => services.admins.authenticate(token));

  app.get(
    '/profiles',
    { schema: { tags: ['admin'], summary: 'List encryption profiles', security, response: { 200: Type.Array(ProfileSchema), ...errors } } },
    async (request) => (await services.profiles.list(admin(request).orgId)).map(profileJson),
  );

  app.post(
    '/profiles',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create an encryption profile (unset settings take their defaults)',
        security,
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }), settings: Type.Optional(Type.Object({})) }),
        response: { 201: ProfileSchema, ...errors },
      },
    },
    async (request, reply) => {
      const body = request.body as { name: string; settings?: object };
      const profile = await services.profiles.create(admin(request).orgId, body.name, body.settings ?? {}, actorOf(admin(request)));
      return reply.code(201).send(profileJson(profile));
    },
  );

  app.get(
    '/profiles/:name',
    { schema: { tags: ['admin'], summary: 'Show a profile', security, params: NameParams, response: { 200: ProfileSchema, ...errors } } },
    async (request) => profileJson(await services.profiles.get(admin(request).orgId, (request.params as { name: string }).name)),
  );

  app.patch(
    '/profiles/:name',
    {
      schema: {
        tags: ['admin'],
        summary: 'Change some settings of a profile',
        security,
        params: NameParams,
        body: Type.Object({ settings: Type.Object({}) }),
        response: { 200: ProfileSchema, ...errors },
      },
    },
    async (request) => {
      const { name } = request.params as { name: string };
      return profileJson(await services.profiles.update(admin(request).orgId, name, (request.body as { settings: object }).settings, actorOf(admin(request))));
    },
  );

  app.get(
    '/profiles/:name/credentials',
    { schema: { tags: ['admin'], summary: 'List the gateway credentials of a profile', security, params: NameParams, response: { 200: Type.Array(CredentialSchema), ...errors } } },
    async (request) => (await services.credentials.list(admin(request).orgId, (request.params as { name: string }).name)).map(credentialJson),
  );

  app.post(
    '/profiles/:name/credentials',
    {
      schema: {
        tags: ['admin'],
        summary: 'Provision a gateway for this profile: issue a credential and register its encryption-account administrator',
        security,
        params: NameParams,
        body: Type.Object({ adminEmail: Type.String({ minLength: 3, maxLength: 320 }) }),
        response: { 201: IssuedCredentialSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const issued = await services.credentials.provision(admin(request).orgId, name, (request.body as { adminEmail: string }).adminEmail);
      return reply.code(201).send({ credential: credentialJson(issued.credential), token: issued.token });
    },
  );

  app.post(
    '/credentials/:id/rotate',
    { schema: { tags: ['admin'], summary: 'Replace a credential with a new one and revoke the old', security, params: IdParams, response: { 201: IssuedCredentialSchema, ...errors } } },
    async (request, reply) => {
      const issued = await services.credentials.rotate(admin(request).orgId, (request.params as { id: string }).id);
      return reply.code(201).send({ credential: credentialJson(issued.credential), token: issued.token });
    },
  );

  app.post(
    '/credentials/:id/revoke',
    { schema: { tags: ['admin'], summary: 'Revoke a credential now', security, params: IdParams, response: { 200: CredentialSchema, ...errors } } },
    async (request) => credentialJson(await services.credentials.revoke(admin(request).orgId, (request.params as { id: string }).id)),
  );
}
