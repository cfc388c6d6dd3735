import t from 'tap';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './helpers/key-service.ts';

// What `npm start` does on a fresh machine: embedded database, generated KEK, /healthz,
// and a clean exit on SIGTERM.
t.test('the key service starts on the embedded database and shuts down cleanly', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-start-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const child = spawn(process.execPath, [path.resolve(import.meta.dirname, '../src/server.ts')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info', HASH_CONCURRENCY: '3', UV_THREADPOOL_SIZE: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => child.kill('SIGKILL'));

  let health: Response | null = null;
  for (let i = 0; i < 120 && !health; i++) {
    await new Promise((r) => setTimeout(r, 250));
    health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null);
  }
  t.ok(health, `listening (log so far: ${log.slice(0, 500)})`);
  t.same(await health!.json(), { status: 'ok' });
  t.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
  t.ok((await fs.stat(path.join(dataDir, 'kek.json'))).isFile(), 'a KEK file was created in the data folder');
  t.match(log, /created a new key-encryption key file/, 'and the log says so');
  t.match(log, /"msg":"Waxseal key service is listening"/, 'JSON logs when not on a terminal');
  // libuv names its pool's threads; the pool was sized before its first use: 3 hashes + 4.
  const threads = await fs.readdir(`/proc/${child.pid}/task`);
  const names = await Promise.all(threads.map((tid) => fs.readFile(`/proc/${child.pid}/task/${tid}/comm`, 'utf8').catch(() => '')));
  t.equal(names.filter((n) => n.trim() === 'libuv-worker').length, 7, 'the thread pool has room for 3 passphrase hashes and 4 more');
  const kek = await fs.readFile(path.join(dataDir, 'kek.json'), 'utf8');
  t.notOk(log.includes(kek.trim().split(':')[1]!.slice(0, 20)), 'the KEK never appears in the log');

  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM ends it with exit code 0');
  t.match(log, /shutting down/);
});
