import t from 'tap';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/cli/main.ts';
import { sealCommand } from '../../src/cli/seal-command.ts';
import { CliError } from '../../src/cli/io.ts';
import { openEnvelope } from '../../src/crypto/envelope-crypto.ts';
import { buildCorpus } from '../helpers/corpus.ts';
import { engines } from '../helpers/databases.ts';
import { parseEnvelopeMail } from '../helpers/envelope-file.ts';
import { freePort, listenKeyService } from '../helpers/key-service.ts';
import { captureIo } from '../helpers/cli-io.ts';

const io = captureIo;

t.test('admin init creates the first administrator once (embedded database)', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-cli-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const env = { DATA_DIR: dir };
  const first = io(env);
  t.equal(await runCli(['admin', 'init', '--org', 'Example', '--email', 'root@example.test'], first.io), 0);
  t.match(first.out().toString(), /^wxa_[A-Za-z0-9_-]{12}\.[A-Za-z0-9_-]{43}\n$/);
  t.match(first.err(), /created a new key-encryption key file/);
  const second = io(env);
  t.equal(await runCli(['admin', 'init', '--org', 'Example', '--email', 'other@example.test'], second.io), 1);
  t.match(second.err(), /already exists/);
  const mig = io(env);
  t.equal(await runCli(['migrate'], mig.io), 0);
  t.match(mig.out().toString(), /up to date/);
  const bad = io({ DATA_DIR: dir, PORT: 'x' });
  t.equal(await runCli(['migrate'], bad.io), 78);
  t.match(bad.err(), /PORT/);
  t.equal(await runCli(['frobnicate'], io(env).io), 2);
  const badKek = io({ DATA_DIR: dir, WAXSEAL_KEK: '1:c2hvcnQ=' });
  t.equal(await runCli(['kek', 'status'], badKek.io), 78);
  t.match(badKek.err(), /configuration error: WAXSEAL_KEK: key 1 must be 32 bytes/);
  const noFile = io({ DATA_DIR: dir, WAXSEAL_KEK_FILE: path.join(dir, 'missing.kek') });
  t.equal(await runCli(['kek', 'add'], noFile.io), 78);
  t.match(noFile.err(), /cannot read the key file/);
});

t.test('a CLI command refuses an embedded database another process has open', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-cli-lock-'));
  const { spawn } = await import('node:child_process');
  const other = spawn('sleep', ['30']);
  t.teardown(async () => {
    other.kill();
    await fs.rm(dir, { recursive: true, force: true });
  });
  await fs.mkdir(path.join(dir, 'pglite'), { recursive: true });
  await fs.writeFile(path.join(dir, 'pglite', 'waxseal.lock'), String(other.pid));
  const run = io({ DATA_DIR: dir });
  t.equal(await runCli(['admin', 'init', '--org', 'X', '--email', 'a@example.test'], run.io), 75);
  t.match(run.err(), new RegExp(`in use by process ${other.pid}.*stop it first`));
  other.kill();
  await new Promise((r) => other.once('exit', r));
  const after = io({ DATA_DIR: dir });
  t.equal(await runCli(['admin', 'init', '--org', 'X', '--email', 'a@example.test'], after.io), 0, 'a lock left by a dead process is taken over');
});

