import pg from 'pg';
import t from 'tap';
import { createPassphraseHasher } from '../../src/crypto/passphrases.ts';
import { createPassphrasePolicy } from '../../src/crypto/passphrase-policy.ts';
import { normaliseAddress } from '../../src/domain/accounts/addresses.ts';
import { clientNetwork } from '../../src/domain/accounts/client-network.ts';
import { createAccountService } from '../../src/domain/accounts/account-service.ts';
import type { AccountMail } from '../../src/domain/accounts/account-mail.ts';
import { consumeEmailToken, checkEmailToken, issueEmailToken, EMAIL_TOKEN_LIFETIME_MS } from '../../src/domain/accounts/email-tokens.ts';
import { createSessionService, SESSION_LIMITS } from '../../src/domain/accounts/session-service.ts';
import { createThrottle } from '../../src/domain/accounts/throttle.ts';
import { secondsUntilAllowed, THROTTLE_POLICIES, waitAfter, waitSchedule, type ThrottleScope } from '../../src/domain/accounts/throttle-policy.ts';
import { engines } from '../helpers/databases.ts';


t.test('client networks: IPv4 as is, IPv6 by /64, mapped IPv4 as IPv4', async (t) => {
  t.equal(clientNetwork('192.0.2.7'), '192.0.2.7');
  t.equal(clientNetwork('::ffff:192.0.2.7'), '192.0.2.7');
  t.equal(clientNetwork('2001:db8:1:2::1'), '2001:0db8:0001:0002::/64');
  t.equal(clientNetwork('2001:DB8:1:2:ffff:eeee:dddd:cccc'), '2001:0db8:0001:0002::/64', 'every address of the /64 counts as one');
  t.equal(clientNetwork('2001:db8:1:3::1'), '2001:0db8:0001:0003::/64', 'the next /64 is another network');
  t.equal(clientNetwork('::1'), '0000:0000:0000:0000::/64');
  t.equal(clientNetwork('fe80::1%eth0'), 'fe80:0000:0000:0000::/64');
  t.equal(clientNetwork('not an ip'), 'unknown');
  t.equal(clientNetwork(undefined), 'unknown');
});

t.test('addresses are compared trimmed and lower-cased; non-addresses are refused', async (t) => {
  t.equal(normaliseAddress('  Ana.Example@Example.ORG '), 'ana.example@example.org');
  for (const bad of ['', 'ana', 'ana@', '@example.org', 'ana@example', 'a b@example.org', 'Ana <ana@example.org>', `${'a'.repeat(250)}@example.org`, 42]) {
    t.equal(normaliseAddress(bad), null, JSON.stringify(bad));
  }
});

t.test('throttle policies: free attempts, then doubling waits up to a cap; idle counters are forgotten', async (t) => {
  const p = THROTTLE_POLICIES['passphrase-account'];
  t.same([0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 100].map((n) => waitAfter(p, n)), [0, 0, 0, 0, 0, 1, 2, 4, 8, 60, 60, 60]);
  t.equal(waitAfter(THROTTLE_POLICIES['passphrase-network'], 5000), THROTTLE_POLICIES['passphrase-network'].capSeconds, 'no overflow past the cap');
  const last = new Date(Date.UTC(2030, 0, 1));
  t.equal(secondsUntilAllowed(p, { attempts: 8, lastAt: last }, new Date(last.getTime() + 3500)), 5, 'rounded up to whole seconds');
  t.equal(secondsUntilAllowed(p, { attempts: 8, lastAt: last }, new Date(last.getTime() + 8000)), 0);
  t.equal(secondsUntilAllowed(p, { attempts: 2, lastAt: last }, new Date(last.getTime() - 5)), 0, 'a free attempt never waits, even when a concurrent request stamped the counter a moment later');
  t.equal(secondsUntilAllowed(p, { attempts: 1000, lastAt: last }, new Date(last.getTime() + p.forgetAfterSeconds * 1000)), 0, 'forgotten after the idle period');
  for (const [scope, policy] of Object.entries(THROTTLE_POLICIES)) {
    t.ok(policy.forgetAfterSeconds > policy.capSeconds, `${scope}: a counter outlives its longest wait`);
  }
  t.same(waitSchedule(p), [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60], 'the table of waits ends at the cap');
  for (const policy of Object.values(THROTTLE_POLICIES)) {
    const table = waitSchedule(policy);
    for (const n of [0, policy.free, table.length - 1, table.length, 5000]) t.equal(table[Math.min(n, table.length - 1)], waitAfter(policy, n));
  }
  t.ok(THROTTLE_POLICIES['passphrase-account'].capSeconds <= 60, 'nobody locks an owner out for more than a minute');
  t.ok(THROTTLE_POLICIES['passphrase-network'].capSeconds > THROTTLE_POLICIES['passphrase-account'].capSeconds, 'the heavy waits are on the network');
});

