import type { StoredAuditEntry } from '../domain/audit/audit-repository.ts';

/** The audit record as exported (API and console): NDJSON lines and CSV share these fields. */
export function auditJson(r: StoredAuditEntry) {
  return { seq: r.seq, at: r.at.toISOString(), actor: r.actor, action: r.action, subject: r.subject, detail: r.detail, hash: Buffer.from(r.hash).toString('hex') };
}

const CSV_COLUMNS = ['seq', 'at', 'actor', 'action', 'subject', 'detail', 'hash'] as const;

/** RFC 4180, with cells that a spreadsheet would run as a formula made inert (a leading '). */
export function toCsv(records: StoredAuditEntry[]): string {
  const cell = (v: unknown) => {
    let s = typeof v === 'string' ? v : v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of records) {
    const j = auditJson(r);
    lines.push(CSV_COLUMNS.map((c) => cell(j[c])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
