const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/**
 * A message as it goes on the wire to the MTA: every line ending CRLF (a bare CR or LF becomes
 * CRLF, so no receiver can read "\r.\r" or "\n.\n" as the end of the data: SMTP smuggling), and
 * for DATA (not BDAT) a dot at the start of a line doubled (RFC 5321 section 4.5.2).
 *
 * Messages the gateway hands back are nearly always canonical already (Postfix sends CRLF, and
 * the gateway writes CRLF), so the common case only looks, with native searches, and returns the
 * bytes as they are; only a message that needs a change is copied.
 */
export function wireFormat(raw: Uint8Array, opts: { dotStuff: boolean }): Uint8Array {
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  return needsRewrite(bytes, opts.dotStuff) ? rewrite(bytes, opts.dotStuff) : bytes;
}

/** Whether the data ends with CRLF (DATA's terminator then needs no line end of its own). */
export function endsWithCrlf(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[bytes.length - 2] === CR && bytes[bytes.length - 1] === LF;
}

function needsRewrite(b: Buffer, dotStuff: boolean): boolean {
  if (dotStuff && b[0] === DOT) return true;
  for (let i = b.indexOf(LF); i !== -1; i = b.indexOf(LF, i + 1)) {
    if (i === 0 || b[i - 1] !== CR) return true;
    if (dotStuff && b[i + 1] === DOT) return true;
  }
  for (let i = b.indexOf(CR); i !== -1; i = b.indexOf(CR, i + 1)) {
    if (b[i + 1] !== LF) return true;
  }
  return false;
}

function rewrite(b: Buffer, dotStuff: boolean): Buffer {
  const out = Buffer.allocUnsafe(b.length * 2 + 2);
  let o = 0;
  let lineStart = true;
  for (let i = 0; i < b.length; i++) {
    const byte = b[i]!;
    if (byte === CR || byte === LF) {
      out[o++] = CR;
      out[o++] = LF;
      // CRLF is one line end; a lone CR or LF is one too.
      if (byte === CR && b[i + 1] === LF) i++;
      lineStart = true;
      continue;
    }
    if (lineStart && dotStuff && byte === DOT) out[o++] = DOT;
    out[o++] = byte;
    lineStart = false;
  }
  return out.subarray(0, o);
}
