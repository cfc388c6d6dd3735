import t from 'tap';
import type { Test } from 'tap';
import { MessageError } from '../../src/gateway/message-errors.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, readMessageHead, type HeaderField } from '../../src/gateway/message-head.ts';
import {
  POSTX_HEADER_NAMES,
  canonicalPostxHeaderName,
  readPostxHeaders,
  type PostxOverrides,
} from '../../src/gateway/postx-headers.ts';

const NOW = new Date('2026-11-28T12:00:00.000Z');
const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

/** Reads overrides from a real message carrying the given extra header lines. */
function fromMessage(lines: string[], now = NOW): PostxOverrides {
  const text = ['From: alice@example.com', 'To: bob@example.org', ...lines, '', 'body'].join('\r\n');
  return readPostxHeaders(readMessageHead(new Uint8Array(Buffer.from(text)), { maxBytes: DEFAULT_MAX_MESSAGE_BYTES }), now);
}

function headers(...pairs: Array<[string, string]>): { headers: HeaderField[] } {
  return { headers: pairs.map(([name, value]) => ({ name, key: name.toLowerCase(), value })) };
}

function one(name: string, value: string, now = NOW): PostxOverrides {
  return readPostxHeaders(headers([name, value]), now);
}

function rejects(t: Test, fn: () => unknown, header: string, pattern: RegExp): void {
  try {
    fn();
    t.fail(`expected ${header} to be rejected`);
  } catch (err) {
    t.ok(err instanceof MessageError, 'a MessageError');
    const e = err as MessageError;
    t.equal(e.code, 'header_invalid');
    t.equal(e.header, header, `names ${header}`);
    t.ok(e.message.includes(header), 'the message names the header');
    t.match(e.message, pattern);
  }
}

const BOOLEANS: Array<[string, keyof PostxOverrides]> = [
  ['X-PostX-Reply-Enabled', 'replyEnabled'],
  ['X-PostX-Reply-All-Enabled', 'replyAllEnabled'],
  ['X-PostX-Forward-Enabled', 'forwardEnabled'],
  ['X-PostX-Send-Return-Receipt', 'sendReturnReceipt'],
  ['X-PostX-Suppress-Applet-For-Open', 'suppressAppletForOpen'],
  ['X-PostX-Use-Script', 'useScript'],
  ['X-PostX-Remember-Envelope-Key-Checkbox', 'rememberEnvelopeKeyCheckbox'],
];
const DATES: Array<[string, keyof PostxOverrides]> = [
  ['X-PostX-ExpirationDate', 'expirationDate'],
  ['X-PostX-ReadNotificationDate', 'readNotificationDate'],
];

t.test('the nine names', async (t) => {
  t.equal(POSTX_HEADER_NAMES.length, 9);
  t.same([...POSTX_HEADER_NAMES].sort(), [...BOOLEANS, ...DATES].map(([n]) => n).sort());
  t.equal(canonicalPostxHeaderName('x-postx-use-script'), 'X-PostX-Use-Script');
  t.equal(canonicalPostxHeaderName('X-POSTX-EXPIRATIONDATE'), 'X-PostX-ExpirationDate');
  t.equal(canonicalPostxHeaderName('X-PostX-Unknown'), null);
  t.equal(canonicalPostxHeaderName('Subject'), null);
  t.equal(canonicalPostxHeaderName('x-postx-readnotificationdate'), 'X-PostX-ReadNotificationDate');
  t.equal(canonicalPostxHeaderName('X-Other'), null);
});

t.test('no X-PostX headers: no overrides', async (t) => {
  t.same(fromMessage(['Subject: hi', 'X-Other: 1']), {});
});

t.test('each boolean header, each spelling', async (t) => {
  for (const [name, field] of BOOLEANS) {
    for (const [value, expected] of [
      ['true', true],
      ['false', false],
      ['yes', true],
      ['no', false],
      ['TRUE', true],
      ['False', false],
      ['  Yes  ', true],
      ['NO', false],
    ] as const) {
      t.same(one(name, value), { [field]: expected }, `${name}: ${JSON.stringify(value)}`);
    }
  }
});

t.test('header names are case-insensitive', async (t) => {
  t.same(
    fromMessage([
      'x-postx-reply-enabled: true',
      'X-POSTX-USE-SCRIPT: false',
      'X-Postx-Expirationdate: +7',
      'x-PostX-Remember-Envelope-Key-CHECKBOX: yes',
    ]),
    { replyEnabled: true, useScript: false, expirationDate: new Date(NOW.getTime() + 7 * DAY), rememberEnvelopeKeyCheckbox: true },
  );
});