for (const engine of engines()) {
  t.test(`profile commands and sealing on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    const ks = await listenKeyService(opened);
    t.teardown(async () => {
      await ks.close();
      await opened.dispose();
    });
    const adminEnv = { WAXSEAL_URL: ks.url, WAXSEAL_ADMIN_TOKEN: ks.adminToken };

    const create = io(adminEnv);
    t.equal(await runCli(['profile', 'create', 'Finance', '--set', 'securityLevel=medium', '--set', 'defaultLocale=de', '--set', 'subjectTemplate=[SECURE] {{subject}}'], create.io), 0, create.err());
    t.equal(JSON.parse(create.out().toString()).settings.securityLevel, 'medium');
    const invalid = io(adminEnv);
    t.equal(await runCli(['profile', 'set', 'Finance', '--set', 'algorithm=des'], invalid.io), 1);
    t.match(invalid.err(), /algorithm/);
    const list = io(adminEnv);
    t.equal(await runCli(['profile', 'list'], list.io), 0);
    t.match(list.out().toString(), /Finance\tmedium\taes-256-gcm/);
    const noMessages = io(adminEnv);
    t.equal(await runCli(['messages', 'list'], noMessages.io), 0, noMessages.err());
    t.equal(noMessages.out().toString(), '', 'no message sent yet');

    const prov = io(adminEnv);
    t.equal(await runCli(['profile', 'provision', 'Finance', '--admin-email', 'gw@example.test'], prov.io), 0, prov.err());
    const credential = prov.out().toString().trim();
    t.match(credential, /^wxg_/);

    const message = buildCorpus()[0]!.bytes;
    const sealEnv = { WAXSEAL_URL: ks.url, WAXSEAL_CREDENTIAL_FINANCE: credential };
    const seal = io(sealEnv, Buffer.from(message));
    t.equal(await runCli(['seal', '--profile', 'Finance'], seal.io), 0, seal.err());
    const file = await parseEnvelopeMail(seal.out());
    t.match(file.mail.subject ?? '', /^\[SECURE\] /, 'subject from the profile template');
    t.match(file.html, /<html lang="de"/, 'envelope in the profile\'s default locale');
    const share = await ks.services.envelopes.serverShare(file.envelopeId);
    const plain = await openEnvelope({ serverShare: share!, envelopeSecret: file.envelopeSecret }, file.inlinePayload!);
    t.ok(Buffer.from(plain).equals(Buffer.from(message)), 'the CLI envelope opens to the original');

    const listed = io(adminEnv);
    t.equal(await runCli(['messages', 'list'], listed.io), 0, listed.err());
    t.match(listed.out().toString(), new RegExp(`^${file.envelopeId}\\t\\S+\\t\\S+@\\S+\\t0/\\d+\\topen\\t`), 'the sealed message is listed: id, sent, sender, opened/recipients, state, subject');
    const lock = io(adminEnv);
    t.equal(await runCli(['messages', 'lock', file.envelopeId, '--reason', 'Sent in error'], lock.io), 0, lock.err());
    t.equal((await ks.services.envelopes.get(file.envelopeId))?.lockReason, 'Sent in error', 'locked, with the reason');
    const noReason = io(adminEnv);
    t.equal(await runCli(['messages', 'lock', file.envelopeId], noReason.io), 2, 'a lock needs a reason');
    const unlock = io(adminEnv);
    t.equal(await runCli(['messages', 'unlock', file.envelopeId], unlock.io), 0, unlock.err());
    t.equal((await ks.services.envelopes.get(file.envelopeId))?.lockedAt, null, 'unlocked');
    const unknown = io(adminEnv);
    t.equal(await runCli(['messages', 'unlock', 'A'.repeat(22)], unknown.io), 1);
    t.match(unknown.err(), /no such message/);
    // One id in 64 begins with "-": it is an id, not an option.
    for (const args of [['messages', 'unlock', `-i${'A'.repeat(20)}`], ['messages', 'lock', `-i${'A'.repeat(20)}`, '--reason', 'Sent in error'], ['messages', 'lock', '--reason', 'Sent in error', `-${'A'.repeat(21)}`]]) {
      const dashed = io(adminEnv);
      t.equal(await runCli(args, dashed.io), 1, args.join(' '));
      t.match(dashed.err(), /no such message/);
    }

    const wrongProfile = io(sealEnv, Buffer.from(message));
    t.equal(await runCli(['seal', '--profile', 'Other'], { ...wrongProfile.io, env: { ...sealEnv, WAXSEAL_CREDENTIAL: credential } }), 1);
    t.match(wrongProfile.err(), /belongs to profile "Finance"/);
    t.equal(wrongProfile.out().length, 0);

    const malformed = io(sealEnv, Buffer.from('this is not an email'));
    t.equal(await runCli(['seal', '--profile', 'Finance'], malformed.io), 65);
    t.equal(malformed.out().length, 0, 'nothing written for a malformed message');
    t.match(malformed.err(), /waxseal: /);

    const rotate = io(adminEnv);
    const credId = credential.slice(4, 16);
    t.equal(await runCli(['profile', 'rotate', credId], rotate.io), 0, rotate.err());
    const stale = io(sealEnv, Buffer.from(message));
    t.equal(await runCli(['seal', '--profile', 'Finance'], stale.io), 77);
    t.match(stale.err(), /refused the gateway credential/);
    t.equal(stale.out().length, 0);
  });
}

t.test('key service down: retries with backoff, then a clear failure and no output', async (t) => {
  const port = await freePort();
  const env = { WAXSEAL_URL: `http://127.0.0.1:${port}`, WAXSEAL_CREDENTIAL: `wxg_${'a'.repeat(12)}.${'b'.repeat(43)}` };
  const run = io(env, Buffer.from(buildCorpus()[0]!.bytes));
  let caught: unknown = null;
  try {
    await sealCommand(['--profile', 'Finance'], run.io, { attempts: 3, retryBaseDelayMs: 5 });
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof CliError);
  t.equal((caught as CliError).exitCode, 75);
  t.match((caught as Error).message, /could not be reached after 3 attempts .*ECONNREFUSED.*no envelope was written/s);
  t.equal((run.err().match(/retry \d/g) ?? []).length, 2, 'two retries announced');
  t.equal(run.out().length, 0, 'no envelope written');
});
