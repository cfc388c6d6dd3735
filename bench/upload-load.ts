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

/**
 * A load client (a module under bench/) kept running in its own thread for several runs: each
 * run(count) posts the count and resolves with the rate the client reports; stop() ends it.
 */
export function startClientWorker(client: string, data: object): { run(count: number): Promise<number>; stop(): Promise<void> } {
  const worker = new Worker(new URL(client, import.meta.url), { workerData: data });
  let failed: Error | null = null;
  let waiting: { resolve: (rate: number) => void; reject: (err: Error) => void } | null = null;
  const fail = (err: Error) => {
    failed = err;
    waiting?.reject(err);
    waiting = null;
  };
  worker.on('message', (rate: number) => {
    waiting?.resolve(rate);
    waiting = null;
  });
  worker.once('error', fail);
  worker.once('exit', (code) => fail(new Error(`${client} exited with ${code}`)));
  return {
    run(count) {
      if (failed) return Promise.reject(failed);
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        worker.postMessage(count);
      });
    },
    async stop() {
      if (failed) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      await exited;
    },
  };
}
