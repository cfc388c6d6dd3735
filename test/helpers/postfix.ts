import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/**
 * A private Postfix for integration tests: the gateway runs as an after-queue content filter
 * (FILTER_README's "advanced" set-up), so its tests need a real Postfix in front of and behind it.
 *
 *   startPostfix({ relay, transports?, contentFilter?, queueLifetime?, extraMain? }) → PostfixHarness
 *
 * - `port`: where tests submit mail. With `contentFilter` set, Postfix queues the mail and hands
 *   it to the filter (`content_filter = filter:[host]:port`); otherwise it routes it itself.
 * - `reinjectPort`: where the filter hands mail back (`content_filter` empty on that smtpd, as
 *   FILTER_README says), delivered with `smtp_tls_security_level = may`.
 * - `tlsReinjectPort`: like `reinjectPort`, but what enters there leaves only over TLS
 *   (`encrypt`); without STARTTLS at the next hop it stays deferred, then bounces.
 * - Routing, for all three: `transports` (recipient domain → next hop, a texthash: transport map,
 *   so no postmap) first, then `relayhost = [relay.host]:relay.port` for everything else. Nothing
 *   is delivered locally (mydestination is empty).
 *
 * Why `tlsReinjectPort` is a second Postfix instance and not an smtpd `-o` on the first one:
 * Postfix picks a message's transport in the queue manager, through trivial-rewrite, from
 * main.cf alone. `-o default_transport=smtptls` on an smtpd reaches that smtpd only, so it
 * changes nothing; and transport_maps (needed for per-domain next hops) outranks
 * default_transport anyway. The one per-message routing knob, a content_filter/FILTER record,
 * takes a single next hop for the whole message, or with none the bare recipient domain
 * (looked up in DNS, ignoring transport_maps and relayhost). So a second instance, whose every
 * smtp transport is pinned with `-o smtp_tls_security_level=encrypt -o smtp_tls_policy_maps=`
 * in master.cf (which outranks main.cf and extraMain), routes with the same transport map and
 * relayhost and cannot send in clear. Its bounces and delay notices are the exception they must
 * be: they are handed back (by a FILTER on the cleanup that only the bounce daemons use) to the
 * first instance's reinjectPort, so a sender behind a sink without TLS still gets them.
 *
 * Facts learnt on this machine (Debian Postfix 3.7, tests run as root):
 * - Run as root, `postfix -c DIR`, `postqueue -c DIR` and the daemons accept a configuration
 *   directory that is NOT listed in alternate_config_directories (root is trusted, see
 *   mail_conf.c): the default /etc/postfix/main.cf needs no edit and none is made here.
 * - `maillog_file_prefixes` is read from the instance's own main.cf; when maillog_file is
 *   outside it, `postfix check`/`start` exit 1 and print nothing (the complaint goes to the
 *   log it may not write), which is the "silent exit 1" that DESIGN.md reports.
 * - `postfix check` warns unless the config directory tree is root-owned and not group/world
 *   writable, so the queue and data directories live beside it, not inside it.
 * - Postfix sleeps in 300 ms steps before reading a config file modified in the current second;
 *   freshly written files cost about 2 s per start, so they are backdated.
 * - The master listens with SO_REUSEPORT: two instances given the same port both start, and
 *   the kernel shares connections between them. startInstance checks the port is ours alone.
 * - PID 1 of this sandbox does not reap orphans, so a stopped master can linger as a zombie;
 *   "running" here means alive and not in state Z.
 */

/** Where every harness lives; one folder, so a crashed run's leftovers can be found and stopped. */
export const POSTFIX_TEST_BASE = '/tmp/waxseal-postfix';

const INSTALL_HINT = 'install it with: DEBIAN_FRONTEND=noninteractive apt-get install -y postfix';

export interface Hop {
  host: string;
  port: number;
}

export interface PostfixOptions {
  /** Where Postfix delivers everything that no `transports` entry claims (a sink in a test). */
  relay: Hop;
  /** Recipient domain → next hop (`.example.test` also covers subdomains, as transport(5) says). */
  transports?: Record<string, Hop>;
  /** An after-queue content filter (the gateway under test); null or absent: none. */
  contentFilter?: Hop | null;
  /** How many deliveries to the content filter run at once (its transport's maxproc; default 4). */
  filterProcesses?: number;
  /**
   * maximal_queue_lifetime and bounce_queue_lifetime, e.g. '1h' (the default) or '0', which
   * makes Postfix bounce after the first failed attempt (for tests of "retry, then bounce").
   */
  queueLifetime?: string;
  /** More main.cf settings for both instances, applied last (they win over the defaults). */
  extraMain?: Record<string, string>;
}

