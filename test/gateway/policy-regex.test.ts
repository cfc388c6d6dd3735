// Regular expressions in `matches`: compiled with supported flags only, and refused when they
// nest repetition (the shape that backtracks exponentially).

import t from 'tap';
import { compilePattern, findNestedRepetition } from '../../src/gateway/policy/regex-pattern.ts';

t.test('valid patterns compile with the flags given', async (t) => {
  const r = compilePattern('^secure\\b', 'i');
  t.ok(r.ok);
  if (r.ok) {
    t.ok(r.regex.test('SECURE: payroll'));
    t.equal(r.regex.flags, 'i');
  }
  const u = compilePattern('\\p{Lu}{2,}', 'u');
  t.ok(u.ok, 'Unicode property escapes with u');
  t.ok(compilePattern('a.b', 'ms').ok);
  t.ok(compilePattern('x', '').ok, 'no flags: case-sensitive');
});

t.test('flags other than i, m, s and u are refused, with the reason', async (t) => {
  for (const [flag, reason] of [['g', /start where the previous one ended/], ['y', /previous/], ['d', /never used/], ['v', /use u/], ['x', /flags are i, m, s, u/]] as const) {
    const r = compilePattern('a', flag);
    t.notOk(r.ok, flag);
    if (!r.ok) {
      t.match(r.message, new RegExp(`flag "${flag}" is not supported`));
      t.match(r.message, reason);
    }
  }
  const twice = compilePattern('a', 'ii');
  t.notOk(twice.ok);
  if (!twice.ok) t.match(twice.message, /given twice/);
});

t.test('patterns that do not compile are refused with the engine\'s reason', async (t) => {
  const r = compilePattern('([a-z]', '');
  t.notOk(r.ok);
  if (!r.ok) t.match(r.message, /"\(\[a-z\]" is not a valid regular expression: Unterminated group/);
});

t.test('nested repetition is refused', async (t) => {
  for (const p of ['(a+)+', '(a*)*', '(?:\\d+\\s?)+$', '(x+x+)+y', '((ab)*c)*', '(a|b+){2,}', '([a-z]+)*@']) {
    t.not(findNestedRepetition(p), null, p);
    const r = compilePattern(p, 'i');
    t.notOk(r.ok, p);
    if (!r.ok) t.match(r.message, /repeats a group that itself repeats/);
  }
});

t.test('ordinary repetition is accepted', async (t) => {
  for (const p of ['a+b+c*', '(ab)+', '(a+)', '(a+)?', '(a{2})+', '[(+*]+', '\\(a+\\)+', '(\\d{3}-){2}\\d{4}', '\\u{1F600}+', '(?:x|y)+', '[)]+']) {
    t.equal(findNestedRepetition(p), null, p);
  }
});
