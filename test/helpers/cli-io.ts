import { PassThrough, Readable } from 'node:stream';
import type { CliIo } from '../../src/cli/io.ts';
import { runCli } from '../../src/cli/main.ts';
import { parseEnvelopeMail, type ParsedEnvelopeMail } from './envelope-file.ts';

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

/**
 * `waxseal seal --profile PROFILE` on `message`, as the browser suites use it: the notification
 * it writes, read as a recipient's mail client would (a failed seal throws with its stderr).
 */
export async function sealWithCli(env: Record<string, string>, profile: string, message: Buffer): Promise<ParsedEnvelopeMail> {
  const cli = captureIo(env, message);
  const code = await runCli(['seal', '--profile', profile], cli.io);
  if (code !== 0) throw new Error(`seal exited ${code}: ${cli.err()}`);
  return parseEnvelopeMail(cli.out());
}
