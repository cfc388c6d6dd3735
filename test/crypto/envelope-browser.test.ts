// The crypto core, unbundled and unchanged, in real headless Chromium: proves it really is
// isomorphic (no Node built-ins), that Chromium's WebCrypto produces the test vectors, and that
// AES-192 — which Chromium refuses to import — goes through the @noble/ciphers fallback.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stripTypeScriptTypes } from 'node:module';
import t from 'tap';
import { browserSkip, launchChromium } from '../helpers/chromium.ts';
import type { EnvelopeVector } from '../vectors/generate.ts';

const skip = browserSkip();
const root = new URL('../../', import.meta.url);
const { vectors } = JSON.parse(readFileSync(new URL('test/vectors/envelope-v1.json', root), 'utf8')) as { vectors: EnvelopeVector[] };

const PAGE = `<!doctype html><meta charset="utf-8"><title>crypto core</title>
<script type="importmap">{"imports": {"@noble/ciphers/": "/noble/"}}</script>`;

/** Serves the page, src/crypto as type-stripped JavaScript, and @noble/ciphers' ES modules. */
function serve(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    let body: string | null = null;
    if (path === '/') body = PAGE;
    else if (/^\/src\/crypto\/[a-z-]+\.ts$/.test(path)) body = stripTypeScriptTypes(readFileSync(new URL(`.${path}`, root), 'utf8'));
    else if (/^\/noble\/[a-z_]+\.js$/.test(path)) body = readFileSync(new URL(`node_modules/@noble/ciphers/${path.slice(7)}`, root), 'utf8');
    if (body === null) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': path === '/' ? 'text/html' : 'text/javascript' }).end(body);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

t.test('the crypto core in Chromium', { skip }, async (t) => {
  const server = await serve();
  t.teardown(server.close);
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(server.url);

  const results = await page.evaluate(async (vs: EnvelopeVector[]) => {
    const core = await import('/src/crypto/envelope-crypto.ts' as string);
    const aead = await import('/src/crypto/aead.ts' as string);
    const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    const bytes = (h: string) => new Uint8Array((h.match(/../g) ?? []).map((x) => parseInt(x, 16)));
    const out: { name: string; sealed: boolean; opened: boolean; tamperRefused: string }[] = [];
    for (const v of vs) {
      const keys = { envelopeId: bytes(v.envelopeId), serverShare: bytes(v.serverShare), envelopeSecret: bytes(v.envelopeSecret) };
      const sealed = hex(await core.sealEnvelope({ ...keys, algorithm: v.algorithm, recordSize: v.recordSize }, bytes(v.plaintext)));
      const opened = hex(await core.openEnvelope(keys, bytes(v.envelope)));
      const bad = bytes(v.envelope);
      bad[bad.length - 1]! ^= 1;
      const tamperRefused = await core.openEnvelope(keys, bad).then(() => 'opened', (e: Error) => e.name);
      out.push({ name: v.name, sealed: sealed === v.envelope, opened: opened === v.plaintext, tamperRefused });
    }
    const backends = {
      aes192: (await aead.importAeadKey(new Uint8Array(24))).backend as string,
      aes256: (await aead.importAeadKey(new Uint8Array(32))).backend as string,
    };
    return { out, backends };
  }, vectors);

  t.same(errors, [], 'no page errors');
  for (const r of results.out) t.same(r, { name: r.name, sealed: true, opened: true, tamperRefused: 'EnvelopeAuthError' }, `${r.name}: seals, opens, refuses a bad tag`);
  t.equal(results.backends.aes256, 'subtle', 'AES-256 uses WebCrypto');
  t.equal(results.backends.aes192, 'noble', 'Chromium refuses 192-bit AES keys, so the vectors above went through the fallback');
});

t.test('the crypto core imports only itself and @noble/ciphers (also checked without Chromium)', async (t) => {
  for (const file of ['envelope-crypto.ts', 'aead.ts', 'bytes.ts']) {
    const source = readFileSync(new URL(`src/crypto/${file}`, root), 'utf8');
    // Runtime imports only: `import type` and `typeof import(...)` vanish when types are stripped.
    const specifiers = [...source.matchAll(/^import\s+(?!type\b)[^;]*?\bfrom\s+'([^']+)'|(?<!typeof\s)\bimport\s*\(\s*'([^']+)'/gm)].map((m) => m[1] ?? m[2]!);
    t.ok(specifiers.length > 0 || file === 'bytes.ts', `${file}: the import scan sees its imports`);
    t.same(specifiers.filter((s) => !s.startsWith('./') && !s.startsWith('@noble/ciphers/')), [], `${file}: no Node or other imports`);
    t.notMatch(source, /\bBuffer\.|\bprocess\.|\brequire\(/, `${file}: no Node globals`);
  }
});
