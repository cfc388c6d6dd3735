// Whether a destination offers TLS, learnt from real SMTP servers: one with STARTTLS, one
// without, one not listening; the cache, shared probes and the static map.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createTlsProbe } from '../../src/gateway/destinations/tls-probe.ts';
import { freePort } from '../helpers/key-service.ts';
import { selfSignedCert } from '../helpers/postfix.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';

t.test('the TLS probe asks the destination itself', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'waxseal-probe-'));
  const tls = await startSmtpSink({ tls: await selfSignedCert(dir) });
  const plain = await startSmtpSink();
  const closed = await freePort();
  t.teardown(async () => {
    await tls.close();
    await plain.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const hostOf = (url: string) => `127.0.0.1:${new URL(url).port}`;
  let clock = Date.parse('2026-11-28T10:00:00Z');
  const probe = createTlsProbe({
    cacheTtlMs: 60_000,
    now: () => new Date(clock),
    timeoutMs: 3000,
    static: { 'tls.test': hostOf(tls.url), 'plain.test': hostOf(plain.url), 'down.test': `127.0.0.1:${closed}` },
    // Exchangers looked up "in DNS": here a resolver that names the TLS sink for mx.test.
    exchangers: async (domain) => (domain === 'mx.test' ? ['127.0.0.1'] : []),
    port: Number(new URL(tls.url).port),
  });

  t.equal(await probe.offersTls('tls.test'), true, 'STARTTLS offered and completed');
  t.equal(await probe.offersTls('plain.test'), false, 'no STARTTLS');
  t.equal(await probe.offersTls('down.test'), false, 'nothing listening');
  t.equal(await probe.offersTls('nowhere.test'), false, 'no exchanger at all');
  t.equal(await probe.offersTls('MX.test'), true, 'found through the exchanger lookup (case-insensitive)');

  const before = tls.connections();
  t.equal(await probe.offersTls('tls.test'), true);
  t.equal(tls.connections(), before, 'inside the TTL the cache answers');
  clock += 61_000;
  await Promise.all([probe.offersTls('tls.test'), probe.offersTls('tls.test'), probe.offersTls('tls.test')]);
  t.equal(tls.connections(), before + 1, 'after the TTL one new probe, shared by concurrent callers');

  const plainBefore = plain.connections();
  clock += 7_000;
  await probe.offersTls('plain.test');
  t.equal(plain.connections(), plainBefore + 1, 'a negative answer is kept for a tenth of the TTL only');

  const snap = probe.snapshot();
  t.same(snap.map((e) => [e.domain, e.offersTls]), [['down.test', false], ['mx.test', true], ['nowhere.test', false], ['plain.test', false], ['tls.test', true]]);
  t.equal(snap.find((e) => e.domain === 'nowhere.test')!.host, null, 'the snapshot says who answered');
});
