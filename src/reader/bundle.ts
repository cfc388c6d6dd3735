import { createHash } from 'node:crypto';
import { build } from 'esbuild';
import path from 'node:path';
import type { Asset } from '../routes/assets.ts';

/**
 * The applet reader as one script: the crypto core, postal-mime, DOMPurify and the page logic.
 * Built from source in memory, so what runs in the browser is always what the tests ran.
 */
export async function buildReaderBundle(): Promise<Asset> {
  const result = await build({
    entryPoints: [path.join(import.meta.dirname, 'browser', 'reader.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['chrome120', 'firefox120', 'safari17'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const body = Buffer.from(result.outputFiles[0]!.contents);
  return { type: 'text/javascript; charset=utf-8', body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}