export interface QueuedMessage {
  /** Which instance holds it: 'main' (port, reinjectPort) or 'tls' (tlsReinjectPort). */
  instance: 'main' | 'tls';
  queue_name: string;
  queue_id: string;
  sender: string;
  recipients: { address: string; delay_reason?: string }[];
}

export interface PostfixHarness {
  /** smtpd where tests submit mail (goes through contentFilter when one is set). */
  port: number;
  /** smtpd with content_filter empty, for the filter to hand mail back; delivers with TLS `may`. */
  reinjectPort: number;
  /** Like reinjectPort, but delivers only over TLS (`encrypt`): without STARTTLS it defers. */
  tlsReinjectPort: number;
  /** The harness folder (main/ and tls/, each with conf/, queue/, data/, maillog). */
  dir: string;
  /** Every message in either instance's queue (`postqueue -j`). */
  queue(): Promise<QueuedMessage[]>;
  /** The queue ids of queue(). */
  queueIds(): Promise<string[]>;
  /** `postqueue -f` on both instances: retry deferred mail now, whatever the backoff. */
  flush(): Promise<void>;
  /** Both instances' logs (each line names its instance through syslog_name). */
  log(): Promise<string>;
  /** Waits (bounded) until the log matches; returns the log. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Waits (bounded) until both queues are empty. */
  waitForEmptyQueue(timeoutMs?: number): Promise<void>;
  /** `postfix stop` both instances (then abort if needed) and remove the folder. Idempotent. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Availability

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Debian puts the commands in /usr/sbin, which a non-login PATH may lack. */
function sbin(command: string): string {
  for (const dir of ['/usr/sbin', '/usr/local/sbin', '/sbin', ...(process.env['PATH'] ?? '').split(':')]) {
    if (!dir) continue;
    const file = path.join(dir, command);
    if (isExecutable(file)) return file;
  }
  return command;
}

/**
 * Whether a private Postfix can run here. Tests that need one report the reason loudly when it
 * cannot (and fail under CI=true) instead of skipping quietly.
 */
export function postfixAvailable(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'it needs Linux' };
  const postfix = sbin('postfix');
  if (!isExecutable(postfix)) return { ok: false, reason: `Postfix is not installed (${INSTALL_HINT})` };
  // The master daemon must start as root (it binds ports and switches to the postfix user).
  if (process.getuid?.() !== 0) return { ok: false, reason: 'its master daemon must be started as root' };
  let daemonDir: string;
  try {
    daemonDir = execFileSync(sbin('postconf'), ['-h', 'daemon_directory'], { encoding: 'utf8' }).trim();
    execFileSync('id', ['-u', 'postfix'], { stdio: 'ignore' });
  } catch (error) {
    return { ok: false, reason: `Postfix is incomplete (${(error as Error).message.split('\n')[0]})` };
  }
  if (!isExecutable(path.join(daemonDir, 'master'))) {
    return { ok: false, reason: `${daemonDir}/master is missing (${INSTALL_HINT})` };
  }
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// Small tools

function run(file: string, args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr: stderr || (error && !stdout ? error.message : '') });
    });
  });
}

/** Polls `probe` until it returns something other than undefined/false; bounded by `timeoutMs`. */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 15_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A port that was free a moment ago (the OS picks it); Postfix binds it when it starts. */
export async function freePort(): Promise<number> {
  for (;;) {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // A port handed out earlier may not be bound yet (a filter's port is chosen before the
    // Postfix that names it starts), and the kernel may offer it again: never hand it out twice.
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}
const handedOut = new Set<number>();

/** A throwaway self-signed certificate for a test SMTP server offering STARTTLS. */
export async function selfSignedCert(dir: string): Promise<{ key: Buffer; cert: Buffer }> {
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1'];
  const result = await run('openssl', [...args, '-keyout', keyFile, '-out', certFile]);
  if (result.code !== 0) throw new Error(`openssl could not make a test certificate: ${result.stderr}`);
  return { key: await fs.readFile(keyFile), cert: await fs.readFile(certFile) };
}

/** Reads the first line an SMTP server sends; null when nothing answers. */
function smtpGreeting(port: number, timeoutMs = 2_000): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    const done = (value: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
      const end = data.indexOf('\n');
      if (end >= 0) {
        // Say goodbye so smtpd does not log a lost connection.
        socket.end('QUIT\r\n');
        done(data.slice(0, end).trim());
      }
    });
    socket.on('error', () => done(null));
  });
}

