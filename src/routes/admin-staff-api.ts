import Type from 'typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../domain/errors.ts';
import type { Staff, StaffRole, StaffUser } from '../domain/staff/staff-service.ts';
import { actorOf } from '../domain/staff/staff-service.ts';
import type { Services } from '../services.ts';
import { requireBearer } from './auth.ts';
import { checkLogo, LOGO_MAX_BYTES } from './console-logo.ts';
import { problemRef } from './schemas.ts';

const security = [{ adminToken: [] }];
const errors = { 400: problemRef, 401: problemRef, 404: problemRef, 409: problemRef, 422: problemRef };
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }) });
const RoleBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }), profiles: Type.Array(Type.String({ minLength: 1, maxLength: 63 }), { minItems: 1, maxItems: 1000 }) });
/** 'admin', or the name of a custom role */
const RoleName = Type.String({ minLength: 1, maxLength: 64, description: "'admin', or the name of a custom role (a delegated administrator)" });
const iso = (d: Date | null) => d?.toISOString() ?? null;
const NullableDate = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

const UserSchema = Type.Object({ id: Type.String(), email: Type.String(), role: Type.String(), invitedBy: Type.Union([Type.String(), Type.Null()]), firstSeenAt: NullableDate, lastSeenAt: NullableDate });
const RoleSchema = Type.Object({ id: Type.String(), name: Type.String(), profiles: Type.Array(Type.String()), users: Type.Integer() });
const OrgSchema = Type.Object({ name: Type.String(), defaultLocale: Type.String() });

const userJson = (u: StaffUser) => ({ id: u.id, email: u.email, role: u.role === 'admin' ? 'admin' : (u.roleName ?? ''), invitedBy: u.invitedBy, firstSeenAt: iso(u.firstSeenAt), lastSeenAt: iso(u.lastSeenAt) });
const roleJson = (r: StaffRole) => ({ id: r.id, name: r.name, profiles: r.profileNames, users: r.userCount });

/**
 * The console's organisation operations for administrator tokens: organisation settings, users
 * and invitations, custom roles, and a profile's logo as an image upload.
 */
