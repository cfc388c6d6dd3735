/**
 * The X-PostX-* headers a sender (or a content filter in front of the
 * gateway) adds to override the envelope profile for one message. Names and
 * value formats follow the Cisco Registered Envelope Service so existing
 * filters keep working; ISO 8601 and RFC 5322 absolute dates are accepted as
 * well because "+D" cannot say "until the end of the quarter".
 *
 * Anything we cannot interpret is an error rather than ignored: a sender who
 * asked for an expiry date and silently did not get one has leaked mail.
 */
import type { MessageHead } from './message-head.ts';
import { MessageError } from './message-errors.ts';

export interface PostxOverrides {
  replyEnabled?: boolean;
  replyAllEnabled?: boolean;
  forwardEnabled?: boolean;
  sendReturnReceipt?: boolean;
  expirationDate?: Date;
  readNotificationDate?: Date;
  suppressAppletForOpen?: boolean;
  useScript?: boolean;
  rememberEnvelopeKeyCheckbox?: boolean;
}

export const POSTX_HEADER_NAMES = [
  'X-PostX-Reply-Enabled',
  'X-PostX-Reply-All-Enabled',
  'X-PostX-Forward-Enabled',
  'X-PostX-Send-Return-Receipt',
  'X-PostX-ExpirationDate',
  'X-PostX-ReadNotificationDate',
  'X-PostX-Suppress-Applet-For-Open',
  'X-PostX-Use-Script',
  'X-PostX-Remember-Envelope-Key-Checkbox',
] as const;

export type PostxHeaderName = (typeof POSTX_HEADER_NAMES)[number];

type BooleanKey = {
  [K in keyof PostxOverrides]-?: NonNullable<PostxOverrides[K]> extends boolean ? K : never;
}[keyof PostxOverrides];
type DateKey = {
  [K in keyof PostxOverrides]-?: NonNullable<PostxOverrides[K]> extends Date ? K : never;
}[keyof PostxOverrides];

type HeaderSpec = { kind: 'boolean'; field: BooleanKey } | { kind: 'date'; field: DateKey };

const SPECS: Readonly<Record<PostxHeaderName, HeaderSpec>> = {
  'X-PostX-Reply-Enabled': { kind: 'boolean', field: 'replyEnabled' },
  'X-PostX-Reply-All-Enabled': { kind: 'boolean', field: 'replyAllEnabled' },
  'X-PostX-Forward-Enabled': { kind: 'boolean', field: 'forwardEnabled' },
  'X-PostX-Send-Return-Receipt': { kind: 'boolean', field: 'sendReturnReceipt' },
  'X-PostX-ExpirationDate': { kind: 'date', field: 'expirationDate' },
  'X-PostX-ReadNotificationDate': { kind: 'date', field: 'readNotificationDate' },
  'X-PostX-Suppress-Applet-For-Open': { kind: 'boolean', field: 'suppressAppletForOpen' },
  'X-PostX-Use-Script': { kind: 'boolean', field: 'useScript' },
  'X-PostX-Remember-Envelope-Key-Checkbox': { kind: 'boolean', field: 'rememberEnvelopeKeyCheckbox' },
};

const PREFIX = 'x-postx-';

/** The canonical spelling of one of the nine headers (name compared case-insensitively), or null. */
export function canonicalPostxHeaderName(name: string): PostxHeaderName | null {
  const key = name.trim().toLowerCase();
  return POSTX_HEADER_NAMES.find((n) => n.toLowerCase() === key) ?? null;
}

/**
 * Reads the X-PostX overrides from a message head. Relative dates are counted
 * from `now`. Throws MessageError (code header_invalid, `header` set) on an
 * unknown X-PostX header, an unparsable value, a date not in the future or a
 * header repeated with a different value.
 */
export function readPostxHeaders(head: Pick<MessageHead, 'headers'>, now: Date): PostxOverrides {
  const overrides: PostxOverrides = {};
  const seen = new Map<PostxHeaderName, { raw: string; parsed: boolean | Date }>();

  for (const field of head.headers) {
    if (!field.key.startsWith(PREFIX)) continue;
    const name = canonicalPostxHeaderName(field.name);
    if (name === null) throw unknownHeader(field.name);

    const spec = SPECS[name];
    const raw = field.value.trim();
    const parsed = spec.kind === 'boolean' ? parseBoolean(name, raw) : parseDate(name, raw, now);

    const previous = seen.get(name);
    if (previous) {
      if (!sameValue(previous.parsed, parsed)) {
        throw new MessageError(
          'header_invalid',
          `${name} appears more than once with different values ("${shown(previous.raw)}" and "${shown(raw)}"); keep only one.`,
          { header: name },
        );
      }
      continue;
    }
    seen.set(name, { raw, parsed });
    if (spec.kind === 'boolean' && typeof parsed === 'boolean') overrides[spec.field] = parsed;
    else if (spec.kind === 'date' && parsed instanceof Date) overrides[spec.field] = parsed;
  }
  return overrides;
}

function sameValue(a: boolean | Date, b: boolean | Date): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return a === b;
}

function parseBoolean(name: PostxHeaderName, raw: string): boolean {
  switch (raw.toLowerCase()) {
    case 'true':
    case 'yes':
      return true;
    case 'false':
    case 'no':
      return false;
  }
  throw new MessageError(
    'header_invalid',
    raw === ''
      ? `${name} is empty; use true, false, yes or no.`
      : `${name}: "${shown(raw)}" is not true or false; use true, false, yes or no.`,
    { header: name },
  );
}

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;
// Date objects cannot represent instants beyond year 275760; refuse long before that.
const MAX_YEAR = 9999;

