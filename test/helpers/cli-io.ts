import { PassThrough, Readable } from 'node:stream';
import type { CliIo } from '../../src/cli/io.ts';

/** A CliIo for runCli whose output the test reads back: stdout as bytes, stderr as text. */
export function captureIo(env: Record<string, string>, stdin: Buffer = Buffer.alloc(0)): { io: CliIo; out: () => Buffer; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  return {
    io: { env, stdin: Readable.from([stdin]), stdout, stderr },
    out: () => Buffer.concat(out),
    err: () => Buffer.concat(err).toString('utf8'),
  };
}
