import { parseMessage, type MessageModel } from './message-model.ts';

/**
 * A large message (attachments, mostly) is shown in two steps: first its head and text, as soon
 * as they are decrypted, while the rest still arrives; then everything, attachments included,
 * once the whole envelope has opened.
 *
 * The head is tried on growing prefixes and shown only once the parser has passed the text into
 * a later part (an attachment or an inline image), so the text shown first is never cut short.
 * Its attachments are left out (the whole message lists them), so none is offered cut short
 * either. A message under twice a step's size just waits for the whole.
 */
export const HEAD_VIEW_STEPS: readonly number[] = [64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];

export interface HeadView {
  /** Called with each longer verified prefix of the plaintext (openEnvelopeStream's onVerified). */
  offer(prefix: Uint8Array): void;
  /** Resolves once no attempt is running, so the head is never shown after the whole. */
  settled(): Promise<void>;
  /** Whether the head may still be shown: not yet shown, and a step left to try. */
  canStillShow(): boolean;
}

export function createHeadView(opts: { length: number | null; show(head: MessageModel): void; steps?: readonly number[] }): HeadView {
  const steps = opts.steps ?? HEAD_VIEW_STEPS;
  let shown = false;
  let attempt: Promise<void> | null = null;
  let step = 0;
  return {
    offer(prefix) {
      if (shown || attempt) return;
      // Every step the prefix has reached, smallest first: a short text is found by parsing
      // 64 KB even when the first megabytes arrived in one piece.
      const reached: number[] = [];
      while (step < steps.length && prefix.length >= steps[step]!) reached.push(steps[step++]!);
      const sizes = reached.filter((size) => opts.length === null || opts.length >= 2 * size);
      if (sizes.length === 0) return;
      attempt = (async () => {
        for (const size of sizes) {
          let message: MessageModel;
          try {
            message = await parseMessage(prefix.slice(0, size));
          } catch {
            continue; // the whole message still comes; a head that did not parse is not shown
          }
          if (message.attachments.length === 0 && message.related.size === 0) continue;
          shown = true;
          opts.show({ ...message, attachments: [] });
          return;
        }
      })().finally(() => (attempt = null));
    },
    settled: async () => {
      await attempt;
    },
    canStillShow: () => !shown && step < steps.length,
  };
}
