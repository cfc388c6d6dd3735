// `waxseal gateway check | run | status` against a real key service and real SMTP peers (one
// standing for the MTA's reinjection ports), with a configuration file as an operator writes it.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import pino from 'pino';
import t from 'tap';
import { runCli } from '../../src/cli/main.ts';
import { startGateway } from '../../src/gateway/gateway-runtime.ts';
import { parseGatewayConfig } from '../../src/gateway/policy/policy-config.ts';
import { engines } from '../helpers/databases.ts';
import { parseEnvelopeMail } from '../helpers/envelope-file.ts';
import { freePort, listenKeyService, provisionProfile } from '../helpers/key-service.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';

async function cli(args: string[], env: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await runCli(args, { env, stdin: Readable.from([]), stdout, stderr });
  return { code, out, err };
}

t.test('gateway check, run and status', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'waxseal-gwcli-'));
  const opened = await engines().find((e) => e.name === 'pglite')!.open();
  const ks = await listenKeyService(opened);
  const mta = await startSmtpSink();
  const credential = await provisionProfile(ks, 'Standard', { securityLevel: 'medium' });
  t.teardown(async () => {
    await mta.close();
    await ks.close();
    await opened.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const mtaPort = Number(new URL(mta.url).port);
  const yaml = `listen: { host: 127.0.0.1, port: ${await freePort()} }
reinject: { host: 127.0.0.1, port: ${mtaPort}, tlsPort: ${mtaPort} }
keyService: { url: ${ks.url} }
profiles:
  Standard: { credentialEnv: WAXSEAL_CREDENTIAL_STANDARD }
spool: ${join(dir, 'spool')}
postmaster: postmaster@example.org
destinations: { default: preferred }
tlsProbe: { static: { example.net: "127.0.0.1:${mtaPort}" } }
rules:
  - name: cards
    if: { body: { detector: { name: card, min: 1 } } }
    then:
      - encrypt: { profile: Standard, subject: "[Secure] $Subject", tls: try-first }
`;
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, yaml);
  const env = { WAXSEAL_CREDENTIAL_STANDARD: credential };

  await t.test('check', async (t) => {
    const ok = await cli(['gateway', 'check', file], env);
    t.equal(ok.code, 0, ok.err);
    t.match(ok.out, /ok \(1 rule, 1 profile\)/);
    const noCredential = await cli(['gateway', 'check', file], {});
    t.equal(noCredential.code, 1);
    t.match(noCredential.err, /WAXSEAL_CREDENTIAL_STANDARD, which is not set/);
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, yaml.replace('detector: { name: card', 'detector: { name: visa'));
    const bad = await cli(['gateway', 'check', broken], env);
    t.equal(bad.code, 1);
    t.match(bad.err, new RegExp(`${broken.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:12:\\d+: rule "cards": body: unknown detector "visa"`), 'file:line:column: the problem');
  });

  await t.test('run: a message with a card number comes back sealed; status shows versions, profiles, TLS cache and counts', async (t) => {
    const parsed = parseGatewayConfig(yaml);
    if (!parsed.ok) throw new Error('config');
    const gateway = await startGateway(parsed.config, { env, log: pino({ level: 'silent' }) });
    t.teardown(() => gateway.close());
    const submit = nodemailer.createTransport({ host: '127.0.0.1', port: gateway.port, secure: false, ignoreTLS: true });
    t.teardown(() => submit.close());
    const raw = Buffer.from('From: ana@example.org\r\nTo: bob@example.net\r\nSubject: Refund\r\n\r\nPlease use 4111 1111 1111 1111.\r\n');
    await submit.sendMail({ envelope: { from: 'ana@example.org', to: ['bob@example.net'] }, raw });
    const got = await mta.waitFor('bob@example.net', /^\[Secure\] Refund$/);
    t.notOk(got.raw.includes('4111'), 'the card number is not on the wire');
    t.ok((await parseEnvelopeMail(got.raw)).envelopeId, 'an envelope, with the rule\'s subject');

    const status = gateway.status();
    t.same(status.profiles.map((p) => [p.name, p.reachable, p.versions]), [['Standard', true, { envelope: 1, securedoc: 1 }]], 'the versions learnt from the key service');
    t.same(status.tls.map((e) => [e.domain, e.offersTls]), [['example.net', false]], 'the destination was asked about TLS (the sink has none, so: encrypted)');
    t.equal(status.counts.delivered, 1);
    await gateway.close();
    const shown = await cli(['gateway', 'status', file], env);
    t.equal(shown.code, 0, shown.err);
    t.match(shown.out, /Standard: key service reachable.*envelope 1 \/ opening page 1/);
    t.match(shown.out, /example\.net: no TLS/);
    t.match(shown.out, /queue: 0 waiting; handed back 0 unchanged, 1 encrypted or over TLS/);
  });
});
