import t from 'tap';
import type { Test } from 'tap';
import { MessageError } from '../../src/gateway/message-errors.ts';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  MAX_HEADER_BLOCK_BYTES,
  RECOMMENDED_MAX_MESSAGE_BYTES,
  messageSizeWarning,
  readMessageHead,
  type MessageHead,
} from '../../src/gateway/message-head.ts';

const limits = { maxBytes: DEFAULT_MAX_MESSAGE_BYTES };
const MB = 1024 * 1024;

function bytes(text: string, encoding: BufferEncoding = 'utf8'): Uint8Array {
  return new Uint8Array(Buffer.from(text, encoding));
}

/** Lines joined with CRLF, a blank line, then a body. */
function mail(headerLines: string[], body = 'Body.\r\n', eol = '\r\n'): Uint8Array {
  return bytes(headerLines.join(eol) + eol + eol + body);
}

const BASIC = ['From: Alice <alice@example.com>', 'To: bob@example.org', 'Subject: Hi'];

function read(message: Uint8Array, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): MessageHead {
  return readMessageHead(message, { maxBytes });
}

function expectError(t: Test, fn: () => unknown, code: string, pattern: RegExp, header?: string): MessageError | undefined {
  try {
    fn();
  } catch (err) {
    t.ok(err instanceof MessageError, 'throws a MessageError');
    const e = err as MessageError;
    t.equal(e.code, code);
    t.match(e.message, pattern);
    if (header !== undefined) t.equal(e.header, header);
    return e;
  }
  t.fail(`expected ${code}`);
  return undefined;
}

t.test('constants', async (t) => {
  t.equal(DEFAULT_MAX_MESSAGE_BYTES, 25 * MB);
  t.equal(RECOMMENDED_MAX_MESSAGE_BYTES, 10 * MB);
  t.equal(MAX_HEADER_BLOCK_BYTES, MB);
});

t.test('CRLF and bare LF messages read the same', async (t) => {
  const lines = [...BASIC, 'Subject2: folded', '\tcontinued'];
  const crlf = read(mail(lines, 'Body\r\n', '\r\n'));
  const lf = read(mail(lines, 'Body\n', '\n'));
  t.same(lf.headers, crlf.headers);
  t.same(lf.from, crlf.from);
  t.same(lf.to, crlf.to);
  t.equal(crlf.lineEnding, '\r\n');
  t.equal(lf.lineEnding, '\n');
  const crlfText = Buffer.from(mail(lines, 'Body\r\n', '\r\n')).toString();
  t.equal(crlf.bodyOffset, crlfText.indexOf('\r\n\r\n') + 4, 'body starts after the blank line');
  t.equal(lf.bodyOffset, Buffer.from(mail(lines, 'Body\n', '\n')).toString().indexOf('\n\n') + 2);
});

t.test('headers keep their order, names and raw unfolded values', async (t) => {
  const head = read(
    mail([
      'From: Alice <alice@example.com>',
      'To: bob@example.org',
      'X-Custom:   padded value   ',
      'Subject: a long subject',
      '  that is folded',
      '\tand folded again',
      'x-custom: second',
      'Empty:',
      'Obsolete-Space : value',
    ]),
  );
  t.same(
    head.headers.map((h) => [h.name, h.key, h.value]),
    [
      ['From', 'from', 'Alice <alice@example.com>'],
      ['To', 'to', 'bob@example.org'],
      ['X-Custom', 'x-custom', 'padded value'],
      ['Subject', 'subject', 'a long subject  that is folded\tand folded again'],
      ['x-custom', 'x-custom', 'second'],
      ['Empty', 'empty', ''],
      ['Obsolete-Space', 'obsolete-space', 'value'],
    ],
  );
  t.equal(head.subject, 'a long subject  that is folded\tand folded again', 'unfolding removes only the line break');
  t.equal(head.get('X-CUSTOM'), 'padded value', 'get is case-insensitive and returns the first');
  t.same(head.getAll('X-Custom'), ['padded value', 'second']);
  t.equal(head.get('missing'), null);
  t.same(head.getAll('missing'), []);
});

