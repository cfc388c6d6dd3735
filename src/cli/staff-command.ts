import { parseArgs } from 'node:util';
import { loadAdminClientConfig } from '../config.ts';
import { createAdminClient } from './admin-client.ts';
import { CliError, writeLine, type CliIo } from './io.ts';

const FOOTER = '(talks to the key service at WAXSEAL_URL with WAXSEAL_ADMIN_TOKEN)';

const USERS_USAGE = `usage:
  waxseal users list                                  console users: id, email, role, invited|active
  waxseal users invite EMAIL --role ROLE [--locale LNG]
                                                      ROLE is admin or a custom role's name; LNG the mail's language
  waxseal users role ID_OR_EMAIL --role ROLE
  waxseal users remove ID_OR_EMAIL                    the last administrator cannot be removed
${FOOTER}`;

const ROLES_USAGE = `usage:
  waxseal roles list                                  custom roles: id, name, profiles, users
  waxseal roles create NAME --profile P [--profile P2]...
  waxseal roles set NAME_OR_ID [--name NEW] [--profile P]...
                                                      the profiles given replace the role's (none given: kept)
  waxseal roles delete NAME_OR_ID                     only a role nobody has
${FOOTER}`;

const ORG_USAGE = `usage:
  waxseal org show                                    the organisation's name and default envelope language
  waxseal org set [--name NAME] [--locale LNG]
${FOOTER}`;

interface User {
  id: string;
  email: string;
  role: string;
  invitedBy: string | null;
  firstSeenAt: string | null;
  lastSeenAt: string | null;
}

interface Role {
  id: string;
  name: string;
  profiles: string[];
  users: number;
}

interface Organisation {
  name: string;
  defaultLocale: string;
}

type Call = ReturnType<typeof createAdminClient>;

// The client is made only after the arguments are checked, so a usage slip is reported as one
// even where WAXSEAL_ADMIN_TOKEN is not set.
const connect = (io: CliIo): Call => createAdminClient(loadAdminClientConfig(io.env));
const userLine = (u: User) => [u.id, u.email, u.role, u.firstSeenAt === null ? 'invited' : 'active'].join('\t');
const roleLine = (r: Role) => [r.id, r.name, r.profiles.join(','), String(r.users)].join('\t');
const path = (base: string, id: string) => `${base}/${encodeURIComponent(id)}`;

function help(io: CliIo, usage: string): number {
  writeLine(io.stdout, usage);
  return 0;
}

/** The action's operands, exactly `count`: a stray word is more likely a slip than a wish. */
function operands(command: string, positionals: string[], count: number, what: string, usage: string): string[] {
  const rest = positionals.slice(1);
  if (rest.length !== count) throw new CliError(`waxseal ${command} ${positionals[0]}: ${what}\n${usage}`, 2);
  return rest;
}

async function findUser(call: Call, key: string): Promise<User> {
  const users = await call<User[]>('GET', '/users');
  // Addresses are stored normalised, so an address typed in another case is the same person.
  const user = users.find((u) => u.id === key) ?? users.find((u) => u.email.toLowerCase() === key.toLowerCase());
  if (!user) throw new CliError(`there is no console user "${key}" (see: waxseal users list)`);
  return user;
}

async function findRole(call: Call, key: string): Promise<Role> {
  const roles = await call<Role[]>('GET', '/roles');
  const role = roles.find((r) => r.name === key) ?? roles.find((r) => r.id === key);
  if (!role) throw new CliError(`there is no role "${key}" (see: waxseal roles list)`);
  return role;
}

