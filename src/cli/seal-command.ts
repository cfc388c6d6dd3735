import { parseArgs } from 'node:util';
import { loadSealConfig } from '../config.ts';
import { createI18n } from '../i18n/create-i18n.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../paths.ts';
import { createKeyServiceClient, KeyServiceError } from '../gateway/key-client.ts';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../gateway/message-head.ts';
import { MessageError } from '../gateway/message-errors.ts';
import { ProfileError, sealMessage } from '../gateway/seal.ts';
import { CliError, readAll, writeLine, type CliIo } from './io.ts';

const USAGE = `usage: waxseal seal --profile NAME [--rcpt ADDRESS]... < message.eml > envelope.eml
  Seals one RFC 5322 message with the key service at WAXSEAL_URL, using the credential in
  WAXSEAL_CREDENTIAL_<NAME> or WAXSEAL_CREDENTIAL. Writes nothing unless the key was stored.
  --rcpt gives the SMTP envelope recipients (as a mail filter knows them); without it the
  recipients are read from To, Cc and Bcc.`;

export async function sealCommand(args: string[], io: CliIo, opts: { retryBaseDelayMs?: number; attempts?: number } = {}): Promise<number> {
  const { values } = parseArgs({ args, options: { profile: { type: 'string' }, rcpt: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    writeLine(io.stdout, USAGE);
    return 0;
  }
  if (!values.profile) throw new CliError(`waxseal seal: --profile is required\n${USAGE}`, 2);
  const cfg = loadSealConfig(io.env, values.profile);
  const client = createKeyServiceClient({
    url: cfg.keyServiceUrl,
    credential: cfg.credential,
    attempts: opts.attempts,
    baseDelayMs: opts.retryBaseDelayMs,
    onRetry: ({ attempt, delayMs, reason }) =>
      writeLine(io.stderr, `waxseal seal: key service not answering (${reason}); retry ${attempt} in ${(delayMs / 1000).toFixed(1)} s`),
  });
  const message = await readAll(io.stdin, DEFAULT_MAX_MESSAGE_BYTES + 1);
  try {
    const info = await client.getProfile();
    if (info.profile.name !== values.profile) {
      throw new CliError(`the credential belongs to profile "${info.profile.name}", not "${values.profile}"`);
    }
    const sealed = await sealMessage(message, { client, i18n: createI18n(LOCALES_DIR), views: VIEWS_DIR }, info, { envelopeRecipients: values.rcpt });
    for (const w of sealed.warnings) writeLine(io.stderr, `waxseal seal: warning: ${w}`);
    // Only now, with the key stored, does anything reach the output.
    await new Promise<void>((resolve, reject) => io.stdout.write(sealed.envelope, (err) => (err ? reject(err) : resolve())));
    writeLine(io.stderr, `waxseal seal: sealed envelope ${sealed.envelopeId} (${sealed.transport} payload, ${sealed.locale})`);
    return 0;
  } catch (err) {
    // sysexits: 65 the message itself is wrong (bounce it), 75 try again later (keep it queued),
    // 77 the credential is refused, 78 the profile or configuration is wrong.
    if (err instanceof MessageError) throw new CliError(err.message, 65);
    if (err instanceof ProfileError) throw new CliError(err.message, 78);
    if (err instanceof KeyServiceError) {
      const code = err.code === 'rejected' ? 65 : err.code === 'unauthorized' ? 77 : 75;
      throw new CliError(err.message, code);
    }
    throw err;
  }
}
