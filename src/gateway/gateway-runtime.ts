import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { createTemplateCache } from '../envelope/template-cache.ts';
import { createI18n } from '../i18n/create-i18n.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../paths.ts';
import { envelopeFileScriptCache } from '../reader/bundle.ts';
import { createTlsProbe, type TlsProbeEntry } from './destinations/tls-probe.ts';
import { startFilterServer } from './filter/filter-server.ts';
import { openJournal } from './filter/journal.ts';
import { processMessage, type Outcome, type ProfileHandle } from './filter/process-message.ts';
import { createReinjector } from './filter/reinject.ts';
import { createKeyServiceClient, type GatewayProfileInfo } from './key-client.ts';
import { createDecide } from './policy/decide.ts';
import type { DestinationTls, GatewayConfig } from './policy/policy-config.ts';
import { ProfileError } from './seal.ts';

/** The envelope format and opening-page versions this gateway writes. */
export const GATEWAY_VERSIONS = { envelope: 1, securedoc: 1 } as const;

export interface GatewayStatus {
  startedAt: string;
  updatedAt: string;
  listen: string;
  profiles: { name: string; reachable: boolean; checkedAt: string | null; versions: GatewayProfileInfo['versions'] | null; queueTimeoutSeconds: number | null }[];
  writes: typeof GATEWAY_VERSIONS;
  tls: TlsProbeEntry[];
  counts: Record<'passed' | 'delivered' | 'notified' | 'repeated' | 'deferred' | 'error', number>;
  /** messages seen but not finished (waiting for the key service or the MTA) */
  waiting: number;
}

export interface RunningGateway {
  port: number;
  status(): GatewayStatus;
  close(): Promise<void>;
}

// How long a profile's description from the key service is used before asking again.
const PROFILE_REFRESH_MS = 60_000;

/** Where `waxseal gateway status` reads what a running gateway last wrote. */
export function statusFile(spool: string): string {
  return path.join(spool, 'status.json');
}

/** A profile's gateway credential, from its file or environment variable. */
export function readCredential(profile: string, source: GatewayConfig['profiles'][string], env: Record<string, string | undefined>): string {
  if (source.credentialEnv) {
    const value = env[source.credentialEnv]?.trim();
    if (!value) throw new ProfileError(`the credential of profile "${profile}" should be in ${source.credentialEnv}, which is not set`);
    return value;
  }
  try {
    return readFileSync(source.credentialFile!, 'utf8').trim();
  } catch (err) {
    throw new ProfileError(`the credential of profile "${profile}" cannot be read from ${source.credentialFile}: ${(err as Error).message}`);
  }
}

/** The TLS setting for a destination domain: exact, then the closest ".parent" entry, then the default. */
export function destinationSetting(destinations: GatewayConfig['destinations'], domain: string): DestinationTls {
  const d = domain.toLowerCase();
  if (Object.hasOwn(destinations.domains, d)) return destinations.domains[d]!;
  for (let i = d.indexOf('.'); i !== -1; i = d.indexOf('.', i + 1)) {
    const suffix = d.slice(i);
    if (Object.hasOwn(destinations.domains, suffix)) return destinations.domains[suffix]!;
  }
  return destinations.default;
}

/**
 * Starts the gateway: the content filter on `listen`, handing messages back to the MTA's
 * `reinject` ports, sealing through the key service (directly or through the proxy). It learns
 * each profile and the key service's envelope and opening-page versions at start and every
 * minute; a key service that wants a newer format than this gateway writes gets nothing sealed
 * (messages wait, then fail with a notice) rather than envelopes it would not accept.
 */
