import t from 'tap';
import { describeBrowser, safeNext, withQuery } from '../../src/routes/account-http.ts';

t.test('safeNext keeps paths on this site only', async (t) => {
  for (const ok of ['/account', '/open/abc', '/open/abc?x=1&y=%2F', '/%2F%2Fevil']) t.equal(safeNext(ok), ok, ok);
  for (const bad of [undefined, '', 'account', '//evil.example', '///evil.example', '/\\evil.example', '\\\\evil', 'https://evil.example/', 'javascript:alert(1)', '/open/x#secret', '/a\nb', '/a b', `/${'a'.repeat(3000)}`, ['/x']]) {
    t.equal(safeNext(bad), '/account', JSON.stringify(bad));
  }
  t.equal(safeNext('//evil', '/signin'), '/signin', 'with its own fallback');
});

t.test('withQuery drops empty values and encodes the rest', async (t) => {
  t.equal(withQuery('/signin', { next: '/open/a?b=c', email: undefined, done: '' }), '/signin?next=%2Fopen%2Fa%3Fb%3Dc');
  t.equal(withQuery('/signin', {}), '/signin');
});

t.test('describeBrowser names common browsers and shortens the rest', async (t) => {
  t.equal(describeBrowser('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0.0.0 Safari/537.36 Edg/139.0.0.0'), 'Edge (Windows)');
  t.equal(describeBrowser('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15'), 'Safari (macOS)');
  t.equal(describeBrowser('Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/139.0 Mobile Safari/537.36'), 'Chrome (Android)');
  t.equal(describeBrowser('curl/8.5.0'), 'curl/8.5.0');
  t.equal(describeBrowser('x'.repeat(100))!.length, 60);
  t.equal(describeBrowser(null), null);
});