/** `waxseal users ...`: console users and invitations. */
export async function usersCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { role: { type: 'string' }, locale: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return help(io, USERS_USAGE);
  const need = (count: number, what: string) => operands('users', positionals, count, what, USERS_USAGE);
  switch (positionals[0]) {
    case 'list': {
      need(0, 'takes no operands');
      for (const u of await connect(io)<User[]>('GET', '/users')) writeLine(io.stdout, userLine(u));
      return 0;
    }
    case 'invite': {
      const [email] = need(1, 'one email address and --role are needed');
      if (!values.role) throw new CliError(`waxseal users invite: --role is needed\n${USERS_USAGE}`, 2);
      const body = { email, role: values.role, ...(values.locale ? { locale: values.locale } : {}) };
      writeLine(io.stdout, userLine(await connect(io)<User>('POST', '/users', body)));
      return 0;
    }
    case 'role': {
      const [key] = need(1, 'one user (id or email) and --role are needed');
      if (!values.role) throw new CliError(`waxseal users role: --role is needed\n${USERS_USAGE}`, 2);
      const call = connect(io);
      const user = await findUser(call, key!);
      writeLine(io.stdout, userLine(await call<User>('PATCH', path('/users', user.id), { role: values.role })));
      return 0;
    }
    case 'remove': {
      const [key] = need(1, 'one user (id or email) is needed');
      const call = connect(io);
      const user = await findUser(call, key!);
      await call('DELETE', path('/users', user.id));
      writeLine(io.stdout, `removed ${user.email}`);
      return 0;
    }
    default:
      throw new CliError(USERS_USAGE, 2);
  }
}

/** `waxseal roles ...`: custom roles, each limited to some profiles (delegated administrators). */
export async function rolesCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { name: { type: 'string' }, profile: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return help(io, ROLES_USAGE);
  const need = (count: number, what: string) => operands('roles', positionals, count, what, ROLES_USAGE);
  switch (positionals[0]) {
    case 'list': {
      need(0, 'takes no operands');
      for (const r of await connect(io)<Role[]>('GET', '/roles')) writeLine(io.stdout, roleLine(r));
      return 0;
    }
    case 'create': {
      const [name] = need(1, 'one role name and at least one --profile are needed');
      if (!values.profile?.length) throw new CliError(`waxseal roles create: at least one --profile is needed\n${ROLES_USAGE}`, 2);
      writeLine(io.stdout, roleLine(await connect(io)<Role>('POST', '/roles', { name, profiles: values.profile })));
      return 0;
    }
    case 'set': {
      const [key] = need(1, 'one role (name or id) is needed');
      if (values.name === undefined && !values.profile?.length) throw new CliError(`waxseal roles set: give --name, --profile or both\n${ROLES_USAGE}`, 2);
      const call = connect(io);
      const role = await findRole(call, key!);
      // The API replaces name and profiles together; what was not given stays as it was.
      const body = { name: values.name ?? role.name, profiles: values.profile ?? role.profiles };
      writeLine(io.stdout, roleLine(await call<Role>('PUT', path('/roles', role.id), body)));
      return 0;
    }
    case 'delete': {
      const [key] = need(1, 'one role (name or id) is needed');
      const call = connect(io);
      const role = await findRole(call, key!);
      await call('DELETE', path('/roles', role.id));
      writeLine(io.stdout, `deleted role ${role.name}`);
      return 0;
    }
    default:
      throw new CliError(ROLES_USAGE, 2);
  }
}

/** `waxseal org ...`: the organisation's own settings. */
export async function orgCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { name: { type: 'string' }, locale: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return help(io, ORG_USAGE);
  const show = (o: Organisation) => writeLine(io.stdout, `name\t${o.name}\nlocale\t${o.defaultLocale}`);
  switch (positionals[0]) {
    case 'show':
      operands('org', positionals, 0, 'takes no operands', ORG_USAGE);
      show(await connect(io)<Organisation>('GET', '/organisation'));
      return 0;
    case 'set': {
      operands('org', positionals, 0, 'takes no operands, only --name and --locale', ORG_USAGE);
      if (values.name === undefined && values.locale === undefined) throw new CliError(`waxseal org set: give --name, --locale or both\n${ORG_USAGE}`, 2);
      const body = { ...(values.name === undefined ? {} : { name: values.name }), ...(values.locale === undefined ? {} : { defaultLocale: values.locale }) };
      show(await connect(io)<Organisation>('PATCH', '/organisation', body));
      return 0;
    }
    default:
      throw new CliError(ORG_USAGE, 2);
  }
}
