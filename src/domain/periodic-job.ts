/** Something run every so often in the background: audit chaining, read-by notices. */
export interface PeriodicJob {
  /** Runs the job every `intervalMs` until stop(); a second start() does nothing. */
  start(intervalMs: number): void;
  /** Stops the timer and waits for a run in progress to finish. */
  stop(): Promise<void>;
}

/** A run that fails is reported to `onError` and tried again at the next tick. */
export function createPeriodicJob(run: () => Promise<unknown>, onError: (err: unknown) => void): PeriodicJob {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> = Promise.resolve();
  return {
    start(intervalMs) {
      if (timer) return;
      timer = setInterval(() => {
        running = run().catch(onError);
      }, intervalMs);
      // A pending run never keeps the process alive.
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}
