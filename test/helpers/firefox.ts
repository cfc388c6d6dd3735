import { accessSync, constants } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';

// Debian's Firefox ESR, driven over WebDriver BiDi by puppeteer-core (playwright-core needs its own
// patched Firefox, which cannot be downloaded here).
const DEBIAN_FIREFOX = '/usr/bin/firefox-esr';
const NO_FIREFOX = 'Firefox tests DID NOT RUN: Firefox not found (install the Debian package firefox-esr or set FIREFOX_PATH)';

export function firefoxPath(): string | null {
  const path = process.env['FIREFOX_PATH']?.trim() || DEBIAN_FIREFOX;
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return null;
  }
}

/** The `skip` option for Firefox tests: false when Firefox is there; under CI=true its absence fails. */
export function firefoxSkip(): string | false {
  if (firefoxPath() !== null) return false;
  if (process.env['CI'] === 'true') throw new Error('CI=true but Firefox is not installed: the Firefox suites must run in CI');
  const frame = '*'.repeat(NO_FIREFOX.length + 8);
  process.stderr.write(`\n${frame}\n*** ${NO_FIREFOX} ***\n${frame}\n\n`);
  return NO_FIREFOX;
}

export async function launchFirefox(): Promise<Browser> {
  const executablePath = firefoxPath();
  if (executablePath === null) throw new Error(NO_FIREFOX);
  return puppeteer.launch({ browser: 'firefox', executablePath, headless: true });
}
