import PostalMime from 'postal-mime';
import type { Services } from '../../src/services.ts';

export const PASSPHRASE = 'correct horse battery staple';

/**
 * Registers an account for `email` through the services, verifies it with the link from the
 * outbox mail, signs in and returns the session cookie's value: what a browser would hold.
 */
export async function signedInCookie(services: Services, name: string, email: string): Promise<string> {
  await services.accounts.register({ name, email, passphrase: PASSPHRASE, passphrase2: PASSPHRASE, securityPhrase: 'x y z', locale: 'en', network: '127.0.0.1' });
  const mail = (await services.mail.listOutbox(1000)).find((m) => m.to.includes(email));
  if (!mail) throw new Error(`no verification mail for ${email}`);
  const text = (await PostalMime.parse((await services.mail.readOutbox(mail.id))!)).text ?? '';
  const verified = await services.accounts.verifyAddress(/verify#(\S+)/.exec(text)![1]!);
  if (!verified.ok) throw new Error(`${email} not verified`);
  const signed = await services.accounts.signIn({ email, passphrase: PASSPHRASE, network: '127.0.0.1' });
  if (!signed.ok) throw new Error('sign-in failed');
  return (await services.sessions.create(signed.accountId, { remember: false, userAgent: null, ip: null })).cookie;
}