export async function startGateway(config: GatewayConfig, deps: { env: Record<string, string | undefined>; log: Logger; now?: () => Date }): Promise<RunningGateway> {
  const now = deps.now ?? (() => new Date());
  const i18n = createI18n(LOCALES_DIR);
  const journal = openJournal(config.spool, { now });
  const probe = createTlsProbe({ cacheTtlMs: config.tlsProbe.cacheTtlMs, static: config.tlsProbe.static, now });
  const reinject = createReinjector({ host: config.reinject.host, port: config.reinject.port });
  const reinjectTls = createReinjector({ host: config.reinject.host, port: config.reinject.tlsPort });
  const counts: GatewayStatus['counts'] = { passed: 0, delivered: 0, notified: 0, repeated: 0, deferred: 0, error: 0 };
  const startedAt = now();

  const profiles = new Map<string, ProfileHandle & { known: GatewayProfileInfo | null; checkedAt: Date | null; reachable: boolean }>();
  for (const [name, source] of Object.entries(config.profiles)) {
    const client = createKeyServiceClient({ url: config.keyService.url, credential: readCredential(name, source, deps.env), proxy: config.keyService.proxy, attempts: 2, timeoutMs: 30_000 });
    const handle = {
      client,
      known: null as GatewayProfileInfo | null,
      checkedAt: null as Date | null,
      reachable: false,
      async info() {
        if (handle.checkedAt && now().getTime() - handle.checkedAt.getTime() < PROFILE_REFRESH_MS && handle.known) return handle.known;
        try {
          const info = await client.getProfile();
          if (info.versions.envelope > GATEWAY_VERSIONS.envelope || info.versions.securedoc > GATEWAY_VERSIONS.securedoc) {
            deps.log.error({ profile: name, wants: info.versions, writes: GATEWAY_VERSIONS }, 'the key service expects a newer envelope format; update the gateway');
            throw new ProfileError(`the key service expects envelope format ${info.versions.envelope} and opening page ${info.versions.securedoc}; this gateway writes ${GATEWAY_VERSIONS.envelope} and ${GATEWAY_VERSIONS.securedoc}`);
          }
          handle.known = info;
          handle.reachable = true;
        } catch (err) {
          if (err instanceof ProfileError) throw err;
          handle.reachable = false;
          deps.log.warn({ profile: name, reason: (err as Error).message }, 'key service not reachable; using the profile as last seen');
        }
        handle.checkedAt = now();
        return handle.known;
      },
    };
    profiles.set(name, handle);
  }
  // Learn every profile at start: a wrong credential shows in the log at once, not at the first message.
  await Promise.all([...profiles.values()].map((p) => p.info().catch(() => null)));

  const decide = createDecide(config.rules);
  const envelopeFileScript = envelopeFileScriptCache();
  const templates = createTemplateCache({ i18n, views: VIEWS_DIR });
  const server = await startFilterServer({
    host: config.listen.host,
    port: config.listen.port,
    maxBytes: config.maxMessageBytes,
    log: deps.log,
    process: (message) =>
      processMessage(message, {
        decide,
        profile: (name) => profiles.get(name) ?? null,
        tls: { setting: (domain) => destinationSetting(config.destinations, domain), offersTls: (domain) => probe.offersTls(domain) },
        reinject,
        reinjectTls,
        journal,
        seal: { i18n, views: VIEWS_DIR, envelopeFileScript, templates },
        postmaster: config.postmaster,
        now,
      }),
    onOutcome(outcome: Outcome | { kind: 'deferred' | 'error' }) {
      counts[outcome.kind] += 1;
    },
  });

  const status = (): GatewayStatus => ({
    startedAt: startedAt.toISOString(),
    updatedAt: now().toISOString(),
    listen: `${config.listen.host}:${server.port}`,
    profiles: [...profiles.entries()].map(([name, p]) => ({
      name,
      reachable: p.reachable,
      checkedAt: p.checkedAt?.toISOString() ?? null,
      versions: p.known?.versions ?? null,
      queueTimeoutSeconds: p.known?.profile.settings.queueTimeoutSeconds ?? null,
    })),
    writes: GATEWAY_VERSIONS,
    tls: probe.snapshot(),
    counts: { ...counts },
    waiting: journal.waiting(),
  });
  const writeStatus = () => {
    const file = statusFile(config.spool);
    // Written whole and renamed, so `gateway status` never reads half a file.
    writeFileSync(`${file}.tmp`, `${JSON.stringify(status(), null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
  };
  writeStatus();
  const timer = setInterval(writeStatus, 5_000);
  timer.unref();

  return {
    port: server.port,
    status,
    async close() {
      clearInterval(timer);
      await server.close();
      reinject.close();
      reinjectTls.close();
      journal.close();
      writeStatus();
    },
  };
}
