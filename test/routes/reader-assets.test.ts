// The applet reader's scripts as the key service serves them. The decrypting worker gets the
// secret and the share, so its own policy must keep it off the network: a dedicated worker runs
// under the CSP of its script's response, not the page's.
import t from 'tap';
import { engines } from '../helpers/databases.ts';
import { startKeyService } from '../helpers/key-service.ts';

const [pglite] = engines();

t.test('the reader scripts: served, and the worker under a policy with no network', async (t) => {
  const opened = await pglite!.open();
  const ks = await startKeyService(opened);
  t.teardown(async () => {
    await ks.close();
    await opened.dispose();
  });

  const worker = await ks.app.inject({ method: 'GET', url: '/assets/reader-worker.js' });
  t.equal(worker.statusCode, 200);
  t.match(worker.headers['content-type'], /^text\/javascript/);
  const csp = String(worker.headers['content-security-policy']);
  t.match(csp, /(^|;\s*)default-src 'none'(;|$)/, 'default-src none: no fetch, no importScripts, no eval in the worker');
  t.notMatch(csp, /connect-src|script-src/, 'and nothing that loosens it');
  t.match(worker.body, /postMessage/, 'it is the worker');

  const page = await ks.app.inject({ method: 'GET', url: '/assets/reader.js' });
  t.equal(page.statusCode, 200);
  t.notMatch(page.body, /WXSL|postal-mime/i, "the page's own script carries neither the crypto core nor the MIME parser");
  t.ok(page.body.length < 60_000, `the page's own script is small (${page.body.length} bytes)`);

  const gone = await ks.app.inject({ method: 'GET', url: '/assets/reader-start.js' });
  t.equal(gone.statusCode, 404, 'the start script is only ever inline');
});
