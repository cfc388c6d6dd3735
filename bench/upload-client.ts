import { randomBytes } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { runConcurrent, uploadBody } from './upload-load.ts';

// A gateway's worth of concurrent keep-alive uploads against the key service.
const { address, token, count, concurrency } = workerData as { address: string; token: string; count: number; concurrency: number };
const dispatcher = new Agent({ connections: concurrency, pipelining: 1 });
// Bodies are made before the clock starts: the load generator's own work is not the key service's.
const bodies = Array.from({ length: count }, () => ({ id: randomBytes(16).toString('base64url'), json: JSON.stringify(uploadBody()) }));
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
const rate = await runConcurrent(count, concurrency, async (i) => {
  const { id, json } = bodies[i]!;
  const res = await request(`${address}/api/v1/envelopes/${id}`, { method: 'PUT', dispatcher, headers, body: json });
  await res.body.dump();
  if (res.statusCode !== 201) throw new Error(`upload failed: ${res.statusCode}`);
});
await dispatcher.close();
parentPort!.postMessage(rate);
