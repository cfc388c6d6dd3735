/** What a logo may be: the profile's schema takes PNG, JPEG or GIF, at most 300,000 bytes. */
export const LOGO_MAX_BYTES = 300_000;

export type LogoCheck = { ok: true; mediaType: 'image/png' | 'image/jpeg' | 'image/gif' } | { ok: false; problem: 'type' | 'size' | 'empty' };

/**
 * The type is read from the file's first bytes, never from its name or the browser's claim: an
 * SVG (which can carry script) or an HTML file renamed .png is refused.
 */
export function checkLogo(bytes: Uint8Array): LogoCheck {
  if (bytes.length === 0) return { ok: false, problem: 'empty' };
  if (bytes.length > LOGO_MAX_BYTES) return { ok: false, problem: 'size' };
  const starts = (sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { ok: true, mediaType: 'image/png' };
  if (starts([0xff, 0xd8, 0xff])) return { ok: true, mediaType: 'image/jpeg' };
  if (starts([0x47, 0x49, 0x46, 0x38]) && (bytes[4] === 0x37 || bytes[4] === 0x39) && bytes[5] === 0x61) return { ok: true, mediaType: 'image/gif' };
  return { ok: false, problem: 'type' };
}