/** Alive and not a zombie (see the note on PID 1 at the top). */
function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function masterPid(instanceDir: string): number | null {
  try {
    const pid = Number(readFileSync(path.join(instanceDir, 'queue', 'pid', 'master.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

// Values end up in main.cf, master.cf and a transport map: refuse anything that could add lines
// or fields there, so a typo fails loudly instead of configuring something else.
const DOMAIN = /^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/;
const HOST = /^[A-Za-z0-9.:-]+$/;
const PARAM = /^[a-z0-9_]+$/;

function nexthop(hop: Hop, what: string): string {
  if (!HOST.test(hop.host)) throw new Error(`${what}: bad host ${JSON.stringify(hop.host)}`);
  if (!Number.isInteger(hop.port) || hop.port < 1 || hop.port > 65535) throw new Error(`${what}: bad port ${hop.port}`);
  // Brackets: no MX lookup, connect to this host as given.
  return `[${hop.host}]:${hop.port}`;
}

// ---------------------------------------------------------------------------------------------
// Configuration

interface InstancePlan {
  name: 'main' | 'tls';
  dir: string;
  /** Unique per instance: log lines and SMTP banners say which instance (and harness) spoke. */
  hostname: string;
  main: Record<string, string>;
  master: string;
  /** Extra files for conf/ (the transport map, header checks). */
  files: Record<string, string>;
  smtpdPorts: number[];
}

/** One master.cf line per service; `n` in the chroot column because nothing is set up for one. */
function service(name: string, type: string, priv: string, wakeup: string, limit: string, command: string, opts: Record<string, string> = {}): string {
  const unpriv = '-';
  const head = `${name} ${type} ${priv} ${unpriv} n ${wakeup} ${limit} ${command}`;
  return [head, ...Object.entries(opts).map(([k, v]) => `  -o ${k}=${v}`)].join('\n');
}

/** The internal services every instance needs (Debian's master.cf, minus local delivery and chroot). */
function baseServices(): string[] {
  return [
    service('pickup', 'unix', 'n', '60', '1', 'pickup'),
    service('cleanup', 'unix', 'n', '-', '0', 'cleanup'),
    service('qmgr', 'unix', 'n', '300', '1', 'qmgr'),
    service('tlsmgr', 'unix', '-', '1000?', '1', 'tlsmgr'),
    service('rewrite', 'unix', '-', '-', '-', 'trivial-rewrite'),
    service('verify', 'unix', '-', '-', '1', 'verify'),
    service('flush', 'unix', 'n', '1000?', '0', 'flush'),
    service('proxymap', 'unix', '-', '-', '-', 'proxymap'),
    service('proxywrite', 'unix', '-', '-', '1', 'proxymap'),
    service('showq', 'unix', 'n', '-', '-', 'showq'),
    service('error', 'unix', '-', '-', '-', 'error'),
    service('retry', 'unix', '-', '-', '-', 'error'),
    service('discard', 'unix', '-', '-', '-', 'discard'),
    service('anvil', 'unix', '-', '-', '1', 'anvil'),
    service('scache', 'unix', '-', '-', '1', 'scache'),
    // maillog_file is written by postlogd; without this service nothing is logged at all.
    service('postlog', 'unix-dgram', 'n', '-', '1', 'postlogd'),
  ];
}

/** An smtpd for a content filter to hand mail back on (FILTER_README's port 10026). */
function reinjectSmtpd(port: number): string {
  return service(`127.0.0.1:${port}`, 'inet', 'n', '-', '-', 'smtpd', {
    content_filter: '',
    receive_override_options: 'no_unknown_recipient_checks,no_header_body_checks,no_milters',
    smtpd_helo_restrictions: '',
    smtpd_client_restrictions: '',
    smtpd_sender_restrictions: '',
    smtpd_relay_restrictions: 'permit_mynetworks,reject',
    smtpd_recipient_restrictions: 'permit_mynetworks,reject',
    mynetworks: '127.0.0.0/8',
    // The filter may pass the original client's name and address on, as the gateway will.
    smtpd_authorized_xforward_hosts: '127.0.0.0/8',
  });
}

function mainSettings(plan: { dir: string; hostname: string; tag: string }, opts: PostfixOptions): Record<string, string> {
  const lifetime = opts.queueLifetime ?? '1h';
  if (!/^\d+[smhdw]?$/.test(lifetime)) throw new Error(`queueLifetime: bad time ${lifetime}`);
  return {
    compatibility_level: '3.6',
    queue_directory: path.join(plan.dir, 'queue'),
    data_directory: path.join(plan.dir, 'data'),
    // Each instance logs to its own file; the prefix list is read from this main.cf.
    maillog_file: path.join(plan.dir, 'maillog'),
    maillog_file_prefixes: POSTFIX_TEST_BASE,
    syslog_name: plan.tag,
    myhostname: plan.hostname,
    mydomain: 'waxseal.test',
    myorigin: '$myhostname',
    smtpd_banner: '$myhostname ESMTP',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    // Nothing is local: every address goes to a next hop, so no mailbox, alias or local user.
    mydestination: '',
    local_recipient_maps: '',
    alias_maps: '',
    alias_database: '',
    relay_domains: '',
    mynetworks: '127.0.0.0/8',
    smtpd_relay_restrictions: 'permit_mynetworks, reject',
    relayhost: nexthop(opts.relay, 'relay'),
    transport_maps: `texthash:${path.join(plan.dir, 'conf', 'transport')}`,
    // No DNS in tests: /etc/hosts for names, and no reverse lookups of 127.0.0.1.
    smtp_host_lookup: 'native',
    smtpd_peername_lookup: 'no',
    smtp_tls_security_level: 'may',
    // TLS sessions are logged, so a test can see that a delivery was encrypted.
    smtp_tls_loglevel: '1',
    // Short timers: a deferred message is retried within seconds, not minutes.
    queue_run_delay: '1s',
    minimal_backoff_time: '1s',
    maximal_backoff_time: '2s',
    maximal_queue_lifetime: lifetime,
    bounce_queue_lifetime: lifetime,
    in_flow_delay: '0',
    // Gateway messages reach 25 MB before transfer encoding.
    message_size_limit: String(64 * 1024 * 1024),
    biff: 'no',
  };
}

function planInstances(root: string, id: string, opts: PostfixOptions, ports: { port: number; reinjectPort: number; tlsReinjectPort: number }): InstancePlan[] {
  const transportLines: string[] = [];
  for (const [domain, hop] of Object.entries(opts.transports ?? {})) {
    if (!DOMAIN.test(domain)) throw new Error(`transports: bad domain ${JSON.stringify(domain)}`);
    transportLines.push(`${domain.toLowerCase()} smtp:${nexthop(hop, `transports[${domain}]`)}`);
  }
  const transport = transportLines.join('\n') + '\n';
  const extra = Object.entries(opts.extraMain ?? {});
  for (const [k, v] of extra) {
    if (!PARAM.test(k) || /[\r\n]/.test(v)) throw new Error(`extraMain: bad setting ${k}`);
  }

  // --- main: where mail is submitted, filtered and reinjected.
  const mainDir = path.join(root, 'main');
  const mainHost = `main-${id}.waxseal.test`;
  const main = mainSettings({ dir: mainDir, hostname: mainHost, tag: `waxseal-${id}-main` }, opts);
  if (opts.contentFilter) main['content_filter'] = `filter:${nexthop(opts.contentFilter, 'contentFilter')}`;
  const mainMaster = [
    service(`127.0.0.1:${ports.port}`, 'inet', 'n', '-', '-', 'smtpd'),
    reinjectSmtpd(ports.reinjectPort),
    ...baseServices(),
    service('bounce', 'unix', '-', '-', '0', 'bounce'),
    service('defer', 'unix', '-', '-', '0', 'bounce'),
    service('trace', 'unix', '-', '-', '0', 'bounce'),
    service('smtp', 'unix', '-', '-', '-', 'smtp'),
    service('relay', 'unix', '-', '-', '-', 'smtp'),
    // FILTER_README's client for the content filter: pass the client's identity on, and do not
    // let Postfix rewrite 8bit bodies on the way to the filter.
    service('filter', 'unix', '-', '-', String(opts.filterProcesses ?? 4), 'smtp', {
      smtp_send_xforward_command: 'yes',
      disable_mime_output_conversion: 'yes',
      smtp_tls_security_level: 'none',
    }),
  ].join('\n');

  // --- tls: the same routing, but every smtp transport insists on TLS.
  const tlsDir = path.join(root, 'tls');
  const tlsHost = `tls-${id}.waxseal.test`;
  const tls = mainSettings({ dir: tlsDir, hostname: tlsHost, tag: `waxseal-${id}-tls` }, opts);
  // Bounce, delay and success notices go through header checks (so through the FILTER below).
  tls['internal_mail_filter_classes'] = 'bounce, notify';
  const encrypt = { smtp_tls_security_level: 'encrypt', smtp_tls_policy_maps: '' };
  const bounceOpts = { cleanup_service_name: 'bouncecleanup' };
  const tlsMaster = [
    reinjectSmtpd(ports.tlsReinjectPort),
    ...baseServices(),
    service('bounce', 'unix', '-', '-', '0', 'bounce', bounceOpts),
    service('defer', 'unix', '-', '-', '0', 'bounce', bounceOpts),
    service('trace', 'unix', '-', '-', '0', 'bounce', bounceOpts),
    service('smtp', 'unix', '-', '-', '-', 'smtp', encrypt),
    service('relay', 'unix', '-', '-', '-', 'smtp', encrypt),
    // Notices generated here go back to the main instance, which delivers them like any mail.
    service('bouncecleanup', 'unix', 'n', '-', '0', 'cleanup', {
      header_checks: `regexp:${path.join(tlsDir, 'conf', 'handback')}`,
    }),
    service('handback', 'unix', '-', '-', '-', 'smtp', { smtp_tls_security_level: 'none' }),
  ].join('\n');

  const plans: InstancePlan[] = [
    { name: 'main', dir: mainDir, hostname: mainHost, main, master: mainMaster, files: { transport }, smtpdPorts: [ports.port, ports.reinjectPort] },
    {
      name: 'tls',
      dir: tlsDir,
      hostname: tlsHost,
      main: tls,
      master: tlsMaster,
      files: { transport, handback: `/^/ FILTER handback:[127.0.0.1]:${ports.reinjectPort}\n` },
      smtpdPorts: [ports.tlsReinjectPort],
    },
  ];
  for (const plan of plans) Object.assign(plan.main, Object.fromEntries(extra));
  return plans;
}

// ---------------------------------------------------------------------------------------------
// Running

/** Stops and removes harnesses whose test process died without calling stop(). */
async function sweepStale(): Promise<void> {
  let entries: string[];
  try {
    entries = readdirSync(POSTFIX_TEST_BASE);
  } catch {
    return;
  }
  for (const entry of entries) {
    const root = path.join(POSTFIX_TEST_BASE, entry);
    let owner: number;
    try {
      owner = Number(readFileSync(path.join(root, 'owner.pid'), 'utf8'));
    } catch {
      continue; // being created right now, or not ours
    }
    if (processRunning(owner)) continue;
    for (const name of ['main', 'tls']) {
      const conf = path.join(root, name, 'conf');
      if (existsSync(path.join(conf, 'main.cf')) && masterPid(path.join(root, name)) !== null) {
        await run(sbin('postfix'), ['-c', conf, 'abort']);
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
}

async function writeInstance(plan: InstancePlan): Promise<void> {
  const conf = path.join(plan.dir, 'conf');
  await fs.mkdir(conf, { recursive: true, mode: 0o755 });
  await fs.mkdir(path.join(plan.dir, 'queue'), { mode: 0o755 });
  await fs.mkdir(path.join(plan.dir, 'data'), { mode: 0o700 });
  const { uid, gid } = postfixIds();
  await fs.chown(path.join(plan.dir, 'data'), uid, gid);
  const mainCf = Object.entries(plan.main).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n';
  await fs.writeFile(path.join(conf, 'main.cf'), mainCf, { mode: 0o644 });
  await fs.writeFile(path.join(conf, 'master.cf'), plan.master + '\n', { mode: 0o644 });
  for (const [name, text] of Object.entries(plan.files)) await fs.writeFile(path.join(conf, name), text, { mode: 0o644 });
  // Postfix will not read a file modified within the current second (it may be mid-edit): it
  // sleeps 300 ms and looks again, for every command and daemon. Backdating the files saves
  // about two seconds per start.
  const past = new Date(Date.now() - 60_000);
  for (const name of ['main.cf', 'master.cf', ...Object.keys(plan.files)]) await fs.utimes(path.join(conf, name), past, past);
}

let ids: { uid: number; gid: number } | null = null;
function postfixIds(): { uid: number; gid: number } {
  ids ??= {
    uid: Number(execFileSync('id', ['-u', 'postfix'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postfix'], { encoding: 'utf8' }).trim()),
  };
  return ids;
}

async function readLog(plan: InstancePlan): Promise<string> {
  try {
    return await fs.readFile(path.join(plan.dir, 'maillog'), 'utf8');
  } catch {
    return '';
  }
}

const BIND_FAILED = /fatal: bind 127\.0\.0\.1 port \d+: Address already in use/;

/**
 * Listening TCP sockets on 127.0.0.1:port in this network namespace. Postfix's master listens
 * with SO_REUSEPORT, so a second master (another harness that drew the same free port) binds the
 * same port without an error, and the kernel then splits connections between the two.
 */
function listenersOn(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // fields: sl local_address rem_address st ... inode (10th); 0A is LISTEN.
    if (fields[1] === local && fields[3] === '0A' && fields[9] !== undefined) inodes.add(fields[9]);
  }
  return inodes.size;
}

async function startInstance(plan: InstancePlan): Promise<void> {
  const conf = path.join(plan.dir, 'conf');
  const postfix = sbin('postfix');
  // check creates the queue's subdirectories with the right owners and modes, and finds
  // configuration mistakes before start would fail with less to say.
  for (const command of ['check', 'start']) {
    const result = await run(postfix, ['-c', conf, command]);
    if (result.code !== 0) {
      const log = await readLog(plan);
      // A port taken between freePort() and the bind: the master dies; start over elsewhere.
      if (BIND_FAILED.test(log)) throw new PortTaken(log);
      throw new Error(`postfix ${command} (${plan.name}) exited ${result.code}: ${result.stderr}\n${log}`);
    }
  }
  for (const port of plan.smtpdPorts) {
    await pollUntil(
      async () => {
        // The banner names this instance, so a port someone else answers on is not taken for ours.
        const greeting = await smtpGreeting(port);
        if (greeting?.startsWith(`220 ${plan.hostname} `)) return true;
        const log = await readLog(plan);
        if (BIND_FAILED.test(log)) throw new PortTaken(log);
        return false;
      },
      `Postfix (${plan.name}) to answer on port ${port}`,
      15_000,
      50,
    ).catch(async (error: unknown) => {
      if (error instanceof PortTaken) throw error;
      throw new Error(`${(error as Error).message}\n${await readLog(plan)}`);
    });
    // Whoever binds second sees both sockets, so the later harness always notices and moves.
    if (listenersOn(port) > 1) throw new PortTaken(`port ${port} is shared with another listener`);
  }
}

class PortTaken extends Error {}

async function stopInstance(plan: InstancePlan): Promise<void> {
  const conf = path.join(plan.dir, 'conf');
  const pid = masterPid(plan.dir);
  if (pid === null || !processRunning(pid)) return;
  await run(sbin('postfix'), ['-c', conf, 'stop']);
  try {
    await pollUntil(() => !processRunning(pid), `Postfix (${plan.name}) master ${pid} to exit`, 10_000, 50);
  } catch {
    // `abort` kills the master and its children at once; only this instance's, by its pid file.
    await run(sbin('postfix'), ['-c', conf, 'abort']);
    await pollUntil(() => !processRunning(pid), `Postfix (${plan.name}) master ${pid} to abort`, 5_000, 50);
  }
}

/** Instances started by this process, stopped on exit if a test forgot (or crashed before) stop(). */
const running = new Set<InstancePlan>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const plan of running) {
      try {
        execFileSync(sbin('postfix'), ['-c', path.join(plan.dir, 'conf'), 'abort'], { stdio: 'ignore', timeout: 5_000 });
        rmSync(path.dirname(plan.dir), { recursive: true, force: true });
      } catch {
        // best effort: the next harness's sweep removes what is left
      }
    }
  });
}

async function queueOf(plan: InstancePlan): Promise<QueuedMessage[]> {
  const result = await run(sbin('postqueue'), ['-c', path.join(plan.dir, 'conf'), '-j']);
  if (result.code !== 0) throw new Error(`postqueue -j (${plan.name}) exited ${result.code}: ${result.stderr}`);
  return result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => ({ instance: plan.name, ...(JSON.parse(line) as Omit<QueuedMessage, 'instance'>) }));
}

/**
 * Starts the two private instances (see the top of this file) and waits until every smtpd
 * answers. Call stop() when done (t.teardown). Throws if Postfix is unavailable: check
 * postfixAvailable() first.
 */
export async function startPostfix(opts: PostfixOptions): Promise<PostfixHarness> {
  const available = postfixAvailable();
  if (!available.ok) throw new Error(available.reason);
  installExitHook();
  await fs.mkdir(POSTFIX_TEST_BASE, { recursive: true, mode: 0o755 });
  await sweepStale();

  for (let attempt = 1; ; attempt++) {
    const root = await fs.mkdtemp(path.join(POSTFIX_TEST_BASE, 'h'));
    // mkdtemp makes it 0700; the postfix user must reach queue/ and data/ below it.
    await fs.chmod(root, 0o755);
    await fs.writeFile(path.join(root, 'owner.pid'), String(process.pid));
    const id = path.basename(root).slice(1).toLowerCase().replace(/[^a-z0-9]/g, 'x');
    const ports = { port: await freePort(), reinjectPort: await freePort(), tlsReinjectPort: await freePort() };
    if (new Set(Object.values(ports)).size !== 3) {
      await fs.rm(root, { recursive: true, force: true });
      continue;
    }
    const plans = planInstances(root, id, opts, ports);
    let failure: unknown = null;
    try {
      await Promise.all(plans.map(writeInstance));
      for (const plan of plans) running.add(plan);
      // allSettled: when one instance fails, the other must have finished starting before it
      // is stopped, or its master would outlive the folder it runs from.
      const results = await Promise.allSettled(plans.map(startInstance));
      failure = results.find((r) => r.status === 'rejected')?.reason ?? null;
    } catch (error) {
      failure = error;
    }
    if (failure === null) return harness(root, plans, ports);
    for (const plan of plans) {
      await stopInstance(plan).catch(() => undefined);
      running.delete(plan);
    }
    await fs.rm(root, { recursive: true, force: true });
    if (failure instanceof PortTaken && attempt < 5) continue;
    throw failure;
  }
}

function harness(root: string, plans: InstancePlan[], ports: { port: number; reinjectPort: number; tlsReinjectPort: number }): PostfixHarness {
  let stopped: Promise<void> | null = null;
  const self: PostfixHarness = {
    ...ports,
    dir: root,
    async queue() {
      return (await Promise.all(plans.map(queueOf))).flat();
    },
    async queueIds() {
      return (await self.queue()).map((m) => m.queue_id);
    },
    async flush() {
      for (const plan of plans) {
        const result = await run(sbin('postqueue'), ['-c', path.join(plan.dir, 'conf'), '-f']);
        if (result.code !== 0) throw new Error(`postqueue -f (${plan.name}) exited ${result.code}: ${result.stderr}`);
      }
    },
    async log() {
      return (await Promise.all(plans.map(readLog))).join('');
    },
    async waitForLog(pattern, timeoutMs = 15_000) {
      return pollUntil(async () => {
        const log = await self.log();
        return pattern.test(log) ? log : undefined;
      }, `the Postfix log to match ${pattern}`, timeoutMs);
    },
    async waitForEmptyQueue(timeoutMs = 15_000) {
      await pollUntil(async () => (await self.queue()).length === 0, 'the Postfix queues to empty', timeoutMs);
    },
    stop() {
      stopped ??= (async () => {
        try {
          await Promise.all(plans.map(stopInstance));
        } finally {
          for (const plan of plans) running.delete(plan);
          await fs.rm(root, { recursive: true, force: true });
        }
      })();
      return stopped;
    },
  };
  return self;
}
