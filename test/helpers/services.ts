import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createKeyRing, type KeyRing } from '../../src/crypto/kek.ts';
import type { GatewayPrincipal } from '../../src/domain/credentials/credential-service.ts';
import type { EnvelopeUpload } from '../../src/domain/envelopes/envelope-types.ts';
import { createFilePayloadStore } from '../../src/domain/payloads/payload-store.ts';
import { createServices, type Services } from '../../src/services.ts';
import type { OpenedDatabase } from './databases.ts';

/** A valid upload body; the subject also seeds the digest so different subjects differ. */
export function sampleUpload(subject: string | null = null): EnvelopeUpload {
  return {
    serverShare: randomBytes(32).toString('base64url'),
    sender: 'a@example.test',
    recipients: { to: ['b@example.test'], cc: [], bcc: [] },
    subject,
    securityLevel: 'high',
    expiresAt: null,
    readBy: null,
    flags: { replyEnabled: true, replyAllEnabled: false, forwardEnabled: false, sendReturnReceipt: false, suppressAppletForOpen: false, useScript: true, rememberEnvelopeKeyCheckbox: false },
    locale: 'en',
    algorithm: 'aes-256-gcm',
    payload: { transport: 'inline', digest: createHash('sha256').update(subject ?? '').digest('hex'), size: 100 },
  };
}

export interface GatewaySetup {
  services: Services;
  orgId: string;
  token: string;
  principal: GatewayPrincipal;
  payloadDir: string;
}

/**
 * Services over a test database with one organisation, one profile "P" and one provisioned
 * gateway. `teardown` is the test's, so the payload folder goes when the test ends.
 */
export async function servicesWithGateway(
  teardown: (fn: () => Promise<void>) => void,
  opened: OpenedDatabase,
  opts: { keyRing?: KeyRing; now?: () => Date } = {},
): Promise<GatewaySetup> {
  const payloadDir = await fs.mkdtemp(path.join(os.tmpdir(), 'waxseal-payloads-'));
  teardown(() => fs.rm(payloadDir, { recursive: true, force: true }));
  const services = createServices({
    database: opened.database,
    keyRing: opts.keyRing ?? createKeyRing(new Map([[1, randomBytes(32)]])),
    payloads: createFilePayloadStore(payloadDir),
    now: opts.now,
    publicUrl: 'https://keys.example.test',
  });
  const init = await services.admins.initialise({ organisation: 'Org', email: 'admin@example.test' });
  await services.profiles.create(init.orgId, 'P');
  const { token } = await services.credentials.provision(init.orgId, 'P', 'gw@example.test');
  const principal = (await services.credentials.authenticate(token))!;
  return { services, orgId: init.orgId, token, principal, payloadDir };
}
