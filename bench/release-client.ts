import { parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { runConcurrent } from './upload-load.ts';

// Recipients' browsers asking for server shares, as the reader page does: same-origin POSTs
// carrying the session and the opening cookie.
const { address, ids, cookies, count, concurrency } = workerData as { address: string; ids: string[]; cookies: string[]; count: number; concurrency: number };
const dispatcher = new Agent({ connections: concurrency, pipelining: 1 });
const rate = await runConcurrent(count, concurrency, async (i) => {
  const n = i % ids.length;
  const res = await request(`${address}/open/${ids[n]}/key`, {
    method: 'POST',
    dispatcher,
    headers: { cookie: cookies[n]!, origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-origin' },
  });
  const body = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`release failed: ${res.statusCode} ${body}`);
});
await dispatcher.close();
parentPort!.postMessage(rate);
