import t from 'tap';
import http from 'node:http';
import { createKeyServiceClient, KeyServiceError } from '../../src/gateway/key-client.ts';
import { errorOf } from '../helpers/errors.ts';

/** A real HTTP peer that fails the first `failures` requests with `status`, then answers 200. */
async function flakyServer(failures: number, status: number) {
  let seen = 0;
  const server = http.createServer((req, res) => {
    seen++;
    if (seen <= failures) {
      res.writeHead(status, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ status, detail: 'not now' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ profile: { name: 'P' }, keyService: { url: 'x' }, versions: { envelope: 1, securedoc: 1 } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, seen: () => seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const credential = `wxg_${'a'.repeat(12)}.${'b'.repeat(43)}`;

t.test('retries 503 with growing delays, then succeeds', async (t) => {
  const srv = await flakyServer(3, 503);
  t.teardown(srv.close);
  const delays: number[] = [];
  const client = createKeyServiceClient({ url: srv.url, credential, attempts: 5, baseDelayMs: 100, sleep: async (ms) => void delays.push(ms) });
  const info = await client.getProfile();
  t.equal(info.profile.name, 'P');
  t.equal(srv.seen(), 4);
  t.equal(delays.length, 3);
  t.ok(delays[0]! >= 50 && delays[0]! <= 100 && delays[2]! >= 200 && delays[2]! <= 400, `exponential with jitter: ${delays.join(', ')}`);
});

t.test('gives up after the attempts with a clear message', async (t) => {
  const srv = await flakyServer(99, 502);
  t.teardown(srv.close);
  const client = createKeyServiceClient({ url: srv.url, credential, attempts: 3, sleep: async () => {} });
  const err = await errorOf(client.getProfile());
  t.ok(err instanceof KeyServiceError);
  t.equal(err.code, 'unreachable');
  t.match(err.message, /after 3 attempts \(last error: HTTP 502 not now\)\. The message was not sealed/);
  t.equal(srv.seen(), 3);
});

t.test('does not retry what retrying cannot fix', async (t) => {
  for (const [status, code] of [[401, 'unauthorized'], [409, 'conflict'], [422, 'rejected']] as const) {
    const srv = await flakyServer(99, status);
    const client = createKeyServiceClient({ url: srv.url, credential, attempts: 3, sleep: async () => {} });
    const err = await errorOf(client.getProfile());
    t.equal(err.code, code, `${status} → ${code}`);
    t.equal(srv.seen(), 1, `${status} is not retried`);
    await srv.close();
  }
});

t.test('a 2xx answer cut off mid-body is retried, not taken as success', async (t) => {
  let seen = 0;
  const server = http.createServer((req, res) => {
    seen++;
    if (seen === 1) {
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': '200' });
      res.write('{"created":');
      setTimeout(() => res.destroy(), 20);
      return;
    }
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ created: true, payloadPending: false, payloadUrl: null }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const client = createKeyServiceClient({ url, credential, attempts: 3, sleep: async () => {} });
  const stored = await client.putEnvelope('a'.repeat(22), {} as never);
  t.same(stored, { created: true, payloadPending: false, payloadUrl: null });
  t.equal(seen, 2, 'the cut-off answer was retried');
});

t.test('Retry-After is honoured', async (t) => {
  let seen = 0;
  const server = http.createServer((req, res) => {
    seen++;
    if (seen === 1) {
      res.writeHead(503, { 'retry-after': '7', 'content-type': 'application/problem+json' });
      res.end('{"detail":"busy"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"profile":{"name":"P"}}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const delays: number[] = [];
  const client = createKeyServiceClient({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, credential, attempts: 2, baseDelayMs: 10, sleep: async (ms) => void delays.push(ms) });
  await client.getProfile();
  t.same(delays, [7000], 'waited as long as the service asked');
});

t.test('through an HTTP proxy: the key service is reached via the proxy, and a dead proxy is unreachable', async (t) => {
  const { createProxy } = await import('proxy');
  const srv = await flakyServer(0, 200);
  t.teardown(srv.close);
  const proxied: string[] = [];
  const proxyServer = createProxy(http.createServer());
  proxyServer.on('request', (req: http.IncomingMessage) => proxied.push(`${req.method} ${req.url}`));
  await new Promise<void>((r) => proxyServer.listen(0, '127.0.0.1', r));
  const proxyUrl = `http://127.0.0.1:${(proxyServer.address() as { port: number }).port}`;
  t.teardown(() => new Promise<void>((r) => proxyServer.close(() => r())));

  const client = createKeyServiceClient({ url: srv.url, credential, proxy: proxyUrl, attempts: 1 });
  t.equal((await client.getProfile()).profile.name, 'P', 'the answer came back through the proxy');
  t.same(proxied, [`GET ${srv.url}/api/v1/gateway/profile`], 'the proxy carried the request (absolute URI)');
  t.equal(srv.seen(), 1);

  const dead = createKeyServiceClient({ url: srv.url, credential, proxy: 'http://127.0.0.1:1', attempts: 1 });
  const err = await errorOf(dead.getProfile());
  t.ok(err instanceof KeyServiceError && err.code === 'unreachable', 'a proxy that is down makes the key service unreachable');
  t.throws(() => createKeyServiceClient({ url: srv.url, credential, proxy: 'socks5://127.0.0.1:1080' }), TypeError, 'only http(s) proxies');
});
