import type { Readable, Writable } from 'node:stream';

/** Everything a command touches outside itself, so tests run commands in-process. */
export interface CliIo {
  env: Record<string, string | undefined>;
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/** A failure the user can act on: printed as one sentence, no stack. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export async function readAll(stream: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += b.length;
    // Stop reading early: the limit is checked again with a proper message by the sealer.
    if (size > maxBytes) return Buffer.concat([...chunks, b]);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export function writeLine(stream: Writable, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}
