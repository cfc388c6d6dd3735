#!/usr/bin/env node
// The CLI is TypeScript run by Node's type stripping (Node 22.18+ / 24); see README.
import { runCli } from '../src/cli/main.ts';

runCli(process.argv.slice(2), { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`waxseal: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 70;
  },
);
