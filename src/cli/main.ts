import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { addKeyToFile } from '../crypto/kek.ts';
import type { openRuntime } from '../runtime.ts';
import { CliError, writeLine, type CliIo } from './io.ts';
import { gatewayCommand } from './gateway-command.ts';
import { messagesCommand } from './messages-command.ts';
import { profileCommand } from './profile-command.ts';
import { sealCommand } from './seal-command.ts';
import { orgCommand, rolesCommand, usersCommand } from './staff-command.ts';

const USAGE = `waxseal — registered-envelope email encryption

  waxseal migrate                         apply database migrations (also done at start)
  waxseal admin init --org NAME --email ADDRESS
                                          create the first organisation and administrator
  waxseal profile ...                     encryption profiles and gateway credentials (see: waxseal profile --help)
  waxseal kek status                      which key-encryption key wraps how many shares
  waxseal kek add                         add a new key version to the key file (then: rewrap)
  waxseal kek rewrap [--batch N]          re-wrap every share under the current key, N per transaction
  waxseal messages list|lock|unlock ...   the organisation's messages (see: waxseal messages --help)
  waxseal users list|invite|role|remove   console users and invitations (see: waxseal users --help)
  waxseal roles list|create|set|delete    custom roles limited to some profiles (see: waxseal roles --help)
  waxseal org show|set                    the organisation's name and default language (see: waxseal org --help)
  waxseal gateway check|run|status FILE   the sealing gateway beside the MTA (see docs/gateway.md)
  waxseal audit verify                    recompute the audit record's hash chain; exit 1 if a record was changed
  waxseal seal --profile NAME < in.eml > out.eml
                                          seal one message into a securedoc.html envelope

Database and key commands read the key service's environment (DATA_DIR, DATABASE_URL, WAXSEAL_KEK...).`;

/** Runs one command; returns the exit code. Errors a user can act on are printed, not thrown. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'migrate':
        return await withRuntime(io, async (rt) => {
          writeLine(io.stdout, rt.migrated.length ? `applied migrations ${rt.migrated.join(', ')}` : 'the database is up to date');
          return 0;
        });
      case 'admin':
        return await adminCommand(rest, io);
      case 'profile':
        return await profileCommand(rest, io);
      case 'kek':
        return await kekCommand(rest, io);
      case 'seal':
        return await sealCommand(rest, io);
      case 'audit':
        return await auditCommand(rest, io);
      case 'gateway':
        return await gatewayCommand(rest, io);
      case 'messages':
        return await messagesCommand(rest, io);
      case 'users':
        return await usersCommand(rest, io);
      case 'roles':
        return await rolesCommand(rest, io);
      case 'org':
        return await orgCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        writeLine(io.stdout, USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new CliError(`unknown command "${command}"\n\n${USAGE}`, 2);
    }
  } catch (err) {
    if (err instanceof CliError) {
      writeLine(io.stderr, `waxseal: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof Error && (err.name === 'ConfigError' || err.name === 'KeyRingError')) {
      writeLine(io.stderr, `waxseal: configuration error: ${err.message}`);
      return 78;
    }
    if (err instanceof Error && err.name === 'DatabaseInUseError') {
      writeLine(io.stderr, `waxseal: ${err.message}`);
      return 75;
    }
    if (err instanceof Error && err.name === 'TypeError' && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      writeLine(io.stderr, `waxseal: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

async function withRuntime(io: CliIo, fn: (rt: Awaited<ReturnType<typeof openRuntime>>) => Promise<number>): Promise<number> {
  // Loaded here rather than at the top: `waxseal gateway run` and the commands that talk to the
  // key service over HTTP never open the database, and its modules (the embedded engine, the
  // services, the list of common passphrases) would cost a long-running gateway ~20 MB.
  const { openRuntime } = await import('../runtime.ts');
  const rt = await openRuntime(loadConfig(io.env));
  try {
    if (rt.kekCreated) writeLine(io.stderr, 'created a new key-encryption key file in the data folder; back it up apart from the database');
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

async function adminCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { org: { type: 'string' }, email: { type: 'string' } } });
  if (positionals[0] !== 'init') throw new CliError('usage: waxseal admin init --org NAME --email ADDRESS', 2);
  if (!values.org || !values.email) throw new CliError('waxseal admin init: --org and --email are required', 2);
  const { org, email } = values;
  return withRuntime(io, async (rt) => {
    const r = await rt.services.admins.initialise({ organisation: org, email }).catch((err: Error & { code?: string }) => {
      throw err.name === 'DomainError' ? new CliError(err.message) : err;
    });
    writeLine(io.stderr, `Created organisation "${org}" and administrator ${email}. The administrator token is shown once; use it as WAXSEAL_ADMIN_TOKEN:`);
    writeLine(io.stdout, r.token);
    return 0;
  });
}

async function auditCommand(args: string[], io: CliIo): Promise<number> {
  if (args[0] !== 'verify' || args.length > 1) throw new CliError('usage: waxseal audit verify', 2);
  return withRuntime(io, async (rt) => {
    const verdict = await rt.services.audit.verify();
    if (!verdict.ok) {
      writeLine(io.stderr, `waxseal: the audit record is NOT intact: ${verdict.problem} (${verdict.records} records before it are intact)`);
      return 1;
    }
    // The head hash, kept somewhere else (a ticket, a printout), also shows a chain rewritten whole.
    writeLine(io.stdout, `the audit record is intact: ${verdict.records} records, head ${verdict.head}`);
    return 0;
  });
}

async function kekCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { batch: { type: 'string' } } });
  const config = loadConfig(io.env);
  switch (positionals[0]) {
    case 'add': {
      if (config.kek.source !== 'file') throw new CliError('the keys come from WAXSEAL_KEK: add "N:<base64 key>" there, restart, then run `waxseal kek rewrap`');
      const v = await addKeyToFile(config.kek.path);
      writeLine(io.stdout, `added key version ${v} to ${config.kek.path}; restart the key service, then run \`waxseal kek rewrap\``);
      return 0;
    }
    case 'status':
      return withRuntime(io, async (rt) => {
        const s = await rt.services.envelopes.kekStatus();
        writeLine(io.stdout, `current key version: ${s.currentVersion}`);
        for (const row of s.shares) writeLine(io.stdout, `version ${row.version}: ${row.count} shares`);
        return 0;
      });
    case 'rewrap': {
      const batch = Number(values.batch ?? '500');
      if (!Number.isInteger(batch) || batch < 1 || batch > 100_000) throw new CliError('--batch must be a whole number from 1 to 100000', 2);
      return withRuntime(io, async (rt) => {
        let total = 0;
        for (;;) {
          const n = await rt.services.envelopes.rewrapBatch(batch);
          total += n;
          if (n < batch) break;
        }
        writeLine(io.stdout, `re-wrapped ${total} shares under key version ${rt.keyRing.currentVersion}`);
        return 0;
      });
    }
    default:
      throw new CliError('usage: waxseal kek status | add | rewrap [--batch N]', 2);
  }
}
