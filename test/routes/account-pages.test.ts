import t from 'tap';
import { SESSION_COOKIE, SESSION_LIMITS } from '../../src/domain/accounts/session-service.ts';
import { THROTTLE_POLICIES } from '../../src/domain/accounts/throttle-policy.ts';
import { UNVERIFIED_ACCOUNT_LIFETIME_MS } from '../../src/domain/accounts/account-service.ts';
import { engines } from '../helpers/databases.ts';
import {
  codeIn,
  CROSS_SITE,
  decoded,
  get,
  newBrowser,
  PASSPHRASE,
  post,
  registeredAccount,
  sessionCookie,
  signIn,
  startAccountApp,
  type AccountApp,
} from './account-fixture.ts';

const MINUTE = 60_000;

for (const engine of engines()) {
  t.test(`account pages on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    const fx: AccountApp = await startAccountApp(opened);
    t.teardown(async () => {
      await fx.close();
      await opened.dispose();
    });
    const { app } = fx;
    const db = opened.database.db;

    t.test('register → verification mail → verify → sign in → /account', async (t) => {
      const browser = newBrowser('192.0.2.1');
      const form = await get(app, '/register?next=%2Fopen%2Fabc&email=Rita%40Example.test', browser);
      t.equal(form.statusCode, 200);
      t.match(form.body, /<form method="post" action="">/, 'the form posts to its own URL (query and fragment kept)');
      t.match(form.body, /value="Rita@Example.test"/, 'the address from the query is filled in');
      t.notMatch(form.body, /href="\/signin/, 'no link away from the page: links drop the fragment');

      const refused = await post(app, '/register?next=%2Fopen%2Fabc', { name: 'Rita', email: 'rita@example.test', passphrase: 'pass', passphrase2: 'pass', securityPhrase: 'blue' }, browser);
      t.equal(refused.statusCode, 400);
      t.match(decoded(refused.body), /too short: use at least 8 characters/, 'the policy refusal in words');
      t.match(refused.body, /role="alert"/);
      const common = await post(app, '/register', { name: 'Rita', email: 'rita@example.test', passphrase: 'password123', passphrase2: 'password123', securityPhrase: 'blue' }, browser);
      t.match(decoded(common.body), /among the most common ones/);
      const mismatch = await post(app, '/register', { name: 'Rita', email: 'rita@example.test', passphrase: PASSPHRASE, passphrase2: `${PASSPHRASE}!`, securityPhrase: 'blue' }, browser);
      t.match(decoded(mismatch.body), /two passphrases are not the same/);
      t.equal((await fx.mails()).filter((m) => m.to === 'rita@example.test').length, 0, 'no mail for a refused form');

      const res = await post(app, '/register?next=%2Fopen%2Fabc', { name: 'Rita Example', email: 'Rita@Example.test', passphrase: PASSPHRASE, passphrase2: PASSPHRASE, securityPhrase: 'green teapot on Sunday', go: 'register' }, browser);
      t.equal(res.statusCode, 200);
      t.match(decoded(res.body), /We sent a mail to Rita@Example.test/);
      t.match(res.body, /name="go" value="continue"/, 'continue is a button posting to this page, not a link');
      const mails = (await fx.mails()).filter((m) => m.to === 'rita@example.test');
      t.equal(mails.length, 1);
      const mail = mails[0]!;
      t.equal(mail.kind, 'verification');
      t.equal(mail.subject, 'Confirm your email address');
      const code = codeIn(mail.text, 'wxv');
      t.ok(mail.text.includes(`https://keys.example.test/verify#${code}`), 'the link carries the code in the fragment');
      t.ok(mail.html.includes(`href="https://keys.example.test/verify#${code}"`), 'the HTML part links the same way');
      t.notMatch(mail.text, /\/verify\?/, 'never in a query string');

      // Before verification the address belongs to nobody: signing in fails like any wrong pair.
      const early = await signIn(fx, newBrowser('192.0.2.2'), 'rita@example.test');
      t.equal(early.statusCode, 400);

      const cont = await post(app, '/register?next=%2Fopen%2Fabc', { email: 'rita@example.test', go: 'continue' }, browser);
      t.equal(cont.statusCode, 303);
      t.equal(cont.headers.location, '/signin?next=%2Fopen%2Fabc', 'continue leads to sign-in with next, and no fragment');

      const page = await get(app, '/verify');
      t.equal(page.statusCode, 200);
      t.match(page.body, /<script src="\/assets\/token-from-fragment.js" defer><\/script>/);
      t.match(page.body, /<input type="hidden" name="token" value="" data-token-from-fragment>/);
      t.match(page.body, /<input type="text" id="code" name="code"/, 'without script the code is pasted');
      t.match(String(page.headers['content-security-policy']), /script-src 'self'/);
      const script = await get(app, '/assets/token-from-fragment.js');
      t.equal(script.statusCode, 200);
      t.match(script.body, /history\.replaceState/);

      const verified = await post(app, '/verify', { token: '', code: ` ${code}\n` });
      t.equal(verified.statusCode, 200, 'a pasted code works too (whitespace ignored)');
      t.match(decoded(verified.body), /rita@example.test now belongs to your account/);
      t.match(decoded(verified.body), /Go back to the secure message/);

      const signedIn = await signIn(fx, browser, 'RITA@example.test', PASSPHRASE, { next: '/open/abc' });
      t.equal(signedIn.statusCode, 303);
      t.equal(signedIn.headers.location, '/open/abc');
      t.ok(browser.cookie);
      const home = await get(app, '/account', browser);
      t.equal(home.statusCode, 200);
      t.match(decoded(home.body), /Rita Example/);
      t.match(decoded(home.body), /rita@example.test/);
      t.match(decoded(home.body), /green teapot on Sunday/);
      t.match(decoded(home.body), /Firefox \(Linux\)/, 'the session list names the browser');
      t.match(decoded(home.body), /this browser/);

      const account = await db.selectFrom('accounts').select(['locale', 'passphrase_hash']).where('name', '=', 'Rita Example').executeTakeFirstOrThrow();
      t.equal(account.locale, 'en', 'the page locale is stored');
      t.match(account.passphrase_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    });

    t.test('the session cookie: __Host-, Secure, HttpOnly, SameSite=Lax; persistent only when remembered', async (t) => {
      await registeredAccount(fx, 'cookie@example.test');
      const res = await signIn(fx, newBrowser(), 'cookie@example.test');
      const c = sessionCookie(res)!;
      t.ok(c.raw.startsWith(`${SESSION_COOKIE}=wxs_`));
      t.equal(SESSION_COOKIE.startsWith('__Host-'), true);
      t.match(c.raw, /; Path=\//);
      t.match(c.raw, /; Secure/);
      t.match(c.raw, /; HttpOnly/);
      t.match(c.raw, /; SameSite=Lax/);
      t.notMatch(c.raw, /Domain=/i);
      t.notMatch(c.raw, /Expires=|Max-Age=/i, 'a session cookie without "remember me"');
      const remembered = sessionCookie(await signIn(fx, newBrowser(), 'cookie@example.test', PASSPHRASE, { remember: true }))!;
      const expires = new Date(/Expires=([^;]+)/.exec(remembered.raw)![1]!).getTime();
      t.ok(Math.abs(expires - (fx.clock.now().getTime() + SESSION_LIMITS.rememberedAbsoluteMs)) < 2000, 'remembered: persistent until the absolute limit');
    });

    t.test('wrong passphrase and unknown address: same status, same body', async (t) => {
      await registeredAccount(fx, 'known@example.test');
      fx.clock.advance(2 * 3600_000);
      const wrong = await post(app, '/signin?next=%2Fopen%2Fx', { email: 'known@example.test', passphrase: 'not the passphrase', go: 'signin' }, newBrowser('192.0.2.30'));
      const unknown = await post(app, '/signin?next=%2Fopen%2Fx', { email: 'nobody@example.test', passphrase: 'not the passphrase', go: 'signin' }, newBrowser('192.0.2.31'));
      t.equal(wrong.statusCode, 400);
      t.equal(unknown.statusCode, wrong.statusCode);
      t.equal(unknown.body.replaceAll('nobody@example.test', 'X'), wrong.body.replaceAll('known@example.test', 'X'));
      t.match(decoded(wrong.body), /The email address or the passphrase is not right/);
      t.notMatch(decoded(wrong.body), /green teapot/, 'a typed address never shows its Personal Security Phrase');
      t.equal(sessionCookie(wrong), undefined);
    });

    t.test('registration answers the same for a taken address, and mails its owner instead', async (t) => {
      await registeredAccount(fx, 'taken@example.test');
      const before = await db.selectFrom('accounts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      const fields = (email: string) => ({ name: 'Mallory', email, passphrase: 'violet river under stones', passphrase2: 'violet river under stones', securityPhrase: 'my phrase' });
      const takenRes = await post(app, '/register', fields('taken@example.test'), newBrowser('192.0.2.40'));
      const freeRes = await post(app, '/register', fields('free@example.test'), newBrowser('192.0.2.41'));
      t.equal(takenRes.statusCode, 200);
      t.equal(takenRes.statusCode, freeRes.statusCode);
      t.equal(takenRes.body.replaceAll('taken@example.test', 'X'), freeRes.body.replaceAll('free@example.test', 'X'));
      const after = await db.selectFrom('accounts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      t.equal(Number(after.n), Number(before.n) + 1, 'only the free address made an (unverified) account');
      const toTaken = (await fx.mails()).filter((m) => m.to === 'taken@example.test').at(-1)!;
      t.equal(toTaken.subject, 'You already have an account');
      t.match(toTaken.text, /https:\/\/keys\.example\.test\/signin/);
      t.match(toTaken.text, /https:\/\/keys\.example\.test\/reset/);
      t.notMatch(toTaken.text, /wxv_/, 'no verification code for an address that is taken');
    });

    t.test('an unverified registration squats nothing: the address goes to whoever verifies', async (t) => {
      const squat = await post(app, '/register', { name: 'Squatter', email: 'victim@example.test', passphrase: 'squatter pass phrase', passphrase2: 'squatter pass phrase', securityPhrase: 'x' }, newBrowser('192.0.2.50'));
      t.equal(squat.statusCode, 200);
      const owner = await registeredAccount(fx, 'victim@example.test', { name: 'Victim' });
      t.ok(owner);
      const squatter = await db.selectFrom('accounts').select(['id']).where('name', '=', 'Squatter').executeTakeFirstOrThrow();
      t.same(await fx.services.accounts.addresses(squatter.id), [], "the squatter's claim is void");
      const codes = (await fx.mails()).filter((m) => m.to === 'victim@example.test').map((m) => codeIn(m.text, 'wxv'));
      const late = await post(app, '/verify', { token: codes[0]! });
      t.equal(late.statusCode, 400, "the squatter's code no longer works");
      t.match(decoded(late.body), /confirmed for another account in the meantime/);
      fx.clock.advance(UNVERIFIED_ACCOUNT_LIFETIME_MS + 1000);
      await registeredAccount(fx, 'someone-later@example.test');
      t.equal(await db.selectFrom('accounts').select(['id']).where('name', '=', 'Squatter').executeTakeFirst(), undefined, 'and the registration is deleted a week on');
      t.equal((await signIn(fx, newBrowser(), 'victim@example.test')).statusCode, 303, 'the verified owner is untouched');
    });

    t.test('reset: same answer for known and unknown addresses; mail only to the known one', async (t) => {
      await registeredAccount(fx, 'reset-known@example.test');
      const known = await post(app, '/reset?next=%2Fopen%2Fy', { email: 'reset-known@example.test', go: 'request' }, newBrowser('192.0.2.60'));
      const unknown = await post(app, '/reset?next=%2Fopen%2Fy', { email: 'reset-unknown@example.test', go: 'request' }, newBrowser('192.0.2.61'));
      t.equal(known.statusCode, 200);
      t.equal(unknown.statusCode, 200);
      t.equal(known.body.replaceAll('reset-known@example.test', 'X'), unknown.body.replaceAll('reset-unknown@example.test', 'X'));
      await fx.services.accounts.settled();
      const mails = await fx.mails();
      t.equal(mails.filter((m) => m.to === 'reset-unknown@example.test').length, 0);
      const mail = mails.filter((m) => m.to === 'reset-known@example.test').at(-1)!;
      t.equal(mail.kind, 'reset');
      const code = codeIn(mail.text, 'wxr');
      t.ok(mail.text.includes(`https://keys.example.test/reset#${code}`));
      t.match(mail.text, /30 minutes/);
    });

    t.test('timing: unknown-address sign-ins cost about what known ones do (argon2 in both)', async (t) => {
      await registeredAccount(fx, 'timing@example.test');
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const time = async (email: string, i: number) => {
        fx.clock.advance(24 * 3600_000); // every counter forgotten: the throttle is not what is measured
        const started = process.hrtime.bigint();
        const res = await post(app, '/signin', { email, passphrase: `wrong passphrase ${i}`, go: 'signin' }, newBrowser('192.0.2.70'));
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        t.equal(res.statusCode, 400);
        return ms;
      };
      const argonBefore = { ...fx.argon };
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 10; i++) {
        known.push(await time('timing@example.test', i));
        unknown.push(await time(`nobody${i}@example.test`, i));
      }
      t.equal(fx.argon.verify - argonBefore.verify, 10, 'each known-address try ran argon2');
      t.equal(fx.argon.dummy - argonBefore.dummy, 10, 'each unknown-address try ran argon2 on a stand-in hash');
      const [k, u] = [median(known), median(unknown)];
      t.ok(u < k * 3 && k < u * 3, `medians within a factor of 3 (known ${k.toFixed(1)} ms, unknown ${u.toFixed(1)} ms)`);
    });

    t.test('used and expired codes are refused with a clear page', async (t) => {
      await post(app, '/register', { name: 'Late', email: 'late@example.test', passphrase: 'late pass phrase here', passphrase2: 'late pass phrase here', securityPhrase: 'x' }, newBrowser('192.0.2.80'));
      const first = codeIn((await fx.mails()).filter((m) => m.to === 'late@example.test').at(-1)!.text, 'wxv');
      fx.clock.advance(24 * 3600_000 + 1000);
      const expired = await post(app, '/verify', { token: first });
      t.equal(expired.statusCode, 400);
      t.match(decoded(expired.body), /The code has expired/);
      t.match(expired.body, /role="alert"/);

      const resent = await post(app, '/register', { email: 'late@example.test', go: 'resend' }, newBrowser('192.0.2.80'));
      t.equal(resent.statusCode, 200);
      t.match(decoded(resent.body), /We sent the mail again/);
      const second = codeIn((await fx.mails()).filter((m) => m.to === 'late@example.test').at(-1)!.text, 'wxv');
      t.not(second, first);
      t.equal((await post(app, '/verify', { token: second })).statusCode, 200);
      const again = await post(app, '/verify', { token: second });
      t.equal(again.statusCode, 400);
      t.match(decoded(again.body), /already used: each code works once/);
      const forged = await post(app, '/verify', { token: `${second.slice(0, -3)}AAA` });
      t.match(decoded(forged.body), /not recognised/);
      const empty = await post(app, '/verify', { token: '', code: '' });
      t.equal(empty.statusCode, 400);
      t.match(decoded(empty.body), /Paste the code from the mail/);

      await post(app, '/reset', { email: 'late@example.test', go: 'request' }, newBrowser('192.0.2.81'));
      await fx.services.accounts.settled();
      const reset = codeIn((await fx.mails()).filter((m) => m.to === 'late@example.test' && m.kind === 'reset').at(-1)!.text, 'wxr');
      fx.clock.advance(31 * MINUTE);
      const stale = await post(app, '/reset', { go: 'set', token: reset, passphrase: 'brand new pass phrase', passphrase2: 'brand new pass phrase' });
      t.equal(stale.statusCode, 400);
      t.match(decoded(stale.body), /The code has expired/);
      t.match(decoded(stale.body), /Ask for a new reset mail/);
      t.equal((await fx.services.accounts.signIn({ email: 'late@example.test', passphrase: 'brand new pass phrase', network: '10.9.9.9' })).ok, false, 'the passphrase is unchanged');
    });

    t.test('20 wrong passphrases: growing waits (429, Retry-After), no argon2 while throttled, the owner not locked out past the cap', async (t) => {
      await registeredAccount(fx, 'target@example.test');
      fx.clock.advance(24 * 3600_000);
      const attacker = newBrowser('203.0.113.66');
      const waits: number[] = [];
      let wrong = 0;
      while (wrong < 20) {
        const argonBefore = fx.argon.verify + fx.argon.dummy;
        const res = await post(app, '/signin', { email: 'target@example.test', passphrase: `guess number ${wrong}`, go: 'signin' }, attacker);
        if (res.statusCode === 429) {
          const retry = Number(res.headers['retry-after']);
          t.ok(retry > 0);
          t.match(decoded(res.body), new RegExp(`Too many attempts. Try again in ${retry} seconds?\\.`));
          t.equal(fx.argon.verify + fx.argon.dummy, argonBefore, 'a throttled try does not reach argon2');
          waits.push(retry);
          fx.clock.advance(retry * 1000);
          continue;
        }
        t.equal(res.statusCode, 400);
        wrong++;
      }
      t.ok(waits.length >= 10, `throttled ${waits.length} times along the way`);
      t.ok(waits.every((w, i) => i === 0 || w >= waits[i - 1]!), `waits never shrink: ${waits.join(', ')}`);
      t.ok(waits.at(-1)! > waits[0]!, 'and they grow');
      const next = await post(app, '/signin', { email: 'target@example.test', passphrase: 'one more guess', go: 'signin' }, attacker);
      t.equal(next.statusCode, 429, 'the 21st try right away is throttled');
      t.ok(Number(next.headers['retry-after']) >= THROTTLE_POLICIES['passphrase-account'].capSeconds);

      const owner = newBrowser('198.51.100.7');
      let res = await signIn(fx, owner, 'target@example.test');
      if (res.statusCode === 429) {
        const retry = Number(res.headers['retry-after']);
        t.ok(retry <= THROTTLE_POLICIES['passphrase-account'].capSeconds, `the owner waits at most the per-account cap (${retry} s)`);
        fx.clock.advance(retry * 1000);
        res = await signIn(fx, owner, 'target@example.test');
      }
      t.equal(res.statusCode, 303, 'the owner gets in from another address');

      // Spreading guesses over many addresses does not escape: the attacker's own network gets
      // waits beyond the per-account cap, which nobody else has to share.
      let heavy = 0;
      for (let i = 0; i < 40 && heavy === 0; i++) {
        const res = await post(app, '/signin', { email: `spread${i}@example.test`, passphrase: 'guess', go: 'signin' }, attacker);
        if (res.statusCode !== 429) continue;
        const retry = Number(res.headers['retry-after']);
        if (retry > THROTTLE_POLICIES['passphrase-account'].capSeconds) heavy = retry;
        else fx.clock.advance(retry * 1000);
      }
      t.ok(heavy > THROTTLE_POLICIES['passphrase-account'].capSeconds, `the guessing network waits longer than any account's cap (${heavy} s)`);
      const bystander = await signIn(fx, newBrowser('198.51.100.8'), 'target@example.test');
      t.equal(bystander.statusCode, 303, 'while the owner, elsewhere, signs in at once');
    });

    t.test('sessions: idle and absolute timeouts', async (t) => {
      await registeredAccount(fx, 'timeouts@example.test');
      const b = newBrowser();
      await signIn(fx, b, 'timeouts@example.test');
      fx.clock.advance(SESSION_LIMITS.idleMs - MINUTE);
      t.equal((await get(app, '/account', b)).statusCode, 200, 'used within the idle limit');
      fx.clock.advance(SESSION_LIMITS.idleMs + 1000);
      const idle = await get(app, '/account', b);
      t.equal(idle.statusCode, 303, 'idle too long: signed out');
      t.equal(idle.headers.location, '/signin?next=%2Faccount');

      const busy = newBrowser();
      await signIn(fx, busy, 'timeouts@example.test');
      let alive = 0;
      while (true) {
        fx.clock.advance(20 * MINUTE);
        if ((await get(app, '/account', busy)).statusCode !== 200) break;
        alive += 20 * MINUTE;
      }
      t.ok(alive < SESSION_LIMITS.absoluteMs && alive >= SESSION_LIMITS.absoluteMs - 20 * MINUTE, 'a busy session still ends at the absolute limit');

      const kept = newBrowser();
      await signIn(fx, kept, 'timeouts@example.test', PASSPHRASE, { remember: true });
      fx.clock.advance(7 * 24 * 3600_000);
      t.equal((await get(app, '/account', kept)).statusCode, 200, 'remembered: a week away is fine');
      fx.clock.advance(SESSION_LIMITS.rememberedIdleMs + 1000);
      t.equal((await get(app, '/account', kept)).statusCode, 303, 'but not a month and more');
    });

    t.test('sessions: listed, revoked one by one, or all others at once', async (t) => {
      await registeredAccount(fx, 'many@example.test');
      const [a, b, c] = [newBrowser('192.0.2.91'), newBrowser('192.0.2.92'), newBrowser('2001:db8:1:2::9')];
      for (const x of [a, b, c]) await signIn(fx, x, 'many@example.test');
      const page = decoded((await get(app, '/account', a)).body);
      for (const ip of ['192.0.2.91', '192.0.2.92', '2001:db8:1:2::9']) t.match(page, ip);
      const ids = [...page.matchAll(/name="session" value="([^"]+)"/g)].map((m) => m[1]!);
      t.equal(ids.length, 2, 'the other two can be revoked; this one is marked');
      const bId = b.cookie!.slice(4, 16);
      t.ok(ids.includes(bId));
      t.equal((await post(app, '/account/sessions', { go: 'revoke', session: bId }, a)).statusCode, 303);
      t.equal((await get(app, '/account', b)).statusCode, 303, 'b is signed out');
      t.equal((await get(app, '/account', c)).statusCode, 200, 'c is not');
      t.equal((await post(app, '/account/sessions', { go: 'others' }, a)).statusCode, 303);
      t.equal((await get(app, '/account', c)).statusCode, 303, 'c is signed out');
      t.equal((await get(app, '/account', a)).statusCode, 200, 'a stays');

      // Another account's session cannot be revoked from here.
      await registeredAccount(fx, 'other@example.test');
      const o = newBrowser();
      await signIn(fx, o, 'other@example.test');
      await post(app, '/account/sessions', { go: 'revoke', session: o.cookie!.slice(4, 16) }, a);
      t.equal((await get(app, '/account', o)).statusCode, 200);

      const out = await post(app, '/signout', {}, a);
      t.equal(out.statusCode, 303);
      t.equal(out.headers.location, '/signin?done=signedout');
      t.equal(a.cookie, null, 'the cookie is cleared');
    });

    t.test('a reset ends every session of the account', async (t) => {
      await registeredAccount(fx, 'resetme@example.test');
      const [x, y] = [newBrowser(), newBrowser()];
      await signIn(fx, x, 'resetme@example.test');
      await signIn(fx, y, 'resetme@example.test');
      const stolen = x.cookie;
      await post(app, '/reset', { email: 'resetme@example.test', go: 'request' }, newBrowser('192.0.2.99'));
      await fx.services.accounts.settled();
      const code = codeIn((await fx.mails()).filter((m) => m.to === 'resetme@example.test' && m.kind === 'reset').at(-1)!.text, 'wxr');
      const form = await get(app, '/reset');
      t.match(form.body, /data-token-from-fragment/);
      const weak = await post(app, '/reset', { go: 'set', token: code, passphrase: 'resetme', passphrase2: 'resetme' });
      t.equal(weak.statusCode, 400, 'the policy applies');
      t.match(weak.body, new RegExp(`name="token" value="${code.replace('.', '\\.')}"`), 'the code is kept for the next try');
      const done = await post(app, '/reset?next=%2Fopen%2Fz', { go: 'set', token: code, passphrase: 'a fresh pass phrase', passphrase2: 'a fresh pass phrase' });
      t.equal(done.statusCode, 303);
      t.equal(done.headers.location, '/signin?next=%2Fopen%2Fz&done=reset');
      t.equal((await get(app, '/account', { ...x, cookie: stolen })).statusCode, 303);
      t.equal((await get(app, '/account', y)).statusCode, 303);
      t.equal((await signIn(fx, newBrowser(), 'resetme@example.test', PASSPHRASE)).statusCode, 400, 'the old passphrase is gone');
      t.equal((await signIn(fx, newBrowser(), 'resetme@example.test', 'a fresh pass phrase')).statusCode, 303);
      const reused = await post(app, '/reset', { go: 'set', token: code, passphrase: 'yet another pass phrase', passphrase2: 'yet another pass phrase' });
      t.match(decoded(reused.body), /already used/);
    });

    t.test('changing the passphrase ends the other sessions', async (t) => {
      await registeredAccount(fx, 'change@example.test');
      const [here, there] = [newBrowser(), newBrowser()];
      await signIn(fx, here, 'change@example.test');
      await signIn(fx, there, 'change@example.test');
      const wrong = await post(app, '/account/passphrase', { current: 'not it at all', passphrase: 'new pass phrase here', passphrase2: 'new pass phrase here' }, here);
      t.equal(wrong.statusCode, 400);
      t.match(decoded(wrong.body), /current passphrase is not right/);
      t.equal((await get(app, '/account', there)).statusCode, 200);
      const ok = await post(app, '/account/passphrase', { current: PASSPHRASE, passphrase: 'new pass phrase here', passphrase2: 'new pass phrase here' }, here);
      t.equal(ok.statusCode, 303);
      t.equal((await get(app, '/account', there)).statusCode, 303, 'the other browser is signed out');
      const mine = await get(app, ok.headers.location!, here);
      t.equal(mine.statusCode, 200, 'this one stays');
      t.match(decoded(mine.body), /Your passphrase was changed/);
      t.equal((await signIn(fx, newBrowser(), 'change@example.test', 'new pass phrase here')).statusCode, 303);
    });

    t.test('rehash on sign-in when the stored hash has older parameters', async (t) => {
      const id = await registeredAccount(fx, 'rehash@example.test');
      const { createPassphraseHasher } = await import('../../src/crypto/passphrases.ts');
      const old = await createPassphraseHasher({ params: { memoryCost: 8192, timeCost: 1, parallelism: 1 } }).hash(PASSPHRASE);
      await db.updateTable('accounts').set({ passphrase_hash: old }).where('id', '=', id).execute();
      t.equal((await signIn(fx, newBrowser(), 'rehash@example.test')).statusCode, 303, 'the old hash still verifies');
      const row = await db.selectFrom('accounts').select(['passphrase_hash']).where('id', '=', id).executeTakeFirstOrThrow();
      t.not(row.passphrase_hash, old);
      t.match(row.passphrase_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, 'stored again with the pinned parameters');
      t.equal((await signIn(fx, newBrowser(), 'rehash@example.test')).statusCode, 303);
    });

    t.test('aliases: add and verify; an address verified elsewhere cannot be claimed', async (t) => {
      const ownerId = await registeredAccount(fx, 'main@example.test');
      const me = newBrowser();
      await signIn(fx, me, 'main@example.test');
      const added = await post(app, '/account/addresses', { email: 'Work@Example.test', go: 'add' }, me);
      t.equal(added.statusCode, 303);
      const page = decoded((await get(app, '/account?done=added', me)).body);
      t.match(page, /work@example.test/);
      t.match(page, /Waiting for confirmation/);
      const mail = (await fx.mails()).filter((m) => m.to === 'work@example.test').at(-1)!;
      t.equal(mail.subject, 'Confirm the address to add to your account');
      t.equal((await post(app, '/verify', { token: codeIn(mail.text, 'wxv') })).statusCode, 200);
      t.same(await fx.services.accounts.verifiedAddresses(ownerId), ['main@example.test', 'work@example.test']);
      t.equal((await signIn(fx, newBrowser(), 'work@example.test')).statusCode, 303, 'the alias signs in too');

      const strangerId = await registeredAccount(fx, 'stranger@example.test');
      const s = newBrowser();
      await signIn(fx, s, 'stranger@example.test');
      const claim = await post(app, '/account/addresses', { email: 'work@example.test', go: 'add' }, s);
      t.equal(claim.statusCode, 303, 'the same answer as for a free address: no enumeration');
      const told = (await fx.mails()).filter((m) => m.to === 'work@example.test').at(-1)!;
      t.equal(told.subject, 'This address already belongs to an account');
      t.notMatch(told.text, /wxv_/);
      t.same(await fx.services.accounts.verifiedAddresses(strangerId), ['stranger@example.test']);

      // Both pending: the first to verify wins; the other code then fails.
      const m1 = newBrowser();
      await signIn(fx, m1, 'main@example.test');
      await post(app, '/account/addresses', { email: 'shared@example.test', go: 'add' }, m1);
      await post(app, '/account/addresses', { email: 'shared@example.test', go: 'add' }, s);
      const [first, second] = (await fx.mails()).filter((m) => m.to === 'shared@example.test').map((m) => codeIn(m.text, 'wxv'));
      t.equal((await post(app, '/verify', { token: second! })).statusCode, 200);
      const lost = await post(app, '/verify', { token: first! });
      t.equal(lost.statusCode, 400);
      t.same(await fx.services.accounts.verifiedAddresses(ownerId), ['main@example.test', 'work@example.test']);
      t.same(await fx.services.accounts.verifiedAddresses(strangerId), ['stranger@example.test', 'shared@example.test']);

      const mine = await post(app, '/account/addresses', { email: 'main@example.test', go: 'add' }, me);
      t.equal(mine.statusCode, 400);
      t.match(decoded(mine.body), /already confirmed for your account/);
    });

    t.test('next: only paths on this site; anything else falls back to /account', async (t) => {
      await registeredAccount(fx, 'next@example.test');
      for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', '/%5Cevil', 'javascript:alert(1)', '/open/x#frag', ' /open/x']) {
        const res = await signIn(fx, newBrowser(), 'next@example.test', PASSPHRASE, { next });
        t.equal(res.statusCode, 303);
        const expected = next === '/%5Cevil' ? '/%5Cevil' : '/account';
        t.equal(res.headers.location, expected, `next=${JSON.stringify(next)}`);
      }
      const ok = await signIn(fx, newBrowser(), 'next@example.test', PASSPHRASE, { next: '/open/abc?x=1' });
      t.equal(ok.headers.location, '/open/abc?x=1');
      const reg = await post(app, '/signin?next=%2F%2Fevil', { email: 'a@b.test', go: 'register' });
      t.equal(reg.headers.location, '/register?email=a%40b.test', 'an unsafe next is not handed on');
      const out = await post(app, '/signout?next=https%3A%2F%2Fevil.example', {});
      t.equal(out.headers.location, '/signin?done=signedout');
    });

    t.test('sign-in page: buttons post to itself; register and reset keep next', async (t) => {
      const page = await get(app, '/signin?next=%2Fopen%2Fq');
      t.match(page.body, /<form method="post" action="">/);
      t.notMatch(page.body, /<a href="\/(register|reset)/, 'no links to the other steps: they would drop the fragment');
      t.match(page.body, /name="remember" value="1"/);
      t.match(decoded(page.body), /Remember me on this computer/);
      t.notMatch(page.body, /class="phrase"/, 'no Personal Security Phrase for a browser nobody signed in with');
      const reg = await post(app, '/signin?next=%2Fopen%2Fq', { email: 'new@example.test', passphrase: '', go: 'register' });
      t.equal(reg.statusCode, 303);
      t.equal(reg.headers.location, '/register?next=%2Fopen%2Fq&email=new%40example.test');
      const reset = await post(app, '/signin?next=%2Fopen%2Fq', { email: '', go: 'reset' });
      t.equal(reset.headers.location, '/reset?next=%2Fopen%2Fq');
    });

    t.test('re-authentication: name and Personal Security Phrase, then only the passphrase', async (t) => {
      await registeredAccount(fx, 'high@example.test', { name: 'Hana High', phrase: 'seven blue herons' });
      const b = newBrowser();
      await signIn(fx, b, 'high@example.test');
      const before = (await fx.services.sessions.fromCookie(b.cookie!))!;
      fx.clock.advance(5 * MINUTE);
      const page = await get(app, '/signin?next=%2Fopen%2Fh&reauth=1', b);
      t.equal(page.statusCode, 200);
      const text = decoded(page.body);
      t.match(text, /Hana High/);
      t.match(text, /seven blue herons/);
      t.ok(text.indexOf('seven blue herons') < text.indexOf('type="password"'), 'the phrase comes before the passphrase field');
      t.notMatch(page.body, /name="email"/, 'only the passphrase is asked');
      const wrong = await post(app, '/signin?next=%2Fopen%2Fh&reauth=1', { passphrase: 'nope nope nope', go: 'reauth' }, b);
      t.equal(wrong.statusCode, 400);
      const ok = await post(app, '/signin?next=%2Fopen%2Fh&reauth=1', { passphrase: PASSPHRASE, go: 'reauth' }, b);
      t.equal(ok.statusCode, 303);
      t.equal(ok.headers.location, '/open/h');
      const after = (await fx.services.sessions.fromCookie(b.cookie!))!;
      t.equal(after.id, before.id);
      t.ok(after.passphraseAt.getTime() > before.passphraseAt.getTime(), 'passphraseAt moved on');

      // Without a session, reauth=1 is an ordinary sign-in page with no phrase.
      const anon = await get(app, '/signin?next=%2Fopen%2Fh&reauth=1');
      t.notMatch(decoded(anon.body), /seven blue herons/);
      t.match(anon.body, /name="email"/);
      // A recognised browser sees its phrase on the ordinary sign-in page too.
      t.match(decoded((await get(app, '/signin', b)).body), /seven blue herons/);
    });

    t.test('every state-changing route refuses a cross-site request and changes nothing', async (t) => {
      const id = await registeredAccount(fx, 'csrf@example.test');
      const b = newBrowser();
      await signIn(fx, b, 'csrf@example.test');
      const other = newBrowser();
      await signIn(fx, other, 'csrf@example.test');
      const otherId = other.cookie!.slice(4, 16);
      const mailsBefore = (await fx.mails()).length;
      await post(app, '/register', { name: 'Pending', email: 'csrf-pending@example.test', passphrase: 'pending pass phrase', passphrase2: 'pending pass phrase', securityPhrase: 'x' }, newBrowser('192.0.2.111'));
      const pendingCode = codeIn((await fx.mails()).at(-1)!.text, 'wxv');
      const hashBefore = (await db.selectFrom('accounts').select(['passphrase_hash']).where('id', '=', id).executeTakeFirstOrThrow()).passphrase_hash;

      const attempts: [string, Record<string, string>][] = [
        ['/signin', { email: 'csrf@example.test', passphrase: PASSPHRASE, go: 'signin' }],
        ['/signin?reauth=1', { passphrase: PASSPHRASE, go: 'reauth' }],
        ['/signout', {}],
        ['/register', { name: 'Evil', email: 'evil-reg@example.test', passphrase: 'evil pass phrase x', passphrase2: 'evil pass phrase x', securityPhrase: 'x' }],
        ['/register', { email: 'csrf-pending@example.test', go: 'resend' }],
        ['/verify', { token: pendingCode }],
        ['/reset', { email: 'csrf@example.test', go: 'request' }],
        ['/reset', { go: 'set', token: 'wxr_AAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', passphrase: 'x', passphrase2: 'x' }],
        ['/account/addresses', { email: 'evil-alias@example.test', go: 'add' }],
        ['/account/passphrase', { current: PASSPHRASE, passphrase: 'attacker pass phrase', passphrase2: 'attacker pass phrase' }],
        ['/account/sessions', { go: 'others' }],
        ['/account/sessions', { go: 'revoke', session: otherId }],
      ];
      const mailsMid = (await fx.mails()).length;
      t.equal(mailsMid, mailsBefore + 1);
      for (const [url, fields] of attempts) {
        for (const headers of [CROSS_SITE, { origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }]) {
          const res = await post(app, url, fields, { ...b }, headers as Record<string, string>);
          t.equal(res.statusCode, 403, `${url} ${JSON.stringify(fields.go ?? '')} ${JSON.stringify(headers)}`);
          t.equal(sessionCookie(res), undefined, 'no cookie set or cleared');
        }
      }
      await fx.services.accounts.settled();
      t.equal((await fx.mails()).length, mailsMid, 'no mail went out');
      t.equal((await get(app, '/account', b)).statusCode, 200, 'still signed in');
      t.equal((await get(app, '/account', other)).statusCode, 200, 'the other session too');
      t.same(await fx.services.accounts.verifiedAddresses(id), ['csrf@example.test'], 'no alias added');
      const hashAfter = (await db.selectFrom('accounts').select(['passphrase_hash']).where('id', '=', id).executeTakeFirstOrThrow()).passphrase_hash;
      t.equal(hashAfter, hashBefore, 'the passphrase is unchanged');
      t.equal((await db.selectFrom('accounts').select(['id']).where('name', '=', 'Evil').executeTakeFirst()), undefined, 'no account registered');
      t.equal((await post(app, '/verify', { token: pendingCode })).statusCode, 200, 'the code was not spent');
    });

    t.test('the session secret never appears in the log', async (t) => {
      await registeredAccount(fx, 'logs@example.test');
      const b = newBrowser();
      await signIn(fx, b, 'logs@example.test');
      const secret = b.cookie!.split('.')[1]!;
      await get(app, '/account', b);
      await post(app, '/account/sessions', { go: 'others' }, b);
      await post(app, '/signout', {}, b);
      const log = fx.log();
      t.ok(log.length > 0, 'requests were logged');
      t.notOk(log.includes(secret), 'no session secret');
      t.notOk(log.includes(PASSPHRASE), 'no passphrase');
      const codes = (await fx.mails()).flatMap((m) => [...m.text.matchAll(/wx[vr]_[A-Za-z0-9]{12}\.([A-Za-z0-9_-]{43})/g)].map((x) => x[1]!));
      t.ok(codes.length > 0);
      t.notOk(codes.some((c) => log.includes(c)), 'no mailed code either');
    });
  });
}