function parseDate(name: PostxHeaderName, raw: string, now: Date): Date {
  const accepted = `use +HH:MM:SS, +D (days) or a date like ${exampleDate(now)}`;
  const fail = (why: string): MessageError =>
    new MessageError('header_invalid', `${name}: "${shown(raw)}" ${why}; ${accepted}.`, { header: name });

  if (raw === '') {
    throw new MessageError('header_invalid', `${name} is empty; ${accepted}.`, { header: name });
  }

  let date: Date | null;
  const hms = /^\+(\d+):(\d\d):(\d\d)$/.exec(raw);
  const days = /^\+(\d+)$/.exec(raw);
  if (hms) {
    const [, h, m, s] = hms.map(Number) as [number, number, number, number];
    if (m > 59 || s > 59) throw fail('is not a date (minutes and seconds go from 00 to 59)');
    date = new Date(now.getTime() + h * HOUR + m * 60 * SECOND + s * SECOND);
  } else if (days) {
    date = new Date(now.getTime() + Number(days[1]) * DAY);
  } else {
    date = parseIsoDate(raw) ?? parseRfc5322Date(raw);
    if (date === null) throw fail('is not a date');
  }

  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() > MAX_YEAR) throw fail('is too far in the future');
  if (date.getTime() <= now.getTime()) {
    throw fail(`is not in the future (it means ${date.toISOString()})`);
  }
  return date;
}

/** An example absolute date that is comfortably in the future relative to `now`. */
function exampleDate(now: Date): string {
  const year = now.getUTCFullYear();
  const endOfYear = Date.UTC(year, 11, 31);
  return `${endOfYear - now.getTime() > 7 * DAY ? year : year + 1}-12-31`;
}

/**
 * ISO 8601 calendar dates: 2026-12-31, 2026-12-31T17:00, 2026-12-31T17:00:00.5+01:00.
 * Without a zone the time is taken as UTC (a date alone means 00:00 UTC), so the
 * result does not depend on the gateway host's time zone.
 */
function parseIsoDate(raw: string): Date | null {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d{1,9}))?)?\s*(Z|[+-]\d\d(?::?\d\d)?)?)?$/i.exec(raw);
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  let offset = 0;
  if (zone.toUpperCase() !== 'Z') {
    const digits = zone.replace(':', '');
    const sign = digits.startsWith('-') ? -1 : 1;
    offset = sign * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5) || '0'));
  }
  const ms = frac === '' ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  return utcDate(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s), ms, offset);
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
// RFC 5322 section 4.3 obsolete zone names; military letters are too ambiguous to trust.
const ZONES: Readonly<Record<string, number>> = {
  ut: 0, utc: 0, gmt: 0, z: 0,
  est: -5 * 60, edt: -4 * 60, cst: -6 * 60, cdt: -5 * 60,
  mst: -7 * 60, mdt: -6 * 60, pst: -8 * 60, pdt: -7 * 60,
};

/** RFC 5322 date-time, e.g. "Thu, 31 Dec 2026 17:00:00 +0100"; the zone is required. */
function parseRfc5322Date(raw: string): Date | null {
  const m =
    /^(?:([a-z]{3}),?\s*)?(\d{1,2})\s+([a-z]{3})\s+(\d{2,4})\s+(\d{1,2}):(\d\d)(?::(\d\d))?\s+([+-]\d{4}|[a-z]{1,3})(?:\s*\([^()]*\))?$/i.exec(
      raw,
    );
  if (!m) return null;
  const [, weekday, d, mon, y, h, mi, s = '0', zone] = m;
  if (weekday !== undefined && !WEEKDAYS.includes(weekday.toLowerCase())) return null;
  const month = MONTHS.indexOf((mon ?? '').toLowerCase()) + 1;
  if (month === 0 || zone === undefined) return null;
  let offset: number;
  if (/^[+-]\d{4}$/.test(zone)) {
    const sign = zone.startsWith('-') ? -1 : 1;
    offset = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5)));
  } else {
    const named = ZONES[zone.toLowerCase()];
    if (named === undefined) return null;
    offset = named;
  }
  let year = Number(y);
  // RFC 5322 section 4.3: two-digit years 00-49 are 20xx, 50-99 are 19xx.
  if ((y ?? '').length === 2) year += year < 50 ? 2000 : 1900;
  else if ((y ?? '').length === 3) year += 1900;
  return utcDate(year, month, Number(d), Number(h), Number(mi), Number(s), 0, offset);
}

/** Builds a date from calendar fields, or null when a field is out of range (e.g. 31 April). */
function utcDate(
  year: number, month: number, day: number,
  hour: number, minute: number, second: number, ms: number,
  offsetMinutes: number,
): Date | null {
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return null;
  if (Math.abs(offsetMinutes) > 14 * 60) return null;
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  // A leap second (:60) is read as the last second of the minute.
  date.setUTCHours(hour, minute, Math.min(second, 59), ms);
  return new Date(date.getTime() - offsetMinutes * 60 * 1000);
}

function unknownHeader(name: string): MessageError {
  const squash = (s: string): string => s.toLowerCase().replace(/[^a-z]/g, '');
  const close = POSTX_HEADER_NAMES.find((n) => squash(n) === squash(name));
  const hint = close ? ` Did you mean ${close}?` : '';
  return new MessageError(
    'header_invalid',
    `${name} is not a known X-PostX header.${hint} The known headers are ${POSTX_HEADER_NAMES.join(', ')}.`,
    { header: name },
  );
}

/** The value as written, shortened and without control characters, for quoting in an error. */
function shown(value: string): string {
  const clean = value.replace(/[\x00-\x1f\x7f]/g, ' ');
  return clean.length > 60 ? `${clean.slice(0, 57)}...` : clean;
}
