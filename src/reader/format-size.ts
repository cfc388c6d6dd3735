// Apart from message-model.ts, so the page bundle can show sizes without the MIME parser.

/**
 * "12.3 kB", "1.5 MB", "512 bytes" in the reader's language (Intl's unit names, so the bundle
 * needs no translations). Decimal units, as file managers and browsers show them.
 */
export function formatSize(bytes: number, locale: string): string {
  const [unit, value] = bytes >= 1e6 ? ['megabyte', bytes / 1e6] : bytes >= 1e3 ? ['kilobyte', bytes / 1e3] : ['byte', bytes];
  return new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: unit === 'byte' ? 'long' : 'short', maximumFractionDigits: 1 }).format(value);
}