t.test('RFC 2047 subjects and names are decoded', async (t) => {
  const head = read(
    mail([
      'From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <Juergen@Example.DE>',
      'To: "=?ISO-8859-1?Q?Ren=E9e?=" <renee@example.fr>',
      'Subject: =?UTF-8?Q?R=C3=A9union_=C3=A0?=',
      ' =?UTF-8?Q?_14h?=',
    ]),
  );
  t.same(head.from, { name: 'Jürgen Müller', address: 'juergen@example.de' });
  t.equal(head.subject, 'Réunion à 14h', 'adjacent encoded words join without the folding space');
  t.equal(read(mail([...BASIC.slice(0, 2), 'Subject: =?ISO-8859-1?Q?Pr=FCfung?='])).subject, 'Prüfung');
  t.equal(read(mail([...BASIC.slice(0, 2), 'Subject: =?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?='])).subject, '日本語');
  t.equal(read(mail([...BASIC.slice(0, 2), 'Subject: =?UTF-8?B?broken'])).subject, '=?UTF-8?B?broken', 'a broken word stays as written');
});

t.test('8-bit header bytes: UTF-8 when valid, otherwise Latin-1', async (t) => {
  const utf8 = read(mail(['From: Zoë <zoe@example.se>', 'To: bob@example.org', 'Subject: Ärende']));
  t.equal(utf8.subject, 'Ärende');
  t.equal(utf8.from.name, 'Zoë');
  const latin1 = read(
    new Uint8Array(
      Buffer.concat([
        Buffer.from('From: alice@example.com\r\nTo: bob@example.org\r\n'),
        Buffer.from('Subject: Caf\u00e9 M\u00fcller\r\n\r\nbody', 'latin1'),
      ]),
    ),
  );
  t.equal(latin1.subject, 'Café Müller');
});

t.test('addresses are trimmed, lower-cased, and groups flattened', async (t) => {
  const head = read(
    mail([
      'From: "Sender, The" <  Sender@Example.COM >, other@example.com',
      'To: Project Team: Dev1@Example.org, "Dev, Two" <dev2@example.org>;, Lead@EXAMPLE.org',
      'To: second-to@example.org',
      'Cc: undisclosed-recipients:;, Outer: Inner: nested@example.org;;',
      'Bcc: <Archive@Example.com>',
    ]),
  );
  t.same(head.from, { name: 'Sender, The', address: 'sender@example.com' }, 'first mailbox of From');
  t.same(head.to, ['dev1@example.org', 'dev2@example.org', 'lead@example.org', 'second-to@example.org']);
  t.same(head.cc, ['nested@example.org'], 'empty group dropped, nested group flattened');
  t.same(head.bcc, ['archive@example.com']);
});

t.test('only Bcc is enough of a recipient', async (t) => {
  const head = read(mail(['From: alice@example.com', 'Bcc: hidden@example.org']));
  t.same(head.to, []);
  t.same(head.bcc, ['hidden@example.org']);
});

t.test('threading and other raw fields', async (t) => {
  const head = read(
    mail([
      ...BASIC,
      'Date: Tue, 03 Nov 2026 09:15:00 +0100',
      'Message-ID: <m3@example.com>',
      'In-Reply-To: <m2@example.com>',
      'References: <m1@example.com>',
      ' <m2@example.com>',
      'Reply-To: Team <team@example.com>',
    ]),
  );
  t.equal(head.date, 'Tue, 03 Nov 2026 09:15:00 +0100');
  t.equal(head.messageId, '<m3@example.com>');
  t.equal(head.inReplyTo, '<m2@example.com>');
  t.same(head.references, ['<m1@example.com>', '<m2@example.com>']);
  t.equal(head.replyTo, 'Team <team@example.com>');

  const bare = read(mail(['From: a@example.com', 'To: b@example.com']));
  t.equal(bare.subject, null);
  t.equal(bare.date, null);
  t.equal(bare.messageId, null);
  t.equal(bare.inReplyTo, null);
  t.same(bare.references, []);
  t.equal(bare.replyTo, null);
  t.equal(read(mail(['From: a@example.com', 'To: b@example.com', 'Subject:'])).subject, '', 'present but empty');
});

t.test('the body is not read', async (t) => {
  // Everything after the blank line is ignored, even text that would be an error in the head.
  const message = mail(BASIC, 'no colon here\r\n\tstarts with a tab\r\n' + '\u0000'.repeat(1000));
  const head = read(message);
  t.equal(head.headers.length, 3);
  t.equal(head.size, message.length);
  t.ok(head.bodyOffset < 100);
});

