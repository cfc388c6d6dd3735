// Apart from message-model.ts, so the sanitiser (and the page bundle) need not load the MIME parser.

/** `<ID@host>` or `ID@host` → `id@host`: cid: URLs are compared case-insensitively without brackets. */
export function normaliseContentId(value: string): string {
  let id = value.trim();
  if (id.startsWith('<') && id.endsWith('>')) id = id.slice(1, -1);
  return safeDecode(id).toLowerCase();
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
