import { accessSync, constants } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';

// Debian's package puts the browser here; `npx playwright install` is not how this project gets it.
const DEBIAN_CHROMIUM = '/usr/bin/chromium';

export const NO_CHROMIUM =
  'Browser tests DID NOT RUN: Chromium not found (install the Debian package chromium or set CHROMIUM_PATH)';
export const CI_WITHOUT_CHROMIUM = 'CI=true but Chromium is not installed: the browser suites must run in CI';

// Flags that work in containers without a GPU, a user namespace sandbox or outside network.
// The last four keep the browser from calling home, so a test that counts requests sees only
// what the page itself asked for.
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Chromium binary to drive: CHROMIUM_PATH when set (CI exports it, possibly empty), else
 * Debian's /usr/bin/chromium when present, else null.
 */
export function chromiumPath(): string | null {
  const fromEnv = process.env['CHROMIUM_PATH']?.trim();
  if (fromEnv) return isExecutable(fromEnv) ? fromEnv : null;
  return isExecutable(DEBIAN_CHROMIUM) ? DEBIAN_CHROMIUM : null;
}

let warned = false;

/**
 * The `skip` option for browser subtests: false when Chromium is available.
 *
 * Without Chromium, CI=true makes this throw (a CI run that silently skips the browser suites
 * proves nothing); elsewhere the suites are skipped with a reason that is also printed, framed,
 * on stderr, so nobody mistakes a skipped run for a passing one.
 */
export function browserSkip(): string | false {
  if (chromiumPath() !== null) return false;
  if (process.env['CI'] === 'true') throw new Error(CI_WITHOUT_CHROMIUM);
  const configured = process.env['CHROMIUM_PATH']?.trim();
  const reason = configured ? `${NO_CHROMIUM} (CHROMIUM_PATH=${configured} is not an executable file)` : NO_CHROMIUM;
  if (!warned) {
    warned = true;
    const frame = '*'.repeat(reason.length + 8);
    process.stderr.write(`\n${frame}\n*** ${reason} ***\n${frame}\n\n`);
  }
  return reason;
}

/** Launches headless Chromium with the flags above. Throws if there is no Chromium. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (executablePath === null) throw new Error(NO_CHROMIUM);
  return chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS] });
}
