import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createCipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase } from '../src/db/open-database.ts';
import { migrate } from '../src/db/migrate.ts';
import { MIGRATIONS_DIR } from '../src/paths.ts';
import { benchSealThroughput, syntheticMessage } from './seal.ts';
import { benchUploads } from './uploads.ts';
import { benchReleases } from './releases.ts';
import { benchSignins } from './signins.ts';
import { benchOpenTime } from './open-time.ts';
import { benchGatewayMemory, benchGatewayRate } from './gateway.ts';
import { postfixAvailable } from '../test/helpers/postfix.ts';
import { chromiumPath } from '../test/helpers/chromium.ts';
import { createPostgresDatabase } from '../test/helpers/databases.ts';
import { listenKeyService, provisionProfile } from '../test/helpers/key-service.ts';
import { createKeyServiceClient } from '../src/gateway/key-client.ts';
import { sealMessage } from '../src/gateway/seal.ts';
import { createI18n } from '../src/i18n/create-i18n.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../src/paths.ts';

// `npm run bench`: every figure beside a baseline measured in the same run, as a ratio.
const MB = 1024 * 1024;
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
const out = (s = '') => process.stdout.write(s + '\n');

out(`# Waxseal benchmarks — ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
out();

// 1. Crypto core: sealing vs one raw AES-256-GCM pass over the same bytes.
out('## Sealing throughput (envelope format v1, AES-256-GCM, 64 KiB records) vs raw AES-256-GCM');
out();
out('| message | raw AES-256-GCM | sealEnvelope | ratio (target ≥ 25%) |');
out('|---|---|---|---|');
for (const r of await benchSealThroughput([1, 10, 25], 7)) {
  out(`| ${r.sizeMB} MB | ${r.rawMBps.toFixed(0)} MB/s | ${r.sealMBps.toFixed(0)} MB/s | ${pct(r.ratio)} ${r.ratio >= 0.25 ? 'ok' : 'MISSED'} |`);
}
out();

// 2. The whole gateway path, and its memory, against a key service on the embedded database.
const opened = await (async () => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-bench-'));
  const database = await openDatabase({ kind: 'pglite', dataDir });
  await migrate(database, MIGRATIONS_DIR);
  return { database, url: null, dataDir, dispose: async () => { await database.close(); await fs.rm(dataDir, { recursive: true, force: true }); } };
})();
const ks = await listenKeyService(opened);
const credential = await provisionProfile(ks, 'Bench', { payloadTransport: { inlineMaxBytes: 2 * MB, referenceScheme: 'http', separateUrl: null } });
const deps = { client: createKeyServiceClient({ url: ks.url, credential }), i18n: createI18n(LOCALES_DIR), views: VIEWS_DIR };
out('## Whole sealing path (read head, seal, upload key and payload over HTTP, build notification) vs raw AES-256-GCM');
out();
out('| message | transport | sealMessage | share of raw AES-256-GCM time |');
out('|---|---|---|---|');
for (const mb of [1, 10, 25]) {
  const msg = syntheticMessage(mb * MB - 64 * 1024);
  const rawT: number[] = [];
  const fullT: number[] = [];
  let transport = '';
  for (let i = 0; i < 3; i++) {
    let t0 = process.hrtime.bigint();
    const c = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
    c.update(msg);
    c.final();
    rawT.push(Number(process.hrtime.bigint() - t0) / 1e9);
    t0 = process.hrtime.bigint();
    transport = (await sealMessage(msg, deps)).transport;
    fullT.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const best = (xs: number[]) => Math.min(...xs);
  out(`| ${mb} MB | ${transport} | ${(msg.length / MB / best(fullT)).toFixed(0)} MB/s | ${pct(best(rawT) / best(fullT))} |`);
}
out();

out('## Peak memory sealing 25 MB (separate gateway process)');
out();
const messageFile = path.join(os.tmpdir(), `waxseal-bench-${process.pid}.eml`);
await fs.writeFile(messageFile, syntheticMessage(25 * MB - 64 * 1024));
// Asynchronously: the key service the child talks to runs on this process's event loop.
const child = await promisify(execFile)(process.execPath, [path.join(import.meta.dirname, 'seal-memory-child.ts'), ks.url, credential, messageFile], { encoding: 'utf8' });
await fs.rm(messageFile);
const mem = JSON.parse(child.stdout) as { before: number; peak: number; messageBytes: number; transport: string };
const budget = 3 * mem.messageBytes + 150 * MB;
out(`| message | process at start | peak RSS | budget 3 × message + 150 MB | |`);
out('|---|---|---|---|---|');
out(`| ${(mem.messageBytes / MB).toFixed(1)} MB (${mem.transport}) | ${(mem.before / MB).toFixed(0)} MB | ${(mem.peak / MB).toFixed(0)} MB | ${(budget / MB).toFixed(0)} MB | ${mem.peak < budget ? 'ok' : 'MISSED'} |`);
out();
out('## Time from "Open" to the message shown in Chromium vs raw WebCrypto AES-256-GCM decryption of as many bytes (target ≤ 2 × raw + 300 ms)');
out();
if (chromiumPath() === null) {
  out('Chromium is not installed: open-time benchmark DID NOT RUN.');
} else {
  const openCredential = await provisionProfile(ks, 'OpenBench', { securityLevel: 'none', payloadTransport: { inlineMaxBytes: 0, referenceScheme: 'public', separateUrl: null } });
  out('| message | raw WebCrypto decrypt | Open → message shown | target | | Open → whole message (attachments listed) |');
  out('|---|---|---|---|---|---|');
  for (const r of await benchOpenTime(ks, openCredential, [1, 10, 25], 3)) {
    const target = 2 * r.rawMs + 300;
    out(`| ${r.sizeMB} MB | ${r.rawMs.toFixed(0)} ms | ${r.openMs.toFixed(0)} ms | ${target.toFixed(0)} ms | ${r.openMs <= target ? 'ok' : 'MISSED'} | ${r.wholeMs.toFixed(0)} ms |`);
  }
}
out();

// The gateway in Postfix's mail flow: rate against Postfix alone, and peak memory for 25 MB.
out('## Messages per second through Postfix with the gateway as content filter (50 KB messages, 20 rules) vs Postfix relaying them alone (target: at least half of Postfix\'s rate; best of 3 rounds, the set-ups taking turns)');
out();
const postfix = postfixAvailable();
if (!postfix.ok) {
  out(`Postfix cannot run here (${postfix.reason}): gateway benchmark DID NOT RUN.`);
} else {
  const gatewayCredential = await provisionProfile(ks, 'GatewayBench', { securityLevel: 'medium' });
  const rate = await benchGatewayRate({ keyServiceUrl: ks.url, credential: gatewayCredential, messages: 300, bytes: 50 * 1024 });
  out('| Postfix alone | no-op filter (ratio) | gateway, no rule matches, 20 evaluated (ratio; of the no-op filter) | gateway, every message sealed (ratio) |');
  out('|---|---|---|---|');
  const noopRatio = rate.noopPerSecond / rate.postfixPerSecond;
  const passRatio = rate.passPerSecond / rate.postfixPerSecond;
  const sealRatio = rate.sealPerSecond / rate.postfixPerSecond;
  out(`| ${rate.postfixPerSecond.toFixed(0)}/s | ${rate.noopPerSecond.toFixed(0)}/s (${pct(noopRatio)}) | ${rate.passPerSecond.toFixed(0)}/s (${pct(passRatio)} ${passRatio >= 0.5 ? 'ok' : 'MISSED'}; ${pct(rate.passPerSecond / rate.noopPerSecond)}) | ${rate.sealPerSecond.toFixed(0)}/s (${pct(sealRatio)} ${sealRatio >= 0.5 ? 'ok' : 'MISSED'}) |`);
  out('The no-op filter takes each message in and hands it back unchanged (no rules, no journal): what an after-queue filter costs Postfix before it does any work.');
  out();
  const gwMem = await benchGatewayMemory({ keyServiceUrl: ks.url, credential: gatewayCredential, bytes: 25 * MB - 64 * 1024 });
  out('| message through `waxseal gateway run` (sealed, by reference) | process at start | peak RSS (VmHWM) |');
  out('|---|---|---|');
  out(`| ${(gwMem.messageBytes / MB).toFixed(1)} MB | ${(gwMem.startBytes / MB).toFixed(0)} MB | ${(gwMem.peakBytes / MB).toFixed(0)} MB |`);
}
out();
await ks.close();
await opened.dispose();

// 3. Key uploads over HTTP vs raw single-row inserts, on PostgreSQL.
const pgUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
out('## Key uploads per second on PostgreSQL: HTTP API with a concurrent client vs raw single-row INSERTs (same driver)');
out();
try {
  const probe = new pg.Client({ connectionString: pgUrl });
  await probe.connect();
  await probe.end();
  out('| concurrency | raw INSERT/s | HTTP uploads/s | ratio (target ≥ 35%) | ≥ 1,500/s |');
  out('|---|---|---|---|---|');
  for (const concurrency of [16, 32, 32]) {
    const r = await benchUploads(pgUrl, { count: 6000, concurrency, createDatabase: () => createPostgresDatabase(pgUrl) });
    const ratio = r.httpPerSecond / r.rawPerSecond;
    out(`| ${concurrency} | ${r.rawPerSecond.toFixed(0)} | ${r.httpPerSecond.toFixed(0)} | ${pct(ratio)} ${ratio >= 0.35 ? 'ok' : 'MISSED'} | ${r.httpPerSecond >= 1500 ? 'ok' : 'MISSED'} |`);
  }
} catch (err) {
  out(`PostgreSQL at ${pgUrl} is not reachable (${(err as Error).message}): upload benchmark DID NOT RUN.`);
}
out();

// 4. Releases of server shares with a remembered session, on PostgreSQL.
out('## Key releases per second on PostgreSQL (POST /open/ID/key, remembered session) vs the same SQL run bare');
out();
try {
  out('| concurrency | bare SQL releases/s | HTTP releases/s | ratio | ≥ 2,000/s |');
  out('|---|---|---|---|---|');
  for (const concurrency of [16, 32]) {
    const r = await benchReleases({ count: 8000, concurrency, createDatabase: () => createPostgresDatabase(pgUrl) });
    out(`| ${concurrency} | ${r.rawPerSecond.toFixed(0)} | ${r.httpPerSecond.toFixed(0)} | ${pct(r.httpPerSecond / r.rawPerSecond)} | ${r.httpPerSecond >= 2000 ? 'ok' : 'MISSED'} |`);
  }
} catch (err) {
  out(`release benchmark DID NOT RUN: ${(err as Error).message}`);
}
out();

// 5. Sign-ins vs raw argon2id verifications with the same parameters, and the event loop meanwhile.
out('## Sign-ins per second on PostgreSQL (POST /signin, 8 people at once) vs raw argon2id verify, same parameters and callers');
out();
try {
  out('| raw argon2 verify/s | sign-ins/s | ratio (target ≥ 85%) | event-loop p99 (target < 50 ms) |');
  out('|---|---|---|---|');
  for (let i = 0; i < 2; i++) {
    const r = await benchSignins({ count: 800, callers: 8, createDatabase: () => createPostgresDatabase(pgUrl) });
    const ratio = r.signinsPerSecond / r.rawPerSecond;
    out(`| ${r.rawPerSecond.toFixed(0)} | ${r.signinsPerSecond.toFixed(0)} | ${pct(ratio)} ${ratio >= 0.85 ? 'ok' : 'MISSED'} | ${r.loopP99Ms.toFixed(1)} ms ${r.loopP99Ms < 50 ? 'ok' : 'MISSED'} |`);
  }
} catch (err) {
  out(`sign-in benchmark DID NOT RUN: ${(err as Error).message}`);
}
out();
