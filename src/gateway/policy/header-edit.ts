import libmime from 'libmime';
import type { HeaderChange } from './evaluate.ts';

/**
 * Adds or changes header fields of a message, leaving everything else byte for byte: a field
 * already present (any case) has its first occurrence replaced and later ones removed; a new one
 * is put at the top of the header block. Non-ASCII values are RFC 2047 encoded (libmime).
 */
export function applyHeaderChanges(raw: Uint8Array, changes: readonly HeaderChange[]): Uint8Array {
  if (changes.length === 0) return raw;
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const text = buf.toString('latin1');
  const m = /\r?\n\r?\n/.exec(text);
  const headEnd = m ? m.index + m[0].length : text.length;
  const eol = m?.[0].startsWith('\r\n') || /\r\n/.test(text.slice(0, headEnd)) ? '\r\n' : '\n';
  // Fields with their continuation lines, as they are (latin1 keeps every byte).
  const head = text.slice(0, m ? m.index : text.length);
  const fields = head.length ? head.split(/\r?\n(?![ \t])/) : [];
  let out = fields;
  const added: string[] = [];
  for (const change of changes) {
    if (/[\r\n]/.test(change.value) || !/^[!-9;-~]+$/.test(change.name)) throw new TypeError(`invalid header change ${change.name}`);
    const line = `${change.name}: ${/^[\x20-\x7e]*$/.test(change.value) ? change.value : libmime.encodeWords(change.value, 'B', 52)}`;
    const lower = change.name.toLowerCase();
    let replaced = false;
    out = out.flatMap((f) => {
      if (f.slice(0, f.indexOf(':')).trim().toLowerCase() !== lower) return [f];
      if (replaced) return [];
      replaced = true;
      return [line];
    });
    const already = added.findIndex((a) => a.slice(0, a.indexOf(':')).toLowerCase() === lower);
    if (already !== -1) added[already] = line;
    else if (!replaced) added.push(line);
  }
  const newHead = [...added, ...out].join(eol);
  const rest = buf.subarray(Buffer.byteLength(text.slice(0, m ? m.index : text.length), 'latin1'));
  return new Uint8Array(Buffer.concat([Buffer.from(newHead, 'latin1'), rest]));
}
