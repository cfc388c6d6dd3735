import { parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { runConcurrent } from './upload-load.ts';

// Recipients signing in, each caller as its own person, from a browser on this origin.
const { address, emails, passphrase, count, callers } = workerData as { address: string; emails: string[]; passphrase: string; count: number; callers: number };
// Each caller from its own loopback address: people signing in come from their own networks,
// and the per-network throttle is meant to notice one network guessing, not many people.
const dispatchers = Array.from({ length: callers }, (_, i) => new Agent({ connections: 1, pipelining: 1, connect: { localAddress: `127.0.1.${i + 1}` } }));
let next = 0;
const rate = await runConcurrent(count, callers, async () => {
  const n = next++ % emails.length;
  const email = emails[n]!;
  const dispatcher = dispatchers[n % dispatchers.length]!;
  const res = await request(`${address}/signin`, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-origin' },
    body: new URLSearchParams({ email, passphrase, go: 'signin' }).toString(),
  });
  await res.body.dump();
  if (res.statusCode !== 303) throw new Error(`sign-in failed: ${res.statusCode} ${JSON.stringify(res.headers["retry-after"])}`);
});
await Promise.all(dispatchers.map((d) => d.close()));
parentPort!.postMessage(rate);
