import { Worker } from 'node:worker_threads';
import { createHash, randomBytes } from 'node:crypto';

/** One upload as a gateway sends it; random ids and shares, like real traffic. */
export function uploadBody() {
  return {
    serverShare: randomBytes(32).toString('base64url'),
    sender: 'sender@example.test',
    recipients: { to: ['alice@example.test'], cc: ['carol@example.test'], bcc: [] as string[] },
    subject: 'Quarterly numbers',
    securityLevel: 'high',
    expiresAt: null,
    readBy: null,
    flags: { replyEnabled: true, replyAllEnabled: false, forwardEnabled: false, sendReturnReceipt: true, suppressAppletForOpen: false, useScript: true, rememberEnvelopeKeyCheckbox: false },
    locale: 'en',
    algorithm: 'aes-256-gcm',
    payload: { transport: 'inline', digest: createHash('sha256').update(randomBytes(8)).digest('hex'), size: 50_000 },
  };
}

/** Runs `count` calls of `one`, `concurrency` at a time; returns calls per second. */
export async function runConcurrent(count: number, concurrency: number, one: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        await one(i);
      }
    }),
  );
  return count / (Number(process.hrtime.bigint() - start) / 1e9);
}

/**
 * Runs a load client (a module under bench/) in its own thread, so the key service's event loop
 * is measured without the load generator on it; resolves with the rate the client reports.
 */
export function runClientWorker(client: string, data: object): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(client, import.meta.url), { workerData: data });
    worker.once('message', (rate: number) => resolve(rate));
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`${client} exited with ${code}`)));
  });
}
