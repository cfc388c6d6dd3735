import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface Asset {
  type: string;
  body: Buffer;
  etag: string;
}

/**
 * Serves the files of public/ (style sheet, page scripts) and generated ones (the reader bundle)
 * at /assets/NAME. Read once at start: the set is small and fixed, and nothing is looked up on
 * disk per request, so no path from a URL ever reaches the file system.
 */
export async function assetRoutes(
  app: FastifyInstance,
  opts: { publicDir: string; extra?: Map<string, Asset>; lazy?: ReadonlyMap<string, () => Promise<Asset>> },
): Promise<void> {
  const assets = new Map<string, Asset>(opts.extra ?? []);
  // Generated assets (the reader bundle) are built at their first request, once per app.
  const pending = new Map<string, Promise<Asset>>();
  const lazyAsset = (name: string): Promise<Asset> | undefined => {
    const make = opts.lazy?.get(name);
    if (!make) return undefined;
    let p = pending.get(name);
    if (!p) {
      p = make();
      pending.set(name, p);
    }
    return p;
  };
  for (const name of readdirSync(opts.publicDir)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(opts.publicDir, name));
    assets.set(name, { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  app.get('/assets/:name', { schema: { hide: true } }, async (request, reply) => {
    const name = (request.params as { name: string }).name;
    const asset = assets.get(name) ?? (await lazyAsset(name));
    if (!asset) return reply.code(404).type('text/plain').send('Not found');
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.header('etag', asset.etag).header('cache-control', 'no-cache').type(asset.type).send(asset.body);
  });
}
