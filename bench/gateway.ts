import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { freePort, startPostfix, type PostfixHarness } from '../test/helpers/postfix.ts';

export interface GatewayRateResult {
  messages: number;
  /** Postfix relaying the same messages without the filter, messages/s */
  postfixPerSecond: number;
  /** through Postfix and a content filter that does nothing (bench/noop-filter.ts), messages/s */
  noopPerSecond: number;
  /** through Postfix and the gateway, no rule matching (all 20 rules evaluated), messages/s */
  passPerSecond: number;
  /** through Postfix and the gateway, every message sealed by the last of the 20 rules, messages/s */
  sealPerSecond: number;
}

export interface GatewayMemoryResult {
  messageBytes: number;
  /** the gateway process's peak resident memory (VmHWM) after handling the message */
  peakBytes: number;
  /** its resident memory once started, before the message */
  startBytes: number;
}

/** A sink counting what arrives; resolves `until(n)` when n messages have. */
async function countingSink() {
  let count = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 64 * 1024 * 1024,
    onData(stream, _session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        count += 1;
        for (const w of waiters.filter((x) => count >= x.n)) w.resolve();
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.server.address() as AddressInfo).port,
    count: () => count,
    until: (n: number) => (count >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** 20 rules as an organisation might write them; `lastMatches` makes the last one hit every message. */
export function twentyRules(profile: string, lastMatches: boolean): string {
  const rules: string[] = [];
  for (let i = 0; i < 19; i++) {
    const conditions = [
      `{ subject: { contains: "project-${i}-confidential" } }`,
      `{ body: { detector: { name: ${['card', 'aba', 'ssn'][i % 3]}, min: 1 } } }`,
      `{ header: { name: X-Classification-${i}, exists: true } }`,
      `{ recipientDomain: { is: partner${i}.example } }`,
      `{ attachmentName: { matches: "\\\\.(xlsx|docx)$" } }`,
      `{ all: [ { sender: { matches: "^finance-${i}@" } }, { size: { over: 1MB } } ] }`,
    ];
    rules.push(`  - name: rule ${i}\n    if: ${conditions[i % conditions.length]}\n    then: [ { encrypt: { profile: ${profile} } } ]`);
  }
  rules.push(`  - name: last\n    if: { subject: { contains: "${lastMatches ? 'bench' : 'never-present'}" } }\n    then: [ { encrypt: { profile: ${profile}, deliver: on-delivery } } ]`);
  return rules.join('\n');
}

function benchMessage(i: number, bytes: number): Buffer {
  const head = `From: Bench <bench@example.org>\r\nTo: r${i}@example.net\r\nSubject: bench ${i}\r\nMessage-ID: <b${i}.${Date.now()}@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`;
  const line = 'The quarterly figures are attached below for your review and comment.\r\n';
  return Buffer.from(head + line.repeat(Math.ceil((bytes - head.length) / line.length)).slice(0, bytes - head.length));
}

async function gatewayConfig(dir: string, listen: number, postfix: PostfixHarness, keyServiceUrl: string, rules: string): Promise<string> {
  const file = path.join(dir, `gateway-${listen}.yaml`);
  await fs.writeFile(
    file,
    `listen: { host: 127.0.0.1, port: ${listen} }
reinject: { host: 127.0.0.1, port: ${postfix.reinjectPort}, tlsPort: ${postfix.tlsReinjectPort} }
keyService: { url: ${keyServiceUrl} }
profiles:
  Bench: { credentialEnv: WAXSEAL_CREDENTIAL_BENCH }
spool: ${path.join(dir, `spool-${listen}`)}
postmaster: postmaster@example.org
maxMessageSize: 60MB
rules:
${rules}
`,
  );
  return file;
}

/** Runs `waxseal gateway run FILE` in its own process, as an operator would. */
async function runGateway(file: string, credential: string) {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, '..', 'bin', 'waxseal.js'), 'gateway', 'run', file], {
    env: { ...process.env, WAXSEAL_CREDENTIAL_BENCH: credential, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const config = readFileSync(file, 'utf8');
  const port = Number(/listen: \{ host: 127\.0\.0\.1, port: (\d+)/.exec(config)![1]);
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  // Ready when the port answers with the gateway's banner (not something else on that port).
  let ready = false;
  for (let i = 0; i < 200 && !ready && exited === null; i++) {
    ready = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('data', (banner) => {
        s.destroy();
        resolve(banner.toString('latin1').includes('waxseal gateway'));
      });
      s.on('error', () => resolve(false));
    });
    if (!ready) await new Promise((r) => setTimeout(r, 100));
  }
  if (!ready) {
    child.kill('SIGKILL');
    throw new Error(exited === null ? `the gateway did not answer on port ${port}` : `the gateway exited (code ${exited}) before it answered on port ${port}`);
  }
  return {
    pid: child.pid!,
    memory(): { rss: number; peak: number } {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
      return { rss: kb('VmRSS'), peak: kb('VmHWM') };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Messages per second through Postfix with the gateway as its content filter, against the same
 * Postfix relaying the same 50 KB messages without it, in the same run. The gateway runs as
 * `waxseal gateway run` in its own process with 20 rules.
 *
 * Beside them, a content filter that does nothing (bench/noop-filter.ts): what any after-queue
 * filter costs Postfix, which queues each message twice, before the filter does any work.
 *
 * The set-ups take turns, `rounds` times, and each keeps its best round. On a shared
 * two-core machine one run of Postfix alone varied by a third from one minute to the next;
 * taking turns lets each set-up meet the same quiet and busy moments, and the best round of
 * each is what it can do.
 */
export async function benchGatewayRate(opts: { keyServiceUrl: string; credential: string; messages: number; bytes: number; rounds?: number }): Promise<GatewayRateResult> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-gwbench-'));
  const sink = await countingSink();
  const relay = { host: '127.0.0.1', port: sink.port };
  const messages = Array.from({ length: opts.messages }, (_, i) => benchMessage(i, opts.bytes));
  const run = async (port: number) => {
    const submit = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, pool: true, maxConnections: 8, maxMessages: Infinity });
    const start = sink.count();
    const t0 = process.hrtime.bigint();
    await Promise.all(messages.map((raw, i) => submit.sendMail({ envelope: { from: 'bench@example.org', to: [`r${i}@example.net`] }, raw })));
    await sink.until(start + messages.length);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    submit.close();
    return messages.length / seconds;
  };
  const alone = async () => {
    const plain = await startPostfix({ relay });
    try {
      return await run(plain.port);
    } finally {
      await plain.stop();
    }
  };
  const filtered = async (lastMatches: boolean) => {
    const listen = await freePort();
    // As FILTER_README suggests for a busy filter: up to 16 deliveries to it at once.
    const postfix = await startPostfix({ relay, contentFilter: { host: '127.0.0.1', port: listen }, filterProcesses: 16 });
    try {
      const gateway = await runGateway(await gatewayConfig(dir, listen, postfix, opts.keyServiceUrl, twentyRules('Bench', lastMatches)), opts.credential);
      try {
        return await run(postfix.port);
      } finally {
        await gateway.stop();
      }
    } finally {
      await postfix.stop();
    }
  };
  const noop = async () => {
    const listen = await freePort();
    const postfix = await startPostfix({ relay, contentFilter: { host: '127.0.0.1', port: listen }, filterProcesses: 16 });
    const child = spawn(process.execPath, [path.join(import.meta.dirname, 'noop-filter.ts'), String(listen), String(postfix.reinjectPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`the no-op filter exited (code ${code}) before it listened`)));
      });
      return await run(postfix.port);
    } finally {
      child.kill('SIGTERM');
      await postfix.stop();
    }
  };
  try {
    const best = { postfix: 0, noop: 0, pass: 0, seal: 0 };
    for (let round = 0; round < (opts.rounds ?? 3); round++) {
      best.postfix = Math.max(best.postfix, await alone());
      best.noop = Math.max(best.noop, await noop());
      best.pass = Math.max(best.pass, await filtered(false));
      best.seal = Math.max(best.seal, await filtered(true));
    }
    return { messages: opts.messages, postfixPerSecond: best.postfix, noopPerSecond: best.noop, passPerSecond: best.pass, sealPerSecond: best.seal };
  } finally {
    await sink.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Peak resident memory of a `waxseal gateway run` process that seals one message of `bytes`. */
export async function benchGatewayMemory(opts: { keyServiceUrl: string; credential: string; bytes: number }): Promise<GatewayMemoryResult> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-gwmem-'));
  const sink = await countingSink();
  const listen = await freePort();
  const postfix = await startPostfix({ relay: { host: '127.0.0.1', port: sink.port }, contentFilter: { host: '127.0.0.1', port: listen }, extraMain: { message_size_limit: String(80 * 1024 * 1024) } });
  const gateway = await runGateway(await gatewayConfig(dir, listen, postfix, opts.keyServiceUrl, twentyRules('Bench', true)), opts.credential);
  try {
    const startBytes = gateway.memory().rss;
    const submit = nodemailer.createTransport({ host: '127.0.0.1', port: postfix.port, secure: false, ignoreTLS: true });
    const raw = benchMessage(0, opts.bytes);
    await submit.sendMail({ envelope: { from: 'bench@example.org', to: ['r0@example.net'] }, raw });
    submit.close();
    await sink.until(1);
    return { messageBytes: raw.length, peakBytes: gateway.memory().peak, startBytes };
  } finally {
    await gateway.stop();
    await postfix.stop();
    await sink.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}
