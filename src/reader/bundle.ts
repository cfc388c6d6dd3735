import { createHash } from 'node:crypto';
import { build } from 'esbuild';
import path from 'node:path';
import type { Asset } from '../routes/assets.ts';

const BROWSER_TARGETS = ['chrome120', 'firefox120', 'safari17'];

async function bundle(entry: string, extra: { lineLimit?: number } = {}): Promise<Uint8Array> {
  const result = await build({
    entryPoints: [path.join(import.meta.dirname, 'browser', entry)],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: BROWSER_TARGETS,
    minify: true,
    // Non-ASCII becomes escapes: the envelope file is 7bit and its CSP hash covers the script.
    charset: 'ascii',
    legalComments: 'none',
    logLevel: 'silent',
    ...extra,
  });
  return result.outputFiles[0]!.contents;
}

async function scriptAsset(entry: string): Promise<Asset> {
  const body = Buffer.from(await bundle(entry));
  return { type: 'text/javascript; charset=utf-8', body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/**
 * The applet reader's scripts, built from source in memory, so what runs in the browser is
 * always what the tests ran: the page logic with DOMPurify and the message view (reader.ts),
 * and the worker that decrypts and parses with the crypto core and postal-mime
 * (reader-worker.ts). The page's first script is inline (readerStartScriptCache).
 */
export const READER_ASSETS: ReadonlyMap<string, () => Promise<Asset>> = new Map([
  ['reader.js', () => scriptAsset('reader.ts')],
  ['reader-worker.js', () => scriptAsset('reader-worker.ts')],
]);

/**
 * The reader page's first script (src/reader/browser/reader-start.ts), about 1.5 KB, to be put
 * inline in the page's head under a CSP hash: it starts the opening without waiting for a
 * request of its own. Built once, on first use, for whoever holds the returned function.
 */
export function readerStartScriptCache(): () => Promise<string> {
  return once(async () => {
    const script = Buffer.from(await bundle('reader-start.ts')).toString('utf8').trimEnd();
    // An HTML parser ends a script element at "</script" (and "<!--" changes how it reads on).
    if (/<\/script|<!--/i.test(script)) throw new Error('the reader start script contains "</script" or "<!--"');
    return script;
  });
}

// esbuild breaks minified output after this many columns where it can; a long string literal
// still runs on, so the result is checked against the envelope file's own limit below.
const ENVELOPE_FILE_LINE_LIMIT = 40;
const ENVELOPE_FILE_MAX_LINE = 190;

/**
 * The script of an envelope file that may be opened offline (src/reader/browser/envelope-file.ts):
 * the crypto core, postal-mime, DOMPurify and the message view, about 140 KB. It goes inline
 * into securedoc.html, which is mailed as 7bit text, so it must be printable ASCII in short lines.
 */
export async function buildEnvelopeFileScript(): Promise<string> {
  const built = Buffer.from(await bundle('envelope-file.ts', { lineLimit: ENVELOPE_FILE_LINE_LIMIT })).toString('latin1');
  // charset 'ascii' escapes everything above 0x7e; raw control characters (postal-mime has one
  // in a string literal) can only stand inside string, template or regular expression literals,
  // where \xHH means the same character.
  const script = built.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).trimEnd();
  if (/[^\x09\x0a\x20-\x7e]/.test(script)) throw new Error('the envelope file script is not printable ASCII');
  if (script.split('\n').some((line) => line.length > ENVELOPE_FILE_MAX_LINE)) throw new Error(`the envelope file script has a line longer than ${ENVELOPE_FILE_MAX_LINE} characters`);
  // An HTML parser ends a script element at "</script", whatever the JavaScript around it means.
  if (/<\/script/i.test(script)) throw new Error('the envelope file script contains "</script"');
  return script;
}

/** Builds the envelope file script once, on first use, for whoever holds this function. */
export function envelopeFileScriptCache(): () => Promise<string> {
  return once(buildEnvelopeFileScript);
}

/** `build` run once, on first call; a failed build is tried again on the next call. */
function once(build: () => Promise<string>): () => Promise<string> {
  let built: Promise<string> | null = null;
  return () => {
    built ??= build().catch((err: unknown) => {
      built = null;
      throw err;
    });
    return built;
  };
}
