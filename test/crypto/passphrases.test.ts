import t from 'tap';
import argon2 from 'argon2';
import { createLimiter, createPassphraseHasher, DEFAULT_ARGON2_PARAMS, parsePhc } from '../../src/crypto/passphrases.ts';

// Small parameters keep the suite fast; one test below runs the real defaults.
const FAST = { memoryCost: 1024, timeCost: 1, parallelism: 1 };
const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

t.test('hash then verify', async (t) => {
  const h = createPassphraseHasher({ params: FAST });
  const stored = await h.hash('correct horse battery staple');
  t.match(stored, PHC);
  t.same(await h.verify(stored, 'correct horse battery staple'), { ok: true, needsRehash: false });
  t.same(await h.verify(stored, 'correct horse battery stapler'), { ok: false, needsRehash: false }, 'wrong passphrase');
  t.same(await h.verify(stored, ''), { ok: false, needsRehash: false });
  t.not(await h.hash('correct horse battery staple'), stored, 'fresh salt each time');
});

t.test('default parameters: OWASP minimum, canonical m,t,p order, 16-byte salt, 32-byte hash', async (t) => {
  const h = createPassphraseHasher();
  t.same(h.params, { memoryCost: 19456, timeCost: 2, parallelism: 1 });
  const stored = await h.hash('a default-cost passphrase');
  t.match(stored, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  const m = PHC.exec(stored)!;
  t.equal(Buffer.from(m[4]!, 'base64').length, 16);
  t.equal(Buffer.from(m[5]!, 'base64').length, 32);
  t.same(await h.verify(stored, 'a default-cost passphrase'), { ok: true, needsRehash: false });
  // Interoperability: the reference binding reads what we write.
  t.equal(await argon2.verify(stored, 'a default-cost passphrase'), true);
  t.equal(argon2.needsRehash(stored, { memoryCost: 19456, timeCost: 2, parallelism: 1 }), false);
});

t.test('NFC and NFD forms of the same passphrase match', async (t) => {
  const h = createPassphraseHasher({ params: FAST });
  const nfc = 'caf\u00e9 au lait';
  const nfd = 'cafe\u0301 au lait';
  t.not(nfc, nfd);
  t.same(await h.verify(await h.hash(nfc), nfd), { ok: true, needsRehash: false });
  t.same(await h.verify(await h.hash(nfd), nfc), { ok: true, needsRehash: false });
  // The stored hash is over the NFC bytes, so other stacks that normalise the same way agree.
  t.equal(await argon2.verify(await h.hash(nfd), nfc), true);
});

t.test('needsRehash when the parameters change, still verifying the old hash', async (t) => {
  const old = createPassphraseHasher({ params: FAST });
  const stored = await old.hash('an older passphrase');
  const stronger = createPassphraseHasher({ params: { memoryCost: 2048, timeCost: 1, parallelism: 1 } });
  t.same(await stronger.verify(stored, 'an older passphrase'), { ok: true, needsRehash: true });
  t.same(await stronger.verify(stored, 'wrong'), { ok: false, needsRehash: true });
  const moreTime = createPassphraseHasher({ params: { ...FAST, timeCost: 2 } });
  t.same(await moreTime.verify(stored, 'an older passphrase'), { ok: true, needsRehash: true });
  const rehashed = await stronger.hash('an older passphrase');
  t.same(await stronger.verify(rehashed, 'an older passphrase'), { ok: true, needsRehash: false });
});

t.test('parameters are read in any order; argon2 0.44 output is read too', async (t) => {
  const h = createPassphraseHasher({ params: FAST });
  const stored = await h.hash('order does not matter');
  const [, id, v, , salt, hash] = stored.split('$');
  for (const order of ['m=1024,p=1,t=1', 't=1,m=1024,p=1', 'p=1,t=1,m=1024']) {
    t.same(await h.verify(`$${id}$${v}$${order}$${salt}$${hash}`, 'order does not matter'), { ok: true, needsRehash: false }, order);
  }
  const fromBinding = await argon2.hash('made by the binding', { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 });
  t.same(await h.verify(fromBinding, 'made by the binding'), { ok: true, needsRehash: false });
  // Other argon2 variants verify but are flagged for replacement.
  const argon2i = await argon2.hash('an argon2i hash', { type: argon2.argon2i, memoryCost: 1024, timeCost: 1, parallelism: 1 });
  t.same(await h.verify(argon2i, 'an argon2i hash'), { ok: true, needsRehash: true });
});

t.test('malformed stored strings are a refusal, not an exception', async (t) => {
  const h = createPassphraseHasher({ params: FAST });
  const good = await h.hash('pass phrase');
  const [, , , , salt, hash] = good.split('$');
  const bad = [
    '',
    'not a hash',
    '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW', // bcrypt
    '$argon2id$v=19$m=1024,t=1,p=1$' + salt,
    `$argon2id$v=19$m=1024,t=1$${salt}$${hash}`,
    `$argon2id$v=19$m=1024,t=1,p=1,p=1$${salt}$${hash}`,
    `$argon2id$v=19$m=1024,t=1,p=1,x=3$${salt}$${hash}`,
    `$argon2id$v=18$m=1024,t=1,p=1$${salt}$${hash}`,
    `$argon2x$v=19$m=1024,t=1,p=1$${salt}$${hash}`,
    `$argon2id$v=19$m=1024,t=0,p=1$${salt}$${hash}`,
    `$argon2id$v=19$m=4,t=1,p=1$${salt}$${hash}`,
    `$argon2id$v=19$m=99999999,t=1,p=1$${salt}$${hash}`, // would allocate ~95 GiB
    `$argon2id$v=19$m=1024,t=1,p=1$${salt}$${hash}=`,
    `$argon2id$v=19$m=1024,t=1,p=1$${salt}$${hash}$extra`,
    `$argon2id$v=19$m=1024,t=1,p=1$!!!$${hash}`,
    `$argon2id$v=19$m=1024,t=1,p=1$AAAA$${hash}`, // 3-byte salt
    `argon2id$v=19$m=1024,t=1,p=1$${salt}$${hash}`,
  ];
  for (const stored of bad) {
    t.same(await h.verify(stored, 'pass phrase'), { ok: false, needsRehash: true }, JSON.stringify(stored));
  }
  t.same(await h.verify(undefined as unknown as string, 'pass phrase'), { ok: false, needsRehash: true });
  t.equal(parsePhc(good)?.params.memoryCost, 1024);
});

t.test('dummyVerify spends a verification and is always false', async (t) => {
  const h = createPassphraseHasher({ params: FAST });
  t.equal(await h.dummyVerify('anything at all'), false);
  t.equal(await h.dummyVerify(''), false);
  // It must be a real argon2 run through the same limiter (so it costs what a verify costs),
  // observed as a slot in use while it runs; no wall-clock comparison, which is flaky here.
  const d = createPassphraseHasher({ maxConcurrent: 1 });
  const pending = d.dummyVerify('anything at all');
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(d.inFlight(), 1, 'it occupies a hashing slot like a real verification');
  t.equal(await pending, false);
  t.equal(d.inFlight(), 0);
});

t.test('at most maxConcurrent hashes run at once; the rest wait', async (t) => {
  const h = createPassphraseHasher({ params: FAST, maxConcurrent: 2 });
  const stored = await h.hash('p');
  let peak = 0;
  const sample = setInterval(() => (peak = Math.max(peak, h.inFlight())), 0);
  const calls = Array.from({ length: 10 }, (_, i) => (i % 2 ? h.verify(stored, 'p') : h.hash(`p${i}`)));
  t.equal(h.inFlight(), 2, 'two started at once');
  t.equal(h.waiting(), 8, 'eight queued');
  const results = await Promise.all(calls);
  clearInterval(sample);
  t.ok(peak <= 2, `peak ${peak}`);
  t.equal(h.inFlight(), 0);
  t.equal(h.waiting(), 0);
  t.equal(results.length, 10);
});

t.test('limiter: bound, FIFO order, slots released on failure', async (t) => {
  const limit = createLimiter(2);
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  const gates: Array<() => void> = [];
  const task = (i: number) =>
    limit.run(async () => {
      started.push(i);
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((r) => gates.push(r));
      running--;
      if (i === 3) throw new Error('task 3 fails');
      return i;
    });
  const all = [0, 1, 2, 3, 4, 5, 6].map((i) => task(i).catch((e: Error) => e.message));
  await new Promise((r) => setImmediate(r));
  t.same(started, [0, 1]);
  t.equal(limit.waiting(), 5);
  // Always finish the newest running task while task 0 keeps its slot: whichever slot frees,
  // the queue still admits 2, 3, 4... in arrival order.
  while (gates.length) {
    gates.pop()!();
    await new Promise((r) => setImmediate(r));
  }
  // Keep releasing as later tasks enter.
  while (started.length < 7 || gates.length) {
    gates.shift()?.();
    await new Promise((r) => setImmediate(r));
  }
  t.same(started, [0, 1, 2, 3, 4, 5, 6], 'FIFO');
  t.equal(peak, 2);
  t.same(await Promise.all(all), [0, 1, 2, 'task 3 fails', 4, 5, 6]);
  t.equal(limit.inFlight(), 0);
  // A newcomer after a failure still gets a slot at once.
  t.equal(await limit.run(async () => 'later'), 'later');
  t.throws(() => createLimiter(0), RangeError);
});

t.test('the hasher admits callers in arrival order', async (t) => {
  const h = createPassphraseHasher({ params: FAST, maxConcurrent: 1 });
  const done: number[] = [];
  await Promise.all(Array.from({ length: 6 }, (_, i) => h.hash(`p${i}`).then(() => done.push(i))));
  t.same(done, [0, 1, 2, 3, 4, 5]);
});

t.test('parameters are validated', async (t) => {
  t.throws(() => createPassphraseHasher({ params: { memoryCost: 4, timeCost: 1, parallelism: 1 } }), RangeError);
  t.throws(() => createPassphraseHasher({ params: { memoryCost: 1024, timeCost: 0, parallelism: 1 } }), RangeError);
  t.throws(() => createPassphraseHasher({ maxConcurrent: 0 }), RangeError);
  t.same(DEFAULT_ARGON2_PARAMS, { memoryCost: 19456, timeCost: 2, parallelism: 1 });
});
