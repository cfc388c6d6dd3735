import type { Config } from './config.ts';
import type { KeyRing } from './crypto/kek.ts';
import type { Database } from './db/open-database.ts';
import { createAdminService, type AdminService } from './domain/admins/admin-service.ts';
import { createAuditService, type AuditService } from './domain/audit/audit-service.ts';
import { createCredentialService, type CredentialService } from './domain/credentials/credential-service.ts';
import { createEnvelopeService, type EnvelopeService } from './domain/envelopes/envelope-service.ts';
import { createUnfinishedUploadSweep, type UnfinishedUploadSweep } from './domain/envelopes/unfinished-uploads.ts';
import type { PayloadStore } from './domain/payloads/payload-store.ts';
import { createProfileService, type ProfileService } from './domain/profiles/profile-service.ts';
import { createMailService, type MailService } from './domain/mail/mail-service.ts';
import { createReleaseService, type ReleaseService } from './domain/releases/release-service.ts';
import { createReadByNotices, type ReadByNotices } from './domain/notices/read-by-notices.ts';
import { createOrgMessageService, createSentService, type OrgMessageService, type SentService } from './domain/senders/sent-service.ts';
import { createOpeningSealer, type OpeningSealer } from './domain/releases/opening-seal.ts';
import { createI18n } from './i18n/create-i18n.ts';
import type { i18n } from 'i18next';
import { createAccountServices } from './domain/accounts/account-wiring.ts';
import type { AccountService } from './domain/accounts/account-service.ts';
import type { SessionService } from './domain/accounts/session-service.ts';
import type { PassphraseHasher } from './crypto/passphrases.ts';
import { createStaffService, type StaffService } from './domain/staff/staff-service.ts';
import { createStaffMailer } from './domain/staff/staff-mail.ts';
import { LOCALES_DIR, VIEWS_DIR } from './paths.ts';

export interface Services {
  audit: AuditService;
  mail: MailService;
  admins: AdminService;
  profiles: ProfileService;
  credentials: CredentialService;
  envelopes: EnvelopeService;
  releases: ReleaseService;
  readBy: ReadByNotices;
  unfinishedUploads: UnfinishedUploadSweep;
  sent: SentService;
  orgMessages: OrgMessageService;
  openings: OpeningSealer;
  accounts: AccountService;
  sessions: SessionService;
  staff: StaffService;
}

/** Wires the domain services over one database; nothing here is global. */
export function createServices(deps: {
  database: Database;
  keyRing: KeyRing;
  payloads: PayloadStore;
  mail?: { smtpUrl: string | null; from: string };
  now?: () => Date;
  /** The process's one i18next instance (mail the services write is localized); made if absent. */
  i18n?: i18n;
  /** PUBLIC_URL, the base of links in account mail (verification, reset). */
  publicUrl?: string;
  /** The argon2id hasher for recipients' passphrases; one with the pinned parameters if absent. */
  hasher?: PassphraseHasher;
}): Services {
  const db = deps.database.db;
  const i18n = deps.i18n ?? createI18n(LOCALES_DIR);
  const audit = createAuditService({ db, now: deps.now });
  const profiles = createProfileService({ db, audit, now: deps.now });
  const mail = createMailService({ db, smtpUrl: deps.mail?.smtpUrl ?? null, from: deps.mail?.from ?? 'Waxseal <noreply@localhost>', now: deps.now });
  const envelopes = createEnvelopeService({ db, keyRing: deps.keyRing, payloads: deps.payloads, now: deps.now });
  const accountServices = createAccountServices({ db, mail, i18n, publicUrl: deps.publicUrl ?? 'http://localhost:8080', hasher: deps.hasher, now: deps.now });
  return {
    audit,
    mail,
    admins: createAdminService({ db, audit, now: deps.now }),
    profiles,
    credentials: createCredentialService({ db, profiles, audit, now: deps.now }),
    envelopes,
    releases: createReleaseService({ db, envelopes, mail, i18n, now: deps.now }),
    readBy: createReadByNotices({ db, mail, i18n, now: deps.now }),
    unfinishedUploads: createUnfinishedUploadSweep({ db, now: deps.now }),
    openings: createOpeningSealer(deps.keyRing),
    ...accountServices,
    sent: createSentService({ db, accounts: accountServices.accounts, audit, now: deps.now }),
    orgMessages: createOrgMessageService({ db, audit, now: deps.now }),
    staff: createStaffService({
      db,
      accounts: accountServices.accounts,
      audit,
      mailer: createStaffMailer({ mail, i18n, views: VIEWS_DIR, publicUrl: deps.publicUrl ?? 'http://localhost:8080' }),
      now: deps.now,
    }),
  };
}

/** Where recipients' browsers fetch a by-reference payload, following the profile's transport. */
export function payloadUrlFor(
  config: Pick<Config, 'publicUrl' | 'payloadUrl'>,
  transport: { referenceScheme: 'public' | 'https' | 'http' | 'separate-url'; separateUrl: string | null },
  envelopeId: string,
): string {
  if (transport.referenceScheme === 'separate-url' && transport.separateUrl) {
    return `${transport.separateUrl.replace(/\/+$/, '')}/${envelopeId}`;
  }
  const base = new URL(config.payloadUrl ?? config.publicUrl);
  const wanted = transport.referenceScheme === 'http' ? 'http:' : transport.referenceScheme === 'https' ? 'https:' : base.protocol;
  if (wanted !== base.protocol) {
    // A port belongs to one scheme (TLS or not); switching schemes means the other standard port.
    base.protocol = wanted;
    base.port = '';
  }
  return `${base.toString().replace(/\/+$/, '')}/payloads/${envelopeId}`;
}
