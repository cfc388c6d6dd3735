import { parseMessage, type MessageModel } from './message-model.ts';

/**
 * A large message (attachments, mostly) is shown in two steps: first its head and text, as soon
 * as they are decrypted, while the rest still arrives; then everything, attachments included,
 * once the whole envelope has opened.
 *
 * The head is tried on growing prefixes and shown only once the parser has passed the text into
 * a later part (an attachment or an inline image), so the text it shows is not cut off mid-way.
 * A text part that comes after an attachment (a mailing list's footer, say) is not in it yet:
 * it appears with the whole message, as do the attachments and inline images (the last of which
 * is cut short in any prefix). A message under twice a step's size just waits for the whole, and
 * so does a message that is a single text part, which no prefix can show whole.
 */
export const HEAD_VIEW_STEPS: readonly number[] = [64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];

export interface HeadView {
  /** Called with each longer verified prefix of the plaintext (openEnvelopeStream's onVerified). */
  offer(prefix: Uint8Array): void;
  /** Resolves once no attempt is running, so the head is never shown after the whole. */
  settled(): Promise<void>;
  /** Whether a head may still be shown: none yet, not given up, and a step it could use left. */
  canStillShow(): boolean;
  /** The opening ended (whole, or failed): no head from now on, even from an attempt running. */
  cancel(): void;
}

export function createHeadView(opts: {
  length: number | null;
  show(head: MessageModel): void;
  steps?: readonly number[];
  /** the parser (parseMessage; tests watch what it is given) */
  parse?: (raw: Uint8Array) => Promise<MessageModel>;
}): HeadView {
  const steps = opts.steps ?? HEAD_VIEW_STEPS;
  const parse = opts.parse ?? parseMessage;
  let done = false;
  let attempt: Promise<void> | null = null;
  let step = 0;
  const usable = (size: number) => opts.length === null || opts.length >= 2 * size;
  return {
    offer(prefix) {
      if (done || attempt) return;
      if (step === 0 && prefix.length >= steps[0]! && singleTextPart(prefix)) done = true;
      // Every step the prefix has reached, smallest first: a short text is found by parsing
      // 64 KB even when the first megabytes arrived in one piece.
      const reached: number[] = [];
      while (step < steps.length && prefix.length >= steps[step]!) reached.push(steps[step++]!);
      const sizes = reached.filter(usable);
      if (done || sizes.length === 0) return;
      // Copied now: the caller's view of the plaintext may be replaced (or wiped) once it returns.
      const copy = prefix.slice(0, sizes[sizes.length - 1]);
      attempt = (async () => {
        for (const size of sizes) {
          let message: MessageModel;
          try {
            message = await parse(copy.subarray(0, size));
          } catch {
            continue; // the whole message still comes; a head that did not parse is not shown
          }
          if (done) return;
          if (message.attachments.length === 0 && message.related.size === 0) continue;
          done = true;
          try {
            opts.show({ ...message, attachments: [], related: new Map() });
          } catch {
            // A head that could not be handed over is not shown; the whole message still is.
          }
          return;
        }
      })().finally(() => (attempt = null));
    },
    settled: async () => {
      await attempt;
    },
    canStillShow: () => !done && steps.slice(step).some(usable),
    cancel: () => {
      done = true;
    },
  };
}

/** Whether the message's top-level part is text (no Content-Type means text/plain). */
function singleTextPart(prefix: Uint8Array): boolean {
  const head = new TextDecoder('latin1').decode(prefix.subarray(0, Math.min(prefix.length, 64 * 1024)));
  const end = head.search(/\r?\n\r?\n/);
  const block = (end === -1 ? head : head.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const type = /^content-type:[ \t]*([^;\s]+)/im.exec(block)?.[1]?.toLowerCase() ?? 'text/plain';
  return type.startsWith('text/');
}
