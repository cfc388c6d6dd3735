import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { openEnvelope, EnvelopeAuthError } from '../../src/crypto/envelope-crypto.ts';
import { createKeyServiceClient } from '../../src/gateway/key-client.ts';
import { sealMessage } from '../../src/gateway/seal.ts';
import { createI18n } from '../../src/i18n/create-i18n.ts';
import { LOCALES_DIR, VIEWS_DIR } from '../../src/paths.ts';
import { engines } from '../helpers/databases.ts';
import { parseEnvelopeMail } from '../helpers/envelope-file.ts';
import { listenKeyService, provisionProfile } from '../helpers/key-service.ts';

/**
 * Threat model, first row: a full database dump plus the KEK opens nothing without the
 * envelope file; and the file opens nothing without the server share.
 */
const MARKER = `PLAINTEXT-MARKER-${randomBytes(8).toString('hex')}`;
const message = Buffer.from(
  [
    'From: Ana <ana@example.test>',
    'To: bob@example.test',
    'Subject: Merger terms',
    'Date: Sat, 28 Nov 2026 10:00:00 +0000',
    'Message-ID: <m1@example.test>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `The secret figure is ${MARKER}.`,
    '',
  ].join('\r\n'),
);

async function readTree(dir: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await readTree(p)));
    else if (entry.isFile()) out.push(await fs.readFile(p));
  }
  return out;
}

function hasSecret(haystack: Buffer, secret: Uint8Array): boolean {
  const s = Buffer.from(secret);
  return haystack.includes(s) || haystack.includes(Buffer.from(s.toString('base64url'))) || haystack.includes(Buffer.from(s.toString('base64'))) || haystack.includes(Buffer.from(s.toString('hex')));
}

for (const engine of engines()) {
  t.test(`stolen data on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    const ks = await listenKeyService(opened);
    t.teardown(async () => {
      await ks.close();
      await opened.dispose();
    });
    const token = await provisionProfile(ks, 'Dump');
    const client = createKeyServiceClient({ url: ks.url, credential: token, attempts: 1 });
    const sealed = await sealMessage(message, { client, i18n: createI18n(LOCALES_DIR), views: VIEWS_DIR });
    const file = await parseEnvelopeMail(sealed.envelope);
    const share = (await ks.services.envelopes.serverShare(sealed.envelopeId))!;

    let dump: Buffer;
    if (engine.name === 'postgres') {
      dump = execFileSync('pg_dump', ['--no-owner', '--data-only', opened.url!], { maxBuffer: 256 * 1024 * 1024 });
      t.match(dump.toString(), /COPY public\.envelopes/, 'the dump holds the envelopes table');
    } else {
      // A stolen disk: every file of the embedded database's folder, WAL included.
      dump = Buffer.concat(await readTree(opened.dataDir!));
    }
    t.ok(dump.includes(Buffer.from(sealed.envelopeId)), 'the dump holds the envelope row (the check below is not vacuous)');
    t.notOk(dump.includes(Buffer.from(MARKER)), 'no plaintext in the dump');
    t.notOk(hasSecret(dump, file.envelopeSecret), 'the envelope secret is not in the dump');
    t.notOk(hasSecret(dump, share), 'the server share is not in the dump in the clear');

    // The attacker holds the dump and the KEK, so has the share, but not the envelope file:
    // every guess at the other half fails authentication.
    const payload = file.inlinePayload!;
    for (let i = 0; i < 3; i++) {
      await t.rejects(openEnvelope({ serverShare: share, envelopeSecret: randomBytes(32) }, payload), EnvelopeAuthError);
    }
    // The attacker holds the file (a stolen mailbox) but not the share.
    await t.rejects(openEnvelope({ serverShare: randomBytes(32), envelopeSecret: file.envelopeSecret }, payload), EnvelopeAuthError);
    await t.rejects(openEnvelope({ serverShare: file.envelopeSecret, envelopeSecret: file.envelopeSecret }, payload), EnvelopeAuthError);
    t.notOk(file.html.includes(Buffer.from(share).toString('base64url')), 'the file does not carry the share');
    // And with both halves it does open: the failures above are not for some other reason.
    const plain = await openEnvelope({ serverShare: share, envelopeSecret: file.envelopeSecret }, payload);
    t.ok(Buffer.from(plain).toString().includes(MARKER));
  });
}
