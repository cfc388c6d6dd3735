// What the reader page (start-opening.ts, reader.ts) and its decrypting worker (reader-worker.ts)
// say to each other. Structured clone carries the message model as it is (Date, Map, bytes).
import type { MessageModel } from '../message-model.ts';

export type ToWorker =
  /** the ciphertext's Content-Length, when the server gave one */
  | { kind: 'length'; length: number | null }
  /** the next pieces of ciphertext, in order */
  | { kind: 'bytes'; pieces: Uint8Array[] }
  /** the ciphertext is complete, or the download broke off */
  | { kind: 'end'; failed?: boolean }
  /** the released share and the secret from the address bar: the worker may open the envelope */
  | { kind: 'key'; share: string; secret: string; envelopeId: string; algorithm: string | null };

export type WorkerReport =
  /** a large message's head and text, from its first megabytes; attachments come with `whole` */
  | { kind: 'head'; message: MessageModel }
  /** the whole message, and its raw bytes for "download .eml" */
  | { kind: 'whole'; message: MessageModel; raw: Uint8Array }
  | { kind: 'failed'; reason: 'damaged' | 'network' | 'unsupported' };
