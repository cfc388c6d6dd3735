import t from 'tap';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, loadSealConfig } from '../src/config.ts';

t.test('defaults: embedded database in ./data on port 8080', async (t) => {
  const c = loadConfig({}, '/srv/app');
  t.equal(c.port, 8080);
  t.equal(c.dataDir, path.resolve('/srv/app/data'));
  t.equal(c.databaseUrl, null);
  t.equal(c.publicUrl, 'http://localhost:8080');
  t.same(c.kek, { source: 'file', path: path.resolve('/srv/app/data/kek.json'), create: true });
  t.equal(c.logLevel, 'info');
  t.equal(c.hashConcurrency, os.availableParallelism() + 1, 'one passphrase hash per core, and one more');
  t.equal(c.threadPoolSize, c.hashConcurrency + 4, 'and four threads more for files and DNS');
});

t.test('passphrase hashing: how many at once, and the thread pool they share', async (t) => {
  t.same([loadConfig({ HASH_CONCURRENCY: '6' }).hashConcurrency, loadConfig({ HASH_CONCURRENCY: '6' }).threadPoolSize], [6, 10]);
  t.equal(loadConfig({ HASH_CONCURRENCY: '2', UV_THREADPOOL_SIZE: '16' }).threadPoolSize, 16, 'an operator may give the pool more');
});

t.test('values from the environment', async (t) => {
  const c = loadConfig(
    { PORT: '9000', DATA_DIR: '/var/lib/waxseal', DATABASE_URL: 'postgres://u@db/waxseal', PUBLIC_URL: 'https://keys.example.org/', WAXSEAL_KEK: '1:abc', LOG_LEVEL: 'DEBUG' },
    '/srv',
  );
  t.equal(c.port, 9000);
  t.equal(c.dataDir, '/var/lib/waxseal');
  t.equal(c.databaseUrl, 'postgres://u@db/waxseal');
  t.equal(c.publicUrl, 'https://keys.example.org', 'trailing slash dropped');
  t.same(c.kek, { source: 'env', value: '1:abc' });
  t.equal(c.logLevel, 'debug');
});

t.test('a bad value names its variable', async (t) => {
  const cases: [Record<string, string>, string][] = [
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL'],
    [{ PUBLIC_URL: 'not a url' }, 'PUBLIC_URL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ WAXSEAL_KEK: '1:a', WAXSEAL_KEK_FILE: '/k' }, 'WAXSEAL_KEK'],
    [{ TRUST_PROXY: 'maybe' }, 'TRUST_PROXY'],
    [{ MAX_PAYLOAD_BYTES: '-1' }, 'MAX_PAYLOAD_BYTES'],
    [{ PUBLIC_URL: 'http://keys.example.org' }, 'PUBLIC_URL'],
    [{ NODE_ENV: 'production' }, 'WAXSEAL_KEK_FILE'],
    [{ SMTP_URL: 'http://mail.example.org' }, 'SMTP_URL'],
    [{ SMTP_URL: 'smtp://mail.example.org:25?tls=none' }, 'SMTP_URL'],
    [{ MAIL_FROM: 'nobody' }, 'MAIL_FROM'],
    [{ HASH_CONCURRENCY: '0' }, 'HASH_CONCURRENCY'],
    [{ HASH_CONCURRENCY: 'all' }, 'HASH_CONCURRENCY'],
    [{ HASH_CONCURRENCY: '4', UV_THREADPOOL_SIZE: '4' }, 'UV_THREADPOOL_SIZE'],
  ];
  for (const [env, variable] of cases) {
    let caught: unknown = null;
    try {
      loadConfig(env);
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof ConfigError, `${variable} is refused`);
    t.equal((caught as ConfigError).variable, variable);
    t.ok((caught as ConfigError).message.startsWith(`${variable}:`), 'the message starts with the variable');
  }
});

t.test('plain http only for this machine or when allowed; production needs its own KEK', async (t) => {
  t.equal(loadConfig({ PUBLIC_URL: 'http://127.0.0.1:9000' }).publicUrl, 'http://127.0.0.1:9000');
  t.equal(loadConfig({ PUBLIC_URL: 'http://keys.internal', ALLOW_HTTP_PUBLIC_URL: 'true' }).publicUrl, 'http://keys.internal');
  t.equal(loadConfig({}).publicUrlIsDefault, true);
  t.equal(loadConfig({ PUBLIC_URL: 'https://keys.example.org' }).publicUrlIsDefault, false);
  t.same(loadConfig({ NODE_ENV: 'production', WAXSEAL_KEK_FILE: '/run/secrets/kek' }).kek, { source: 'file', path: '/run/secrets/kek', create: false });
});

t.test('outgoing mail: SMTP when configured, the local outbox otherwise', async (t) => {
  t.equal(loadConfig({}).smtpUrl, null);
  t.equal(loadConfig({}).mailFrom, 'Waxseal <noreply@localhost>');
  t.equal(loadConfig({ SMTP_URL: 'smtps://u:p@mail.example.org' }).smtpUrl, 'smtps://u:p@mail.example.org');
  let message = '';
  try {
    loadConfig({ SMTP_URL: 'smtp://user:hunter2@mail.example.org:25?tls=none' });
  } catch (err) {
    message = (err as Error).message;
  }
  t.match(message, /^SMTP_URL: /);
  t.notMatch(message, /hunter2/, 'the password never appears in the error');
});

t.test('seal configuration picks the per-profile credential first', async (t) => {
  const cred = (c: string) => `wxg_${'a'.repeat(12)}.${c.repeat(43)}`;
  const env = { WAXSEAL_URL: 'https://keys.example.org', WAXSEAL_CREDENTIAL: cred('b'), WAXSEAL_CREDENTIAL_HIGH_SECURITY: cred('c') };
  t.equal(loadSealConfig(env, 'high-security').credential, cred('c'));
  t.equal(loadSealConfig(env, 'other').credential, cred('b'));
  const variableOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err instanceof ConfigError ? err.variable : 'not a ConfigError';
    }
    return 'no error';
  };
  t.equal(variableOf(() => loadSealConfig({ WAXSEAL_CREDENTIAL: cred('b') }, 'x')), 'WAXSEAL_URL');
  t.equal(variableOf(() => loadSealConfig({ WAXSEAL_URL: 'https://k' }, 'x')), 'WAXSEAL_CREDENTIAL');
  t.equal(variableOf(() => loadSealConfig({ WAXSEAL_URL: 'https://k', WAXSEAL_CREDENTIAL: 'nope' }, 'x')), 'WAXSEAL_CREDENTIAL');
});

t.test('npm start refuses a bad value and names it', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, [path.resolve(import.meta.dirname, '../src/server.ts')], { env: { ...process.env, PORT: 'abc' }, encoding: 'utf8' });
  t.equal(r.status, 78);
  t.match(r.stderr, /configuration error: PORT: "abc" is not a whole number/);
});
