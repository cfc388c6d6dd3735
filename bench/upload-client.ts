import { randomBytes } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { runConcurrent, uploadBody } from './uploads.ts';

// A gateway's worth of concurrent keep-alive uploads against the key service.
const { address, token, count, concurrency } = workerData as { address: string; token: string; count: number; concurrency: number };
const dispatcher = new Agent({ connections: concurrency, pipelining: 1 });
const rate = await runConcurrent(count, concurrency, async () => {
  const res = await request(`${address}/api/v1/envelopes/${randomBytes(16).toString('base64url')}`, {
    method: 'PUT',
    dispatcher,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(uploadBody()),
  });
  await res.body.dump();
  if (res.statusCode !== 201) throw new Error(`upload failed: ${res.statusCode}`);
});
await dispatcher.close();
parentPort!.postMessage(rate);