export async function adminStaffApiRoutes(app: FastifyInstance, opts: { services: Services }): Promise<void> {
  const { services } = opts;
  const admin = requireBearer(app, (token) => services.admins.authenticate(token));
  const staff = (request: FastifyRequest): Staff => ({ orgId: admin(request).orgId, email: admin(request).email, role: 'admin', profileIds: null });

  async function roleByName(by: Staff, name: string) {
    if (name === 'admin') return { kind: 'admin' } as const;
    const role = (await services.staff.listRoles(by)).find((r) => r.name === name);
    if (!role) throw new DomainError('invalid', `there is no role named "${name}"`);
    return { kind: 'role', roleId: role.id } as const;
  }
  async function profileIds(orgId: string, names: readonly string[]) {
    const profiles = await services.profiles.list(orgId);
    return names.map((n) => {
      const p = profiles.find((x) => x.name === n);
      if (!p) throw new DomainError('invalid', `there is no profile named "${n}"`);
      return p.id;
    });
  }

  app.get('/organisation', { schema: { tags: ['admin'], summary: "The organisation's settings", security, response: { 200: OrgSchema, ...errors } } }, async (request) => {
    const org = await services.staff.organisation(admin(request).orgId);
    return { name: org.name, defaultLocale: org.defaultLocale };
  });

  app.patch(
    '/organisation',
    { schema: { tags: ['admin'], summary: "Change the organisation's name or default envelope language", security, body: Type.Object({ name: Type.Optional(Type.String({ maxLength: 200 })), defaultLocale: Type.Optional(Type.String({ maxLength: 10 })) }), response: { 200: OrgSchema, ...errors } } },
    async (request) => {
      const by = staff(request);
      const body = request.body as { name?: string; defaultLocale?: string };
      const org = await services.staff.organisation(by.orgId);
      await services.staff.updateOrganisation(by, { name: body.name ?? org.name, defaultLocale: body.defaultLocale ?? org.defaultLocale });
      const now = await services.staff.organisation(by.orgId);
      return { name: now.name, defaultLocale: now.defaultLocale };
    },
  );

  app.get('/users', { schema: { tags: ['admin'], summary: 'Console users and pending invitations', security, response: { 200: Type.Array(UserSchema), ...errors } } }, async (request) =>
    (await services.staff.listUsers(staff(request))).map(userJson),
  );

  app.post(
    '/users',
    { schema: { tags: ['admin'], summary: 'Invite someone to the console (they get a mail; access follows their verified address)', security, body: Type.Object({ email: Type.String({ minLength: 3, maxLength: 320 }), role: RoleName, locale: Type.Optional(Type.String({ maxLength: 10 })) }), response: { 201: UserSchema, ...errors } } },
    async (request, reply) => {
      const by = staff(request);
      const body = request.body as { email: string; role: string; locale?: string };
      const org = await services.staff.organisation(by.orgId);
      const { id } = await services.staff.invite(by, { email: body.email, role: await roleByName(by, body.role), locale: body.locale ?? org.defaultLocale });
      const user = (await services.staff.listUsers(by)).find((u) => u.id === id)!;
      return reply.code(201).send(userJson(user));
    },
  );

  app.patch('/users/:id', { schema: { tags: ['admin'], summary: "Change a console user's role", security, params: IdParams, body: Type.Object({ role: RoleName }), response: { 200: UserSchema, ...errors } } }, async (request) => {
    const by = staff(request);
    const { id } = request.params as { id: string };
    await services.staff.setRole(by, id, await roleByName(by, (request.body as { role: string }).role));
    return userJson((await services.staff.listUsers(by)).find((u) => u.id === id)!);
  });

  app.delete('/users/:id', { schema: { tags: ['admin'], summary: 'Remove a console user (the last administrator cannot be removed)', security, params: IdParams, response: { 204: Type.Null(), ...errors } } }, async (request, reply) => {
    await services.staff.remove(staff(request), (request.params as { id: string }).id);
    return reply.code(204).send();
  });

  app.get('/roles', { schema: { tags: ['admin'], summary: 'Custom roles and the profiles each may use', security, response: { 200: Type.Array(RoleSchema), ...errors } } }, async (request) =>
    (await services.staff.listRoles(staff(request))).map(roleJson),
  );

  app.post('/roles', { schema: { tags: ['admin'], summary: 'Create a custom role limited to some profiles', security, body: RoleBody, response: { 201: RoleSchema, ...errors } } }, async (request, reply) => {
    const by = staff(request);
    const body = request.body as { name: string; profiles: string[] };
    const { id } = await services.staff.saveRole(by, { name: body.name, profileIds: await profileIds(by.orgId, body.profiles) });
    return reply.code(201).send(roleJson((await services.staff.listRoles(by)).find((r) => r.id === id)!));
  });

  app.put('/roles/:id', { schema: { tags: ['admin'], summary: "Change a role's name and profiles", security, params: IdParams, body: RoleBody, response: { 200: RoleSchema, ...errors } } }, async (request) => {
    const by = staff(request);
    const body = request.body as { name: string; profiles: string[] };
    const { id } = await services.staff.saveRole(by, { id: (request.params as { id: string }).id, name: body.name, profileIds: await profileIds(by.orgId, body.profiles) });
    return roleJson((await services.staff.listRoles(by)).find((r) => r.id === id)!);
  });

  app.delete('/roles/:id', { schema: { tags: ['admin'], summary: 'Delete a role no user has', security, params: IdParams, response: { 204: Type.Null(), ...errors } } }, async (request, reply) => {
    await services.staff.deleteRole(staff(request), (request.params as { id: string }).id);
    return reply.code(204).send();
  });

  // The logo arrives as the image itself; its type is read from its bytes (checkLogo).
  app.addContentTypeParser(['image/png', 'image/jpeg', 'image/gif'], { parseAs: 'buffer', bodyLimit: LOGO_MAX_BYTES + 1 }, (_request, body, done) => done(null, body));
  app.put(
    '/profiles/:name/logo',
    {
      bodyLimit: LOGO_MAX_BYTES + 1,
      schema: { tags: ['admin'], summary: "Upload a profile's logo (PNG, JPEG or GIF, at most 300,000 bytes) as the request body", security, params: NameParams, response: { 204: Type.Null(), ...errors } },
    },
    async (request, reply) => {
      const by = staff(request);
      const checked = checkLogo(Buffer.isBuffer(request.body) ? request.body : new Uint8Array());
      if (!checked.ok) throw new DomainError('invalid', checked.problem === 'size' ? `the logo is larger than ${LOGO_MAX_BYTES} bytes` : 'the logo must be a PNG, JPEG or GIF image');
      await services.profiles.update(by.orgId, (request.params as { name: string }).name, { logo: { mediaType: checked.mediaType, dataBase64: (request.body as Buffer).toString('base64') } }, actorOf(by));
      return reply.code(204).send();
    },
  );
}
