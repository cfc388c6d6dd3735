import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadAdminClientConfig } from '../config.ts';
import { createAdminClient } from './admin-client.ts';
import { CliError, writeLine, type CliIo } from './io.ts';

const USAGE = `usage:
  waxseal profile list
  waxseal profile show NAME
  waxseal profile create NAME [--set key=value]... [--settings FILE.json] [--logo FILE]
  waxseal profile set NAME [--set key=value]... [--settings FILE.json] [--logo FILE]
  waxseal profile provision NAME --admin-email ADDRESS
  waxseal profile credentials NAME
  waxseal profile rotate CREDENTIAL_ID
  waxseal profile revoke CREDENTIAL_ID
(talks to the key service at WAXSEAL_URL with WAXSEAL_ADMIN_TOKEN)`;

const LOGO_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif' };

/** `--set a.b=value`: value is JSON when it parses (numbers, booleans, null), else a string. */
export function applySet(target: Record<string, unknown>, assignment: string): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new CliError(`--set ${assignment}: expected key=value`);
  const keys = assignment.slice(0, eq).split('.');
  const raw = assignment.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  let node = target;
  for (const k of keys.slice(0, -1)) {
    if (typeof node[k] !== 'object' || node[k] === null) node[k] = {};
    node = node[k] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

async function settingsFrom(values: { set?: string[]; settings?: string; logo?: string }): Promise<Record<string, unknown>> {
  let settings: Record<string, unknown> = {};
  if (values.settings) {
    try {
      settings = JSON.parse(await fs.readFile(values.settings, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new CliError(`--settings ${values.settings}: ${(err as Error).message}`);
    }
  }
  for (const s of values.set ?? []) applySet(settings, s);
  if (values.logo) {
    const mediaType = LOGO_TYPES[path.extname(values.logo).toLowerCase()];
    if (!mediaType) throw new CliError('--logo must be a .png, .jpg or .gif file');
    settings.logo = { mediaType, dataBase64: (await fs.readFile(values.logo)).toString('base64') };
  }
  return settings;
}

export async function profileCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      set: { type: 'string', multiple: true },
      settings: { type: 'string' },
      logo: { type: 'string' },
      'admin-email': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [action, name] = positionals;
  if (values.help || !action) {
    writeLine(io.stdout, USAGE);
    return values.help ? 0 : 2;
  }
  const call = createAdminClient(loadAdminClientConfig(io.env));
  const need = (what: string) => {
    if (!name) throw new CliError(`waxseal profile ${action}: missing ${what}\n${USAGE}`, 2);
    return encodeURIComponent(name);
  };
  const print = (v: unknown) => writeLine(io.stdout, JSON.stringify(v, null, 2));
  switch (action) {
    case 'list': {
      const list = await call<{ name: string; settings: { securityLevel: string; algorithm: string } }[]>('GET', '/profiles');
      for (const p of list) writeLine(io.stdout, `${p.name}\t${p.settings.securityLevel}\t${p.settings.algorithm}`);
      return 0;
    }
    case 'show':
      print(await call('GET', `/profiles/${need('NAME')}`));
      return 0;
    case 'create':
      need('NAME');
      print(await call('POST', '/profiles', { name, settings: await settingsFrom(values) }));
      return 0;
    case 'set':
      print(await call('PATCH', `/profiles/${need('NAME')}`, { settings: await settingsFrom(values) }));
      return 0;
    case 'provision': {
      const email = values['admin-email'];
      if (!email) throw new CliError('waxseal profile provision: --admin-email is required (the gateway\'s encryption-account administrator)', 2);
      const issued = await call<{ token: string; credential: { id: string } }>('POST', `/profiles/${need('NAME')}/credentials`, { adminEmail: email });
      writeLine(io.stderr, `Provisioned credential ${issued.credential.id} for profile "${name}". It is shown once; give it to the gateway as WAXSEAL_CREDENTIAL:`);
      writeLine(io.stdout, issued.token);
      return 0;
    }
    case 'credentials':
      print(await call('GET', `/profiles/${need('NAME')}/credentials`));
      return 0;
    case 'rotate': {
      const issued = await call<{ token: string; credential: { id: string } }>('POST', `/credentials/${need('CREDENTIAL_ID')}/rotate`);
      writeLine(io.stderr, `Credential ${name} is revoked; the new one is ${issued.credential.id}:`);
      writeLine(io.stdout, issued.token);
      return 0;
    }
    case 'revoke':
      print(await call('POST', `/credentials/${need('CREDENTIAL_ID')}/revoke`));
      return 0;
    default:
      throw new CliError(`waxseal profile: unknown action "${action}"\n${USAGE}`, 2);
  }
}
