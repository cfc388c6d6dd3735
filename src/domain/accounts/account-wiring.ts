import type { Kysely } from 'kysely';
import type { i18n } from 'i18next';
import type { DB } from '../../db/schema.ts';
import { createPassphraseHasher, type PassphraseHasher } from '../../crypto/passphrases.ts';
import { createPassphrasePolicy } from '../../crypto/passphrase-policy.ts';
import { VIEWS_DIR } from '../../paths.ts';
import type { MailService } from '../mail/mail-service.ts';
import { createAccountMailer } from './account-mail.ts';
import { createAccountService, type AccountService } from './account-service.ts';
import { createSessionService, type SessionService } from './session-service.ts';
import { createThrottle } from './throttle.ts';

/** The account side of the services: accounts and sessions over one database, one hasher. */
export function createAccountServices(deps: {
  db: Kysely<DB>;
  mail: MailService;
  i18n: i18n;
  /** Base of the links in mails (PUBLIC_URL). */
  publicUrl: string;
  /** One per process: it bounds concurrent argon2 work. Made with the pinned parameters if absent. */
  hasher?: PassphraseHasher;
  now?: () => Date;
}): { accounts: AccountService; sessions: SessionService } {
  const { db, now } = deps;
  const sessions = createSessionService({ db, now });
  const accounts = createAccountService({
    db,
    hasher: deps.hasher ?? createPassphraseHasher(),
    policy: createPassphrasePolicy(),
    throttle: createThrottle({ db, now }),
    sessions,
    mailer: createAccountMailer({ mail: deps.mail, i18n: deps.i18n, views: VIEWS_DIR, publicUrl: deps.publicUrl }),
    now,
  });
  return { accounts, sessions };
}