t.test('a message that is all headers (no blank line) is accepted', async (t) => {
  const noBody = read(bytes('From: a@example.com\r\nTo: b@example.com\r\nSubject: only headers\r\n'));
  t.equal(noBody.subject, 'only headers');
  const unterminated = read(bytes('From: a@example.com\nTo: b@example.com\nSubject: last line unterminated'));
  t.equal(unterminated.subject, 'last line unterminated');
  t.equal(unterminated.bodyOffset, unterminated.size);
  const emptyBody = read(bytes('From: a@example.com\r\nTo: b@example.com\r\n\r\n'));
  t.equal(emptyBody.bodyOffset, emptyBody.size);
});

t.test('message_empty', async (t) => {
  expectError(t, () => read(new Uint8Array(0)), 'message_empty', /empty/);
  expectError(t, () => read(bytes('\r\n\r\n  \t\n')), 'message_empty', /empty/);
});

t.test('message_too_large names the size and the limit', async (t) => {
  const big = new Uint8Array(26 * MB);
  expectError(t, () => read(big), 'message_too_large', /26\.0 MB.*25 MB limit/);
  // One byte over: rounding would say "25.0 MB", so the exact size is given too.
  expectError(t, () => read(new Uint8Array(25 * MB + 1)), 'message_too_large', /26,214,401 bytes.*25 MB limit/);
  expectError(t, () => read(mail(BASIC), 10), 'message_too_large', /over the 10 bytes limit/, undefined);
  expectError(t, () => read(new Uint8Array(3000), 2048), 'message_too_large', /2\.9 KB.*over the 2 KB limit/);
  t.ok(read(mail(BASIC), mail(BASIC).length), 'exactly the limit is fine');
});

t.test('message_malformed: no blank line within the first megabyte', async (t) => {
  const folded = 'X-Filler: start\r\n' + ' filler filler filler filler filler filler filler filler\r\n'.repeat(20000);
  const message = bytes(BASIC.join('\r\n') + '\r\n' + folded + '\r\nbody');
  t.ok(message.length > MB);
  expectError(t, () => read(message), 'message_malformed', /no blank line ending its headers within the first 1 MB/);
  // The same header block under 1 MB is fine.
  const small = bytes(BASIC.join('\r\n') + '\r\n' + folded.slice(0, 500_000).replace(/\r\n[^\r]*$/, '') + '\r\n\r\nbody');
  t.ok(read(small).get('x-filler')?.startsWith('start filler'));
});

t.test('message_malformed: header lines', async (t) => {
  expectError(t, () => read(bytes('this is not an email')), 'message_malformed', /line 1 is not a "Name: value" header: "this is not an email"/);
  expectError(t, () => read(mail([...BASIC, 'no colon on this line'])), 'message_malformed', /line 4 is not a "Name: value" header/);
  expectError(t, () => read(mail([' leading continuation', ...BASIC])), 'message_malformed', /line 1 starts with whitespace/);
  expectError(
    t,
    () => read(mail(['From alice@example.com Tue Nov  3 09:15:00 2026', ...BASIC])),
    'message_malformed',
    /line 1 is not a "Name: value" header/,
    undefined,
  );
  expectError(t, () => read(mail([...BASIC, ': no name'])), 'message_malformed', /line 4/);
});

t.test('message_malformed: From', async (t) => {
  expectError(t, () => read(mail(['To: bob@example.org', 'Subject: x'])), 'message_malformed', /no From header/, 'From');
  expectError(t, () => read(mail(['From: Just A Name', 'To: bob@example.org'])), 'message_malformed', /From: "Just A Name" has no email address/, 'From');
  expectError(t, () => read(mail(['From: <>', 'To: bob@example.org'])), 'message_malformed', /has no email address/, 'From');
});

t.test('message_malformed: no recipients', async (t) => {
  expectError(t, () => read(mail(['From: alice@example.com', 'Subject: x'])), 'message_malformed', /no recipients/, 'To');
  expectError(
    t,
    () => read(mail(['From: alice@example.com', 'To: undisclosed-recipients:;', 'Cc:'])),
    'message_malformed',
    /no recipients/,
  );
});

t.test('messageSizeWarning', async (t) => {
  t.equal(messageSizeWarning(1000), null);
  t.equal(messageSizeWarning(10 * MB), null, 'exactly 10 MB is fine');
  const warning = messageSizeWarning(12.5 * MB);
  t.type(warning, 'string');
  t.match(warning ?? '', /12\.5 MB.*10 MB/);
  t.match(messageSizeWarning(10 * MB + 1) ?? '', /10,485,761 bytes/);
});
