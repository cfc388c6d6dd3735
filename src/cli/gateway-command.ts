import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { readCredential, startGateway, statusFile, type GatewayStatus } from '../gateway/gateway-runtime.ts';
import { formatConfigErrors, parseGatewayConfig, type GatewayConfig } from '../gateway/policy/policy-config.ts';
import { CliError, writeLine, type CliIo } from './io.ts';

const USAGE = `usage:
  waxseal gateway check FILE       check a gateway configuration; every problem with its line
  waxseal gateway run FILE         run the content filter (stops on SIGTERM or SIGINT)
  waxseal gateway status FILE      versions, profiles, destination TLS cache and queue figures`;

function load(file: string | undefined, io: CliIo): GatewayConfig {
  if (!file) throw new CliError(USAGE, 2);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const result = parseGatewayConfig(text);
  if (!result.ok) {
    writeLine(io.stderr, formatConfigErrors(file, result.errors));
    throw new CliError(`${file}: ${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}; nothing was started`);
  }
  return result.config;
}

/** `waxseal gateway ...`: the sealing gateway beside the organisation's MTA (docs/gateway.md). */
export async function gatewayCommand(args: string[], io: CliIo, signals: { wait(): Promise<void> } = { wait: waitForSignal }): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const [sub, file] = positionals;
  switch (sub) {
    case 'check': {
      const config = load(file, io);
      // The credentials must be there too: a gateway that cannot authenticate seals nothing.
      for (const [name, source] of Object.entries(config.profiles)) {
        try {
          readCredential(name, source, io.env);
        } catch (err) {
          throw new CliError((err as Error).message);
        }
      }
      writeLine(io.stdout, `${file}: ok (${config.rules.length} rule${config.rules.length === 1 ? '' : 's'}, ${Object.keys(config.profiles).length} profile${Object.keys(config.profiles).length === 1 ? '' : 's'})`);
      return 0;
    }
    case 'run': {
      const config = load(file, io);
      const log = pino({ level: io.env['LOG_LEVEL'] ?? 'info' });
      const gateway = await startGateway(config, { env: io.env, log }).catch((err: Error) => {
        throw new CliError(err.message);
      });
      log.info({ listen: `${config.listen.host}:${gateway.port}`, reinject: config.reinject }, 'gateway listening');
      await signals.wait();
      await gateway.close();
      return 0;
    }
    case 'status': {
      const config = load(file, io);
      let status: GatewayStatus;
      try {
        status = JSON.parse(readFileSync(statusFile(config.spool), 'utf8')) as GatewayStatus;
      } catch {
        throw new CliError(`no status in ${statusFile(config.spool)}: is the gateway running with this configuration?`);
      }
      writeLine(io.stdout, formatStatus(status));
      return 0;
    }
    default:
      throw new CliError(USAGE, 2);
  }
}

function formatStatus(s: GatewayStatus): string {
  const lines = [
    `gateway on ${s.listen}, started ${s.startedAt}, status written ${s.updatedAt}`,
    `writes envelope format ${s.writes.envelope}, opening page ${s.writes.securedoc}`,
    '',
    'profiles:',
    ...s.profiles.map(
      (p) =>
        `  ${p.name}: ${p.reachable ? 'key service reachable' : 'key service NOT reachable'}${p.checkedAt ? ` (checked ${p.checkedAt})` : ''}` +
        `${p.versions ? `, key service uses envelope ${p.versions.envelope} / opening page ${p.versions.securedoc}` : ''}` +
        `${p.queueTimeoutSeconds !== null ? `, queue timeout ${p.queueTimeoutSeconds} s` : ''}`,
    ),
    '',
    'destination TLS (learnt from the destinations):',
    ...(s.tls.length ? s.tls.map((e) => `  ${e.domain}: ${e.offersTls ? 'offers TLS' : 'no TLS'} (${e.host ?? 'no answer'}, ${e.checkedAt})`) : ['  (none asked yet)']),
    '',
    `queue: ${s.waiting} waiting; handed back ${s.counts.passed} unchanged, ${s.counts.delivered} encrypted or over TLS; ${s.counts.notified} failure notices; ${s.counts.repeated ?? 0} handed again after they were done; ${s.counts.deferred} deferrals; ${s.counts.error} errors`,
  ];
  return lines.join('\n');
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
}
