import { createKeyServiceClient } from '../src/gateway/key-client.ts';
import { sealMessage } from '../src/gateway/seal.ts';
import { createI18n } from '../src/i18n/create-i18n.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../src/runtime.ts';
import { syntheticMessage } from './seal.ts';

// Run as its own process, so its peak resident memory is the gateway's alone: reading the
// message, sealing it, uploading key and payload, building the notification.
const [url, credential, sizeArg] = process.argv.slice(2);
const deps = { client: createKeyServiceClient({ url: url!, credential: credential! }), i18n: createI18n(LOCALES_DIR), views: VIEWS_DIR };
const before = process.resourceUsage().maxRSS * 1024;
const message = syntheticMessage(Number(sizeArg));
const sealed = await sealMessage(message, deps);
const peak = process.resourceUsage().maxRSS * 1024;
process.stdout.write(JSON.stringify({ before, peak, messageBytes: message.length, envelopeBytes: sealed.envelope.length, transport: sealed.transport }) + '\n');
