import { parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { runConcurrent } from './upload-load.ts';

// Recipients signing in, each caller as its own person, from a browser on this origin. The
// thread stays up between runs (one per message from the parent, which answers with the rate),
// so that runs alternating with the baseline keep their connections.
const { address, emails, passphrase, callers } = workerData as { address: string; emails: string[]; passphrase: string; callers: number };
// Each caller from its own loopback address: people signing in come from their own networks,
// and the per-network throttle is meant to notice one network guessing, not many people.
const dispatchers = Array.from({ length: callers }, (_, i) => new Agent({ connections: 1, pipelining: 1, connect: { localAddress: `127.0.1.${i + 1}` } }));
let next = 0;

async function signIn() {
  const n = next++ % emails.length;
  const res = await request(`${address}/signin`, {
    method: 'POST',
    dispatcher: dispatchers[n % dispatchers.length]!,
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-origin' },
    body: new URLSearchParams({ email: emails[n]!, passphrase, go: 'signin' }).toString(),
  });
  await res.body.dump();
  if (res.statusCode !== 303 || !String(res.headers['set-cookie'] ?? '').includes('__Host-')) {
    throw new Error(`sign-in failed: ${res.statusCode} ${JSON.stringify(res.headers['retry-after'])}`);
  }
}

parentPort!.on('message', async (count: number | 'stop') => {
  if (count === 'stop') {
    await Promise.all(dispatchers.map((d) => d.close()));
    parentPort!.close();
    return;
  }
  parentPort!.postMessage(await runConcurrent(count, callers, signIn));
});
