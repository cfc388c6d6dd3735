import { readFileSync } from 'node:fs';
import { createKeyServiceClient } from '../src/gateway/key-client.ts';
import { sealMessage } from '../src/gateway/seal.ts';
import { createI18n } from '../src/i18n/create-i18n.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../src/paths.ts';

// Run as its own process, so its peak resident memory is the gateway's alone: reading the
// message, sealing it, uploading key and payload, building the notification.
const [url, credential, messageFile] = process.argv.slice(2);
const deps = { client: createKeyServiceClient({ url: url!, credential: credential! }), i18n: createI18n(LOCALES_DIR), views: VIEWS_DIR };
/**
 * Peak resident memory of this process. Linux keeps getrusage's maxRSS across exec (it would
 * report the parent's peak), so VmHWM from /proc is read where it exists.
 */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

const before = peakRss();
// Read whole, as `waxseal seal` reads standard input.
const message = readFileSync(messageFile!);
const sealed = await sealMessage(message, deps);
const peak = peakRss();
process.stdout.write(JSON.stringify({ before, peak, messageBytes: message.length, envelopeBytes: sealed.envelope.length, transport: sealed.transport }) + '\n');
