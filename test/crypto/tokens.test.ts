import t from 'tap';
import { issueToken, parseToken, secretMatches } from '../../src/crypto/tokens.ts';

t.test('token ids are letters and digits, so a shell never reads one as an option', async (t) => {
  const ids = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const issued = issueToken('wxg');
    t.match(issued.id, /^[A-Za-z0-9]{12}$/);
    ids.add(issued.id);
    const parsed = parseToken('wxg', issued.token);
    if (!parsed || parsed.id !== issued.id || !secretMatches(parsed.secret, issued.secretHash)) t.fail(`round trip failed for ${issued.token}`);
  }
  t.equal(ids.size, 2000, 'no repeats');
  t.equal(parseToken('wxa', issueToken('wxg').token), null, 'the prefix is checked');
});