t.test('all nine together, from a real message', async (t) => {
  const o = fromMessage([
    'X-PostX-Reply-Enabled: true',
    'X-PostX-Reply-All-Enabled: false',
    'X-PostX-Forward-Enabled: yes',
    'X-PostX-Send-Return-Receipt: no',
    'X-PostX-ExpirationDate: +24:00:00',
    'X-PostX-ReadNotificationDate: +2',
    'X-PostX-Suppress-Applet-For-Open: true',
    'X-PostX-Use-Script: false',
    'X-PostX-Remember-Envelope-Key-Checkbox: true',
  ]);
  t.same(o, {
    replyEnabled: true,
    replyAllEnabled: false,
    forwardEnabled: true,
    sendReturnReceipt: false,
    expirationDate: new Date(NOW.getTime() + DAY),
    readNotificationDate: new Date(NOW.getTime() + 2 * DAY),
    suppressAppletForOpen: true,
    useScript: false,
    rememberEnvelopeKeyCheckbox: true,
  });
});

t.test('date formats', async (t) => {
  for (const [name, field] of DATES) {
    const at = (value: string): number => {
      const date = one(name, value)[field];
      t.ok(date instanceof Date, `${name}: ${value} is a date`);
      return (date as Date).getTime();
    };
    // Relative, as in the Cisco documentation.
    t.equal(at('+24:00:00'), NOW.getTime() + DAY);
    t.equal(at('+48:00:00'), NOW.getTime() + 2 * DAY, 'hours may exceed 24');
    t.equal(at('+00:30:15'), NOW.getTime() + 30 * 60 * 1000 + 15 * 1000);
    t.equal(at('+1:00:00'), NOW.getTime() + HOUR, 'one-digit hours');
    t.equal(at('+720:00:00'), NOW.getTime() + 30 * DAY);
    t.equal(at('+7'), NOW.getTime() + 7 * DAY);
    t.equal(at('+1'), NOW.getTime() + DAY);
    t.equal(at('+365'), NOW.getTime() + 365 * DAY);
    t.equal(at(' +7 '), NOW.getTime() + 7 * DAY, 'surrounding whitespace is ignored');
    // Absolute, ISO 8601; without a zone the time is UTC.
    t.equal(at('2026-12-31'), Date.UTC(2026, 11, 31));
    t.equal(at('2026-12-31T17:30'), Date.UTC(2026, 11, 31, 17, 30));
    t.equal(at('2026-12-31T17:30:00Z'), Date.UTC(2026, 11, 31, 17, 30));
    t.equal(at('2026-12-31t17:30:00z'), Date.UTC(2026, 11, 31, 17, 30), 'case-insensitive');
    t.equal(at('2026-12-31 17:30:00'), Date.UTC(2026, 11, 31, 17, 30), 'space instead of T');
    t.equal(at('2026-12-31T17:30:00.250+01:00'), Date.UTC(2026, 11, 31, 16, 30, 0, 250));
    t.equal(at('2026-12-31T17:30:00-0500'), Date.UTC(2026, 11, 31, 22, 30));
    t.equal(at('2027-02-28T00:00:00+05'), Date.UTC(2027, 1, 27, 19));
    // Absolute, RFC 5322.
    t.equal(at('Thu, 31 Dec 2026 17:30:00 +0100'), Date.UTC(2026, 11, 31, 16, 30));
    t.equal(at('31 Dec 2026 17:30 +0000'), Date.UTC(2026, 11, 31, 17, 30), 'no weekday, no seconds');
    t.equal(at('thu, 31 dec 2026 17:30:00 gmt'), Date.UTC(2026, 11, 31, 17, 30), 'case-insensitive, named zone');
    t.equal(at('Fri, 1 Jan 2027 09:00:00 EST'), Date.UTC(2027, 0, 1, 14));
    t.equal(at('Thu, 31 Dec 2026 17:30:00 +0100 (CET)'), Date.UTC(2026, 11, 31, 16, 30), 'trailing zone comment');
    t.equal(at('Fri, 01 Jan 27 09:00:00 +0000'), Date.UTC(2027, 0, 1, 9), 'two-digit year');
  }
});

t.test('repeated headers', async (t) => {
  t.same(fromMessage(['X-PostX-Use-Script: false', 'x-postx-use-script: no']), { useScript: false }, 'same value twice is fine');
  t.same(
    fromMessage(['X-PostX-ExpirationDate: +1', 'X-PostX-ExpirationDate: +24:00:00']),
    { expirationDate: new Date(NOW.getTime() + DAY) },
    'the same instant written two ways is fine',
  );
  rejects(t, () => fromMessage(['X-PostX-Use-Script: false', 'X-PostX-Use-Script: true']), 'X-PostX-Use-Script', /more than once with different values \("false" and "true"\); keep only one/);
  rejects(
    t,
    () => fromMessage(['X-PostX-ExpirationDate: +7', 'x-postx-expirationdate: +8']),
    'X-PostX-ExpirationDate',
    /more than once with different values \("\+7" and "\+8"\)/,
  );
});