for (const engine of engines()) {
  t.test(`account domain on ${engine.name}`, { skip: engine.skip }, async (t) => {
    const opened = await engine.open();
    t.teardown(() => opened.dispose());
    const db = opened.database.db;
    let now = Date.UTC(2030, 0, 1);
    const clock = () => new Date(now);
    const advance = (ms: number) => void (now += ms);

    t.test('throttle: parallel attempts cannot slip past the last free one', async (t) => {
      const throttle = createThrottle({ db, now: clock });
      const key = { scope: 'passphrase-account' as const, key: 'account:parallel' };
      for (let i = 0; i < THROTTLE_POLICIES['passphrase-account'].free - 1; i++) t.ok((await throttle.attempt([key])).allowed);
      const verdicts = await Promise.all(Array.from({ length: 12 }, () => throttle.attempt([key])));
      t.equal(verdicts.filter((v) => v.allowed).length, 1, 'exactly one of twelve parallel attempts goes through');
      t.ok(verdicts.every((v) => v.allowed || v.retryAfter === 1));
      const row = await db.selectFrom('auth_throttle').select(['attempts']).where('key', '=', 'account:parallel').executeTakeFirstOrThrow();
      t.equal(row.attempts, THROTTLE_POLICIES['passphrase-account'].free, 'refused attempts are not counted');
    });

    t.test('throttle: parallel first attempts on a counter nobody has yet cannot slip past the free ones', async (t) => {
      const throttle = createThrottle({ db, now: clock });
      const free = THROTTLE_POLICIES['passphrase-account'].free;
      // Several rounds: on PostgreSQL the attempts race for real (the pool runs them on several
      // connections), and each round is another chance for them to meet.
      for (const round of [1, 2, 3, 4]) {
        const key = { scope: 'passphrase-account' as const, key: `account:fresh-parallel-${round}` };
        const network = { scope: 'passphrase-network' as const, key: `198.51.100.${round}` };
        const verdicts = await Promise.all(Array.from({ length: 16 }, () => throttle.attempt([key, network])));
        t.equal(verdicts.filter((v) => v.allowed).length, free, `exactly ${free} of sixteen parallel attempts go through`);
        const rows = await db.selectFrom('auth_throttle').select(['key', 'attempts']).where('key', 'in', [key.key, network.key]).orderBy('key').execute();
        t.same(rows, [{ key: network.key, attempts: free }, { key: key.key, attempts: free }], 'refused attempts are counted under neither key');
      }
    });

    // PostgreSQL only: PGlite has one connection, so its attempts never run side by side.
    if (opened.url) t.test('throttle: attempts that meet on a counter created under them count only while they may', async (t) => {
      // A second connection creates the counter in a transaction it holds open, so every attempt
      // starts without seeing it and then waits on it: the race creating a counter must handle.
      const holder = new pg.Client({ connectionString: opened.url! });
      await holder.connect();
      t.teardown(() => holder.end());
      const free = THROTTLE_POLICIES['passphrase-account'].free;
      const key = { scope: 'passphrase-account' as const, key: 'account:created-under' };
      const network = { scope: 'passphrase-network' as const, key: '198.51.100.200' };
      await holder.query('BEGIN');
      await holder.query('INSERT INTO auth_throttle (scope, key, attempts, last_at) VALUES ($1, $2, $3, $4)', [key.scope, key.key, free - 1, clock()]);
      const throttle = createThrottle({ db, now: clock });
      const racing = Promise.all(Array.from({ length: 6 }, () => throttle.attempt([key, network])));
      for (let waited = 0; ; waited += 20) {
        const { rows } = await holder.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
        if (rows[0]!.n >= 6) break;
        if (waited > 10_000) throw new Error('the attempts never waited on the counter');
        await new Promise((r) => setTimeout(r, 20));
      }
      await holder.query('COMMIT');
      const verdicts = await racing;
      t.equal(verdicts.filter((v) => v.allowed).length, 1, 'one attempt was still free; the others are refused');
      t.ok(verdicts.every((v) => v.allowed || v.retryAfter >= 1));
      const rows = await db.selectFrom('auth_throttle').select(['key', 'attempts']).where('key', 'in', [key.key, network.key]).orderBy('key').execute();
      t.same(rows, [{ key: network.key, attempts: 1 }, { key: key.key, attempts: free }], 'the refused ones are counted under neither key');
    });

    t.test('throttle: one person signing in from one network in several tabs at once meets no deadlock', async (t) => {
      // Each caller counts an attempt on the account and the network, then settles both, as a
      // good sign-in does. Attempts lock the two counters in one order; a settle that took them in
      // the other order deadlocked with them (PostgreSQL then aborts one request after a second).
      const throttle = createThrottle({ db, now: clock });
      const keys = [{ scope: 'passphrase-account' as const, key: 'account:tabs' }, { scope: 'passphrase-network' as const, key: '198.51.100.250' }];
      const failures: unknown[] = [];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let i = 0; i < 25; i++) {
            try {
              if ((await throttle.attempt(keys)).allowed) await throttle.succeeded({ clear: [keys[0]!], takeBack: [keys[1]!] });
            } catch (err) {
              failures.push(err);
            }
          }
        }),
      );
      t.same(failures.map((e) => (e as Error).message), [], 'no attempt and no settle failed');
    });

    t.test('throttle: the database refuses exactly the attempts the policy says must wait, and counts the rest', async (t) => {
      // The statement compares times against the policy's table of waits; this walks every
      // policy across its counts and the edges of each wait and of forgetting.
      const throttle = createThrottle({ db, now: clock });
      let n = 0;
      for (const [scope, policy] of Object.entries(THROTTLE_POLICIES) as [ThrottleScope, (typeof THROTTLE_POLICIES)[ThrottleScope]][]) {
        for (const attempts of [0, policy.free - 1, policy.free, policy.free + 1, policy.free + 3, policy.free + 40, 5000]) {
          const wait = waitAfter(policy, attempts) * 1000;
          const forget = policy.forgetAfterSeconds * 1000;
          for (const elapsed of [-5, 0, 1, wait - 1, wait, wait + 1, forget - 1, forget]) {
            const key = { scope, key: `edge-${n++}` };
            const lastAt = new Date(now - elapsed);
            await db.insertInto('auth_throttle').values({ scope, key: key.key, attempts, last_at: lastAt }).execute();
            const expected = secondsUntilAllowed(policy, { attempts, lastAt }, clock());
            const verdict = await throttle.attempt([key]);
            const label = `${scope}, ${attempts} attempts, last ${elapsed} ms ago`;
            t.same(verdict, expected === 0 ? { allowed: true } : { allowed: false, retryAfter: expected }, label);
            const row = await db.selectFrom('auth_throttle').select(['attempts', 'last_at']).where('scope', '=', scope).where('key', '=', key.key).executeTakeFirstOrThrow();
            const counted = elapsed >= forget ? 1 : attempts + 1;
            t.same([row.attempts, row.last_at.getTime()], expected === 0 ? [counted, now] : [attempts, lastAt.getTime()], `${label}: counted only when allowed`);
          }
        }
      }
    });

    t.test('throttle: one waiting key blocks the attempt and nothing is counted on the others', async (t) => {
      const throttle = createThrottle({ db, now: clock });
      const blocked = { scope: 'mail-address' as const, key: 'blocked' };
      const other = { scope: 'mail-network' as const, key: '203.0.113.1' };
      for (let i = 0; i < THROTTLE_POLICIES['mail-address'].free; i++) await throttle.attempt([blocked]);
      const verdict = await throttle.attempt([other, blocked]);
      t.same(verdict, { allowed: false, retryAfter: THROTTLE_POLICIES['mail-address'].baseSeconds });
      t.equal(await throttle.wait([other]), 0);
      const row = await db.selectFrom('auth_throttle').select(['attempts']).where('key', '=', '203.0.113.1').executeTakeFirst();
      t.equal(row?.attempts ?? 0, 0);
      advance(THROTTLE_POLICIES['mail-address'].baseSeconds * 1000);
      t.ok((await throttle.attempt([other, blocked])).allowed);
      await throttle.succeeded({ clear: [blocked], takeBack: [other] });
      t.equal(await throttle.wait([blocked]), 0);
      const after = await db.selectFrom('auth_throttle').select(['attempts']).where('key', '=', '203.0.113.1').executeTakeFirstOrThrow();
      t.equal(after.attempts, 0, 'a success takes its attempt back from the network');
    });

    t.test('sessions: the cookie proves the session; timeouts, revocation, touch once a minute', async (t) => {
      const account = (await db.insertInto('accounts').values({ name: 'S', passphrase_hash: 'x', security_phrase: 'p', locale: 'en' }).returning(['id']).executeTakeFirstOrThrow()).id;
      const sessions = createSessionService({ db, now: clock });
      const { session, cookie } = await sessions.create(account, { remember: false, userAgent: 'UA', ip: '192.0.2.1' });
      t.match(cookie, /^wxs_[A-Za-z0-9]{12}\.[A-Za-z0-9_-]{43}$/);
      t.equal(cookie.slice(4, 16), session.id);
      const stored = await db.selectFrom('account_sessions').select(['secret_hash']).where('id', '=', session.id).executeTakeFirstOrThrow();
      t.equal(stored.secret_hash.length, 32, 'only a SHA-256 of the secret is stored');
      t.notOk(Buffer.from(stored.secret_hash).toString('base64url').includes(cookie.split('.')[1]!));

      t.same(await sessions.fromCookie(cookie), session);
      for (const bad of [undefined, '', 'garbage', `${cookie}x`, `${cookie.slice(0, -1)}${cookie.endsWith('A') ? 'B' : 'A'}`, cookie.replace('wxs_', 'wxg_')]) {
        t.equal(await sessions.fromCookie(bad), null, `refused: ${JSON.stringify(bad?.slice(0, 20))}`);
      }

      const seen = async () => (await db.selectFrom('account_sessions').select(['last_seen_at']).where('id', '=', session.id).executeTakeFirstOrThrow()).last_seen_at.getTime();
      const createdAt = await seen();
      advance(30_000);
      await sessions.fromCookie(cookie);
      t.equal(await seen(), createdAt, 'not written within the minute');
      advance(SESSION_LIMITS.touchEveryMs);
      await sessions.fromCookie(cookie);
      t.equal(await seen(), now, 'written after it');

      advance(SESSION_LIMITS.idleMs);
      t.equal(await sessions.passphraseTyped(session.id), null, 'typing the passphrase does not revive an idle session');
      t.equal(await sessions.fromCookie(cookie), null);

      const second = await sessions.create(account, { remember: true });
      const third = await sessions.create(account, { remember: false });
      t.same((await sessions.list(account)).map((s) => s.id).sort(), [second.session.id, third.session.id].sort(), 'ended sessions are not listed');
      t.equal(await sessions.revoke(account, second.session.id), true);
      t.equal(await sessions.revoke(account, second.session.id), false, 'only once');
      t.equal(await sessions.fromCookie(second.cookie), null);
      t.equal(await sessions.revokeAll(account, { except: third.session.id }), 1, 'the idle one (ended, not yet revoked)');
      t.equal(await sessions.revokeAll(account), 1);
      t.equal(await sessions.fromCookie(third.cookie), null);
      t.same(sessions.cookieOptions(third.session), { path: '/', secure: true, httpOnly: true, sameSite: 'lax' });
    });

    t.test('sessions with addresses: the same checks, and only the verified addresses, oldest first', async (t) => {
      const account = (await db.insertInto('accounts').values({ name: 'W', passphrase_hash: 'x', security_phrase: 'p', locale: 'en' }).returning(['id']).executeTakeFirstOrThrow()).id;
      await db
        .insertInto('account_addresses')
        .values([
          { account_id: account, address: 'w-second@example.test', verified_at: new Date(now - 1000) },
          { account_id: account, address: 'w-first@example.test', verified_at: new Date(now - 2000) },
          { account_id: account, address: 'w-unverified@example.test', verified_at: null },
        ])
        .execute();
      const sessions = createSessionService({ db, now: clock });
      const { session, cookie } = await sessions.create(account, { remember: true });
      t.same(await sessions.withAddresses(cookie), { session, addresses: ['w-first@example.test', 'w-second@example.test'] });
      for (const bad of [undefined, 'garbage', `${cookie.slice(0, -1)}${cookie.endsWith('A') ? 'B' : 'A'}`]) {
        t.equal(await sessions.withAddresses(bad), null, `refused: ${JSON.stringify(bad?.slice(0, 20))}`);
      }
      await sessions.revoke(account, session.id);
      t.equal(await sessions.withAddresses(cookie), null, 'nor after revocation');
    });

    t.test('sessions read together (one statement) each answer for their own cookie', async (t) => {
      const sessions = createSessionService({ db, now: clock });
      const people = [];
      for (const name of ['p1', 'p2', 'p3']) {
        const account = (await db.insertInto('accounts').values({ name, passphrase_hash: 'x', security_phrase: 'p', locale: 'en' }).returning(['id']).executeTakeFirstOrThrow()).id;
        await db.insertInto('account_addresses').values({ account_id: account, address: `${name}@example.test`, verified_at: new Date(now - 1000) }).execute();
        people.push({ account, address: `${name}@example.test`, ...(await sessions.create(account, { remember: false })) });
      }
      const [p1, p2, p3] = people as [(typeof people)[0], (typeof people)[0], (typeof people)[0]];
      await sessions.revoke(p3.account, p3.session.id);
      const wrongSecret = `${p2.cookie.slice(0, -1)}${p2.cookie.endsWith('A') ? 'B' : 'A'}`;
      // Asked in the same turn: the read batcher sends them as one statement.
      const answers = await Promise.all([p1.cookie, wrongSecret, p2.cookie, p3.cookie, p1.cookie].map((c) => sessions.withAddresses(c)));
      t.same(answers, [
        { session: p1.session, addresses: [p1.address] },
        null,
        { session: p2.session, addresses: [p2.address] },
        null,
        { session: p1.session, addresses: [p1.address] },
      ]);
      await sessions.revoke(p1.account, p1.session.id);
      const after = await Promise.all([p1.cookie, p2.cookie].map((c) => sessions.withAddresses(c)));
      t.same(after, [null, { session: p2.session, addresses: [p2.address] }], 'a revocation holds for the next read at once');
    });

    t.test('mailed tokens: single use, expiring, bound to their purpose', async (t) => {
      const account = (await db.insertInto('accounts').values({ name: 'T', passphrase_hash: 'x', security_phrase: 'p', locale: 'en' }).returning(['id']).executeTakeFirstOrThrow()).id;
      const verify = await issueEmailToken(db, 'verify', account, 't@example.test', clock());
      t.match(verify, /^wxv_/);
      const reset = await issueEmailToken(db, 'reset', account, 't@example.test', clock());
      t.match(reset, /^wxr_/);
      t.same(await checkEmailToken(db, 'reset', verify, clock()), { ok: false, reason: 'invalid' }, 'a verification code is no reset code');
      const row = await db.selectFrom('account_tokens').select(['secret_hash']).where('id', '=', verify.slice(4, 16)).executeTakeFirstOrThrow();
      t.equal(row.secret_hash.length, 32);
      const racing = await Promise.all([consumeEmailToken(db, 'verify', verify, clock()), consumeEmailToken(db, 'verify', verify, clock())]);
      t.equal(racing.filter((r) => r.ok).length, 1, 'of two requests spending one code, one wins');
      t.same(await checkEmailToken(db, 'verify', verify, clock()), { ok: false, reason: 'used' });
      advance(EMAIL_TOKEN_LIFETIME_MS.reset - 1);
      t.equal((await checkEmailToken(db, 'reset', reset, clock())).ok, true);
      advance(1);
      t.same(await checkEmailToken(db, 'reset', reset, clock()), { ok: false, reason: 'expired' });
    });

    t.test('accounts: a sign-in with a session opens it and settles the counters; a wrong passphrase opens none', async (t) => {
      const sessions = createSessionService({ db, now: clock });
      const hasher = createPassphraseHasher();
      const accounts = createAccountService({ db, hasher, policy: createPassphrasePolicy(), throttle: createThrottle({ db, now: clock }), sessions, mailer: { send: async () => {} }, now: clock });
      const passphrase = 'a settled kind of passphrase';
      const id = (await db.insertInto('accounts').values({ name: 'Settle', passphrase_hash: await hasher.hash(passphrase), security_phrase: 'p', locale: 'en' }).returning('id').executeTakeFirstOrThrow()).id;
      await db.insertInto('account_addresses').values({ account_id: id, address: 'settle@example.test', verified_at: clock() }).execute();
      const network = '198.51.100.77';
      const counters = async () => (await db.selectFrom('auth_throttle').select(['key', 'attempts']).where('key', 'in', [`account:${id}`, network]).orderBy('key').execute()).map((r) => [r.key, r.attempts]);
      const countSessions = async () => (await db.selectFrom('account_sessions').select((eb) => eb.fn.countAll<number>().as('n')).where('account_id', '=', id).executeTakeFirstOrThrow()).n;

      const wrong = await accounts.signInWithSession({ email: 'settle@example.test', passphrase: 'not the passphrase at all', network, session: { remember: false } });
      t.same(wrong, { ok: false, kind: 'wrong' });
      t.equal(Number(await countSessions()), 0, 'a wrong passphrase opens no session');
      t.same(await counters(), [[network, 1], [`account:${id}`, 1]], 'and stays counted');

      const good = await accounts.signInWithSession({ email: 'Settle@Example.test', passphrase, network, session: { remember: true, userAgent: 'UA', ip: '198.51.100.77' } });
      if (!good.ok) throw new Error(`sign-in failed: ${JSON.stringify(good)}`);
      t.equal(good.accountId, id);
      t.same(await sessions.fromCookie(good.started.cookie), good.started.session, 'the cookie stands for the new session');
      t.equal(good.started.session.remember, true);
      t.same(await counters(), [[network, 1], [`account:${id}`, 0]], "the account's counter cleared, the network's good attempt taken back");
    });

    t.test('accounts: two pending claims verified at once, one wins', async (t) => {
      const sent: AccountMail[] = [];
      const accounts = createAccountService({
        db,
        hasher: createPassphraseHasher(),
        policy: createPassphrasePolicy(),
        throttle: createThrottle({ db, now: clock }),
        sessions: createSessionService({ db, now: clock }),
        mailer: { send: async (m) => void sent.push(m) },
        now: clock,
      });
      const reg = (name: string, network: string) =>
        accounts.register({ name, email: 'race@example.test', passphrase: `${name} likes long walks`, passphrase2: `${name} likes long walks`, securityPhrase: 'p', locale: 'de', network });
      t.same(await reg('Ann', '192.0.2.1'), { ok: true });
      t.same(await reg('Ben', '192.0.2.2'), { ok: true });
      const tokens = sent.filter((m) => m.kind === 'verify').map((m) => (m.kind === 'verify' ? m.token : ''));
      t.equal(tokens.length, 2);
      t.equal(sent[0]!.locale, 'de', 'mail in the page locale');
      const results = await Promise.all(tokens.map((tok) => accounts.verifyAddress(tok)));
      t.equal(results.filter((r) => r.ok).length, 1, 'one account gets the address');
      const lost = results.find((r) => !r.ok);
      t.same(lost, { ok: false, reason: 'taken' }, 'the other is told the address is taken');
      const owners = await db.selectFrom('account_addresses').select(['account_id']).where('address', '=', 'race@example.test').where('verified_at', 'is not', null).execute();
      t.equal(owners.length, 1);
      t.same(await reg('Cy', '192.0.2.3'), { ok: true });
      t.equal(sent.at(-1)!.kind, 'exists', 'a later registration only tells the owner');
      t.equal((await db.selectFrom('accounts').select(['id']).where('name', '=', 'Cy').execute()).length, 0);
    });
  });
}