t.test('invalid booleans name the header and say what is accepted', async (t) => {
  for (const [name] of BOOLEANS) {
    for (const value of ['maybe', '1', '0', 'on', 'truee', '"true"']) {
      rejects(t, () => one(name, value), name, new RegExp(`is not true or false; use true, false, yes or no`));
    }
    rejects(t, () => one(name, ''), name, /is empty; use true, false, yes or no/);
    rejects(t, () => one(name.toLowerCase(), 'maybe'), name, /^X-PostX-/);
  }
});

t.test('invalid dates name the header and say what is accepted', async (t) => {
  const accepted = /use \+HH:MM:SS, \+D \(days\) or a date like 2026-12-31\.$/;
  for (const [name] of DATES) {
    for (const value of [
      'tomorrow',
      '24:00:00',
      '+24:00',
      '+24h',
      '+1.5',
      '-7',
      '+ 7',
      '2026-13-01',
      '2027-02-29',
      '2026-12-31T25:00',
      '31/12/2026',
      'Thu, 31 Dec 2026 17:30:00',
      'Thu, 31 Foo 2026 17:30:00 +0000',
      'Thu, 31 Dec 2026 17:30:00 XYZ',
    ]) {
      rejects(t, () => one(name, value), name, new RegExp(`is not a date; ${accepted.source}`));
    }
    rejects(t, () => one(name, '+99:99:99'), name, /is not a date \(minutes and seconds go from 00 to 59\)/);
    rejects(t, () => one(name, ''), name, /is empty; use \+HH:MM:SS/);
    rejects(t, () => one(name, '+0'), name, /is not in the future/);
    rejects(t, () => one(name, '+00:00:00'), name, /is not in the future/);
    rejects(t, () => one(name, '2020-01-01'), name, /"2020-01-01" is not in the future \(it means 2020-01-01T00:00:00\.000Z\)/);
    rejects(t, () => one(name, '2026-11-28T12:00:00Z'), name, /not in the future/);
    rejects(t, () => one(name, 'Mon, 1 Jan 2024 00:00:00 +0000'), name, /not in the future/);
    rejects(t, () => one(name, '+99999999999'), name, /too far in the future/);
    rejects(t, () => one(name, '+999999999999999:00:00'), name, /too far in the future/);
  }
  // The example in the message is the spec's, word for word.
  try {
    one('X-PostX-ExpirationDate', '+99:99:99');
  } catch (err) {
    t.match((err as Error).message, /^X-PostX-ExpirationDate: "\+99:99:99" is not a date/);
    t.match((err as Error).message, /use \+HH:MM:SS, \+D \(days\) or a date like 2026-12-31\.$/);
  }
  // Near the end of a year the example moves to the next one, so it is never in the past.
  try {
    one('X-PostX-ExpirationDate', 'soon', new Date('2026-12-30T00:00:00Z'));
  } catch (err) {
    t.match((err as Error).message, /a date like 2027-12-31\.$/);
  }
});

t.test('relative dates count from now', async (t) => {
  const later = new Date('2030-06-01T00:00:00Z');
  t.same(one('X-PostX-ExpirationDate', '+1', later), { expirationDate: new Date('2030-06-02T00:00:00Z') });
  rejects(t, () => one('X-PostX-ExpirationDate', '2029-01-01', later), 'X-PostX-ExpirationDate', /not in the future/);
});

t.test('unknown X-PostX headers', async (t) => {
  rejects(t, () => fromMessage(['X-PostX-Foo: bar']), 'X-PostX-Foo', /is not a known X-PostX header\. The known headers are X-PostX-Reply-Enabled, /);
  rejects(t, () => fromMessage(['x-postx-expiration-date: +7']), 'x-postx-expiration-date', /Did you mean X-PostX-ExpirationDate\?/);
  rejects(t, () => fromMessage(['X-PostX-Read-Notification-Date: +7']), 'X-PostX-Read-Notification-Date', /Did you mean X-PostX-ReadNotificationDate\?/);
  t.same(fromMessage(['X-PostXFoo: not ours', 'X-Post-X-Reply-Enabled: whatever']), {}, 'only the X-PostX- prefix is ours');
});

t.test('errors stop at the first bad header, in message order', async (t) => {
  rejects(
    t,
    () => fromMessage(['X-PostX-Use-Script: nope', 'X-PostX-ExpirationDate: never']),
    'X-PostX-Use-Script',
    /nope/,
  );
});
