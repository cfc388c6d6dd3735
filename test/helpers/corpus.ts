/**
 * A corpus of outgoing messages in the shapes real mail clients produce, built
 * in code so it is reviewable and deterministic (no committed binaries, no
 * clock, no randomness). Every message has a From and at least one To.
 *
 * Messages use CRLF line endings except the one that tests bare LF. The
 * X-PostX example uses relative dates only, so it stays valid whenever the
 * suite runs.
 */
import { Buffer } from 'node:buffer';
import libmime from 'libmime';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp/index.js';

export interface CorpusMessage {
  name: string;
  bytes: Uint8Array;
}

type Header = readonly [name: string, value: string];

interface Leaf {
  headers: Header[];
  body: Buffer;
}
interface Multi {
  headers: Header[];
  boundary: string;
  parts: MimeNode[];
}
type MimeNode = Leaf | Multi;

type Encoding = '7bit' | '8bit' | 'quoted-printable' | 'base64';

const CRLF = '\r\n';

export function buildCorpus(): CorpusMessage[] {
  const jis = iso2022jpEncoder();
  const corpus: CorpusMessage[] = [];
  const add = (name: string, bytes: Buffer): void => {
    corpus.push({ name, bytes: new Uint8Array(bytes) });
  };

  // 1. The everyday case; other suites use it as "a message".
  add(
    'plain text',
    message(
      top(1, { subject: 'Quarterly figures' }),
      text('Hello Bob,\n\nthe quarterly figures are below.\n\nRevenue: 1.2M\nCosts: 0.8M\n\nAlice\n'),
    ),
  );

  add(
    'multipart/alternative text and html',
    message(
      top(2, { subject: 'Meeting notes' }),
      multipart('alternative', 'alt-2', [
        text('Notes from today:\n- budget approved\n- next review in March\n'),
        text('<html><body><p>Notes from today:</p><ul><li>budget approved</li><li>next review in March</li></ul></body></html>\n', {
          subtype: 'html',
        }),
      ]),
    ),
  );

  add(
    'html with inline cid images',
    message(
      top(3, { subject: 'Site photos' }),
      multipart('related', 'rel-3', [
        text('<html><body><p>Front:</p><img src="cid:front@waxseal.test"><p>Back:</p><img src="cid:back@waxseal.test"></body></html>\n', {
          subtype: 'html',
        }),
        attachment(fakePng(3, 600), 'image/png', 'front.png', { inlineCid: 'front@waxseal.test' }),
        attachment(fakePng(4, 900), 'image/png', 'back.png', { inlineCid: 'back@waxseal.test' }),
      ]),
    ),
  );

  add(
    'attachments with RFC 2231 non-ASCII file names',
    message(
      top(4, { subject: 'Reports for review' }),
      multipart('mixed', 'mix-4', [
        text('Three reports attached.\n'),
        attachment(fakeBytes(41, 2000), 'application/pdf', 'Prüfbericht – März.pdf'),
        attachment(fakeBytes(42, 1500), 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', '報告書.xlsx'),
        attachment(fakeBytes(43, 1800), 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'отчёт.docx'),
      ]),
    ),
  );

  add(
    'attachments with RFC 2047 non-ASCII file names',
    message(
      top(5, { subject: 'Reports (Outlook style names)' }),
      multipart('mixed', 'mix-5', [
        text('Three reports attached.\n'),
        attachment(fakeBytes(51, 2000), 'application/pdf', 'Prüfbericht – März.pdf', { nameStyle: 'rfc2047' }),
        attachment(fakeBytes(52, 1500), 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', '報告書.xlsx', {
          nameStyle: 'rfc2047',
        }),
        attachment(fakeBytes(53, 1800), 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'отчёт.docx', {
          nameStyle: 'rfc2047',
        }),
      ]),
    ),
  );

  add(
    '8bit UTF-8 body',
    message(
      top(6, { subject: 'Grüße aus Köln' }),
      text('Liebe Grüße aus Köln – bis nächste Woche!\nΚαλημέρα, здравствуйте, こんにちは 👋\n', { encoding: '8bit' }),
    ),
  );

  add(
    'quoted-printable body',
    message(
      top(7, { subject: 'Invoice 2026-114' }),
      text(
        'Sehr geehrte Damen und Herren, anbei die Rechnung Nr. 2026-114 über 1.250,00 € für die Leistungen im Oktober; bitte überweisen Sie den Betrag innerhalb von 14 Tagen.\n=== Ende ===\n',
        { encoding: 'quoted-printable' },
      ),
    ),
  );

  add(
    'base64 body',
    message(
      top(8, { subject: 'Base64 text' }),
      text('This body is base64 encoded, as some clients do for any non-ASCII text: naïve café.\n', { encoding: 'base64' }),
    ),
  );

  add(
    'RFC 2047 subject UTF-8 B',
    message(top(9, { subjectRaw: libmime.encodeWords('Vertrag für München – Entwurf 3', 'B') }), text('See subject.\n')),
  );

  add(
    'RFC 2047 subject UTF-8 Q',
    message(top(10, { subjectRaw: libmime.encodeWords('Réunion à 14h – ordre du jour', 'Q') }), text('See subject.\n')),
  );

  add(
    'RFC 2047 subject ISO-8859-1',
    message(
      top(11, {
        subjectRaw: '=?ISO-8859-1?Q?Pr=FCfung_der_Unterlagen?=',
        fromRaw: '=?ISO-8859-1?Q?J=FCrgen_M=FCller?= <juergen.mueller@example.de>',
      }),
      text('Latin-1 encoded words in Subject and From.\n'),
    ),
  );

  add('CRLF line endings', message(top(12, { subject: 'CRLF message' }), text('Line one.\nLine two.\n')));

  add(
    'bare LF line endings',
    message(top(13, { subject: 'Bare LF message' }), text('Written by a Unix tool\nwith bare LF endings.\n'), { eol: '\n' }),
  );

  add(
    'long folded headers',
    message(
      top(14, {
        subjectRaw: libmime.foldLines(
          `Subject: ${'A very long subject line that goes on and on to describe the attached quarterly compliance report '.repeat(3).trim()}`,
          76,
        ).slice('Subject: '.length),
        toRaw: foldList(Array.from({ length: 12 }, (_, i) => `"Recipient ${i + 1}" <recipient${i + 1}@example.org>`)),
        extra: [
          ['References', foldList(Array.from({ length: 8 }, (_, i) => `<thread-${i}.1700000000@mail.example.org>`), '')],
          ['X-Mailer', 'Waxseal corpus generator'],
          ['DKIM-Signature', 'v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel1;\n\th=from:to:subject:date:message-id;\n\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\n\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgbG9va3MgbGlrZSBvbmU='],
        ],
      }),
      text('Headers above are folded over several lines.\n'),
    ),
  );

  add(
    'reply with In-Reply-To and References',
    message(
      top(15, {
        subject: 'Re: Quarterly figures',
        extra: [
          ['In-Reply-To', '<msg-1.20261103@waxseal.test>'],
          ['References', '<msg-0.20261102@waxseal.test> <msg-1.20261103@waxseal.test>'],
        ],
      }),
      text('Thanks, looks good.\n\n> Revenue: 1.2M\n> Costs: 0.8M\n'),
    ),
  );

  add(
    'Cc, Bcc and group address',
    message(
      top(16, {
        subject: 'Project kickoff',
        toRaw: 'Project Team: dev1@example.org, "Dev, Two" <Dev2@Example.org>;, lead@example.org',
        extra: [
          ['Cc', 'Manager <manager@example.org>, undisclosed-recipients:;'],
          ['Bcc', 'archive@example.com'],
        ],
      }),
      text('Welcome to the project.\n'),
    ),
  );

  add(
    'multipart/related inside multipart/mixed',
    message(
      top(17, { subject: 'Newsletter with attachment' }),
      multipart('mixed', 'mix-17', [
        multipart('related', 'rel-17', [
          multipart('alternative', 'alt-17', [
            text('Newsletter (text version).\n'),
            text('<html><body><img src="cid:logo@waxseal.test"><p>Newsletter</p></body></html>\n', { subtype: 'html' }),
          ]),
          attachment(fakePng(17, 400), 'image/png', 'logo.png', { inlineCid: 'logo@waxseal.test' }),
        ]),
        attachment(fakeBytes(170, 3000), 'application/pdf', 'programme.pdf'),
      ]),
    ),
  );

  const forwarded = message(
    top(99, { subject: 'Original message', fromRaw: 'Carol <carol@example.net>', toRaw: 'alice@waxseal.test' }),
    text('This is the message being forwarded.\n'),
  );
  add(
    'forwarded message/rfc822 attachment',
    message(
      top(18, { subject: 'Fwd: Original message' }),
      multipart('mixed', 'mix-18', [
        text('Forwarding this, see attached.\n'),
        {
          headers: [
            ['Content-Type', 'message/rfc822; name="Original message.eml"'],
            ['Content-Disposition', 'attachment; filename="Original message.eml"'],
          ],
          body: forwarded,
        },
      ]),
    ),
  );

  add(
    'calendar invite',
    message(
      top(19, { subject: 'Invitation: Budget review @ Tue 8 Dec 2026 10:00' }),
      multipart('alternative', 'alt-19', [
        text('You are invited to: Budget review\nTue 8 Dec 2026 10:00-11:00 (Europe/Berlin)\n'),
        {
          headers: [
            ['Content-Type', 'text/calendar; charset=utf-8; method=REQUEST'],
            ['Content-Transfer-Encoding', '7bit'],
          ],
          body: Buffer.from(
            [
              'BEGIN:VCALENDAR',
              'PRODID:-//Waxseal//Corpus//EN',
              'VERSION:2.0',
              'METHOD:REQUEST',
              'BEGIN:VEVENT',
              'UID:budget-review-20261208@waxseal.test',
              'DTSTAMP:20261103T091500Z',
              'DTSTART:20261208T090000Z',
              'DTEND:20261208T100000Z',
              'SUMMARY:Budget review',
              'ORGANIZER;CN=Alice:mailto:alice@waxseal.test',
              'ATTENDEE;CN=Bob;RSVP=TRUE:mailto:bob@example.org',
              'END:VEVENT',
              'END:VCALENDAR',
              '',
            ].join(CRLF),
          ),
        },
      ]),
    ),
  );

  add(
    'every X-PostX header',
    message(
      top(20, {
        subject: 'Contract draft (secure)',
        extra: [
          ['X-PostX-Reply-Enabled', 'true'],
          ['X-PostX-Reply-All-Enabled', 'false'],
          ['X-PostX-Forward-Enabled', 'no'],
          ['X-PostX-Send-Return-Receipt', 'yes'],
          ['X-PostX-ExpirationDate', '+7'],
          ['X-PostX-ReadNotificationDate', '+48:00:00'],
          ['X-PostX-Suppress-Applet-For-Open', 'false'],
          ['X-PostX-Use-Script', 'true'],
          ['X-PostX-Remember-Envelope-Key-Checkbox', 'true'],
        ],
      }),
      text('Please review the contract draft.\n'),
    ),
  );

  add(
    'binary attachment',
    message(
      top(21, { subject: 'Database export' }),
      multipart('mixed', 'mix-21', [
        text('Export attached.\n'),
        attachment(fakeBytes(21, 48 * 1024), 'application/octet-stream', 'export.bin'),
      ]),
    ),
  );

  add('headers only, empty body', message(top(22, { subject: 'Subject says it all (EOM)' }), null));

  add(
    'trailing whitespace, no final newline',
    // message() ends the body with a line break; cut it so the last line stays unterminated.
    message(top(23, { subject: 'Trailing whitespace' }), text('Last line has trailing spaces   \nand tabs\t\t\nno newline at the end  ')).subarray(
      0,
      -CRLF.length,
    ),
  );

  add(
    'Japanese ISO-2022-JP',
    message(
      top(24, {
        subjectRaw: `=?ISO-2022-JP?B?${jis('会議資料の送付について').toString('base64')}?=`,
        fromRaw: `=?ISO-2022-JP?B?${jis('佐藤 太郎').toString('base64')}?= <sato@example.jp>`,
        toRaw: `=?ISO-2022-JP?B?${jis('山田様').toString('base64')}?= <yamada@example.jp>`,
      }),
      {
        headers: [
          ['Content-Type', 'text/plain; charset=ISO-2022-JP'],
          ['Content-Transfer-Encoding', '7bit'],
        ],
        body: jis(
          '山田様\r\n\r\nいつもお世話になっております。\r\n来週の会議資料をお送りします。\r\nご確認のほど、よろしくお願いいたします。\r\n\r\n佐藤\r\n',
        ),
      },
    ),
  );

  add(
    'raw UTF-8 and Latin-1 header bytes',
    Buffer.concat([
      Buffer.from(
        [
          'From: Zoë Ängström <zoe@example.se>',
          'To: "Renée" <renee@example.fr>',
          'Subject: Ärende: offert på 12 000 kr',
          'Date: Wed, 04 Nov 2026 08:00:00 +0100',
          'Message-ID: <raw-8bit.20261104@waxseal.test>',
          'MIME-Version: 1.0',
          '',
        ].join(CRLF),
        'utf8',
      ),
      // A legacy client writing an unencoded Latin-1 header: not UTF-8, must still be read.
      Buffer.from(`Organization: Caf\u00e9 M\u00fcller GmbH${CRLF}`, 'latin1'),
      Buffer.from(`Content-Type: text/plain; charset=utf-8${CRLF}Content-Transfer-Encoding: 8bit${CRLF}${CRLF}Hej!${CRLF}`, 'utf8'),
    ]),
  );

  return corpus;
}

/**
 * A valid multipart message whose size is below `targetBytes` by less than one
 * base64 line (at most a few dozen bytes): a short text part and one large
 * base64 attachment of deterministic pseudo-random bytes.
 */
export function buildLargeMessage(targetBytes: number): Uint8Array {
  const boundary = 'large-boundary-0001';
  const prefix = Buffer.from(
    [
      'From: Alice Sender <alice@waxseal.test>',
      'To: Bob Recipient <bob@example.org>',
      'Subject: Large archive',
      'Date: Tue, 03 Nov 2026 09:15:00 +0100',
      'Message-ID: <large.20261103@waxseal.test>',
      'MIME-Version: 1.0',
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 7bit',
      '',
      'The archive is attached.',
      `--${boundary}`,
      'Content-Type: application/octet-stream; name="archive.bin"',
      'Content-Disposition: attachment; filename="archive.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      '',
    ].join(CRLF),
  );
  const suffix = Buffer.from(`--${boundary}--${CRLF}`);
  // Strictly below the target, so a limit equal to the target accepts it.
  const available = targetBytes - 1 - prefix.length - suffix.length;
  if (available < 8) throw new RangeError(`buildLargeMessage: ${targetBytes} bytes is too small for a message`);

  const LINE_CHARS = 76; // 57 raw bytes
  const fullLines = Math.floor(available / (LINE_CHARS + 2));
  const rest = available - fullLines * (LINE_CHARS + 2);
  const lastChars = rest >= 6 ? Math.floor((rest - 2) / 4) * 4 : 0;
  const raw = fakeBytes(0x5eed, fullLines * 57 + (lastChars / 4) * 3);
  const base64 = Buffer.from(raw.toString('base64'), 'latin1');

  const out = Buffer.allocUnsafe(prefix.length + fullLines * (LINE_CHARS + 2) + (lastChars ? lastChars + 2 : 0) + suffix.length);
  let pos = prefix.copy(out, 0);
  let src = 0;
  const eol = Buffer.from(CRLF);
  for (let i = 0; i < fullLines; i++) {
    pos += base64.copy(out, pos, src, src + LINE_CHARS);
    pos += eol.copy(out, pos);
    src += LINE_CHARS;
  }
  if (lastChars) {
    pos += base64.copy(out, pos, src, src + lastChars);
    pos += eol.copy(out, pos);
  }
  pos += suffix.copy(out, pos);
  return new Uint8Array(out.buffer, out.byteOffset, pos);
}

// ---------------------------------------------------------------- building blocks

interface TopOptions {
  subject?: string;
  subjectRaw?: string;
  fromRaw?: string;
  toRaw?: string;
  extra?: Header[];
}

/** Top-level headers for message number `n`, with fixed dates and ids. */
function top(n: number, o: TopOptions): Header[] {
  const headers: Header[] = [
    ['From', o.fromRaw ?? 'Alice Sender <alice@waxseal.test>'],
    ['To', o.toRaw ?? 'Bob Recipient <bob@example.org>'],
  ];
  if (o.subjectRaw !== undefined) headers.push(['Subject', o.subjectRaw]);
  else if (o.subject !== undefined) headers.push(['Subject', o.subject]);
  headers.push(['Date', rfc5322Date(new Date(Date.UTC(2026, 10, 1 + (n % 28), 8, 15, n % 60)))]);
  headers.push(['Message-ID', `<msg-${n}.20261103@waxseal.test>`]);
  headers.push(...(o.extra ?? []));
  headers.push(['MIME-Version', '1.0']);
  return headers;
}

/** RFC 5322 date in +0100, with the right weekday (clients always get it right). */
function rfc5322Date(utc: Date): string {
  const local = new Date(utc.getTime() + 60 * 60 * 1000);
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][local.getUTCDay()];
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][local.getUTCMonth()];
  const pad = (v: number): string => String(v).padStart(2, '0');
  return `${weekday}, ${pad(local.getUTCDate())} ${month} ${local.getUTCFullYear()} ${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())} +0100`;
}

function text(
  content: string,
  o: { subtype?: string; encoding?: Encoding } = {},
): Leaf {
  const encoding = o.encoding ?? (/^[\x00-\x7f]*$/.test(content) ? '7bit' : 'quoted-printable');
  const crlf = content.replace(/\r?\n/g, CRLF);
  let body: Buffer;
  switch (encoding) {
    case 'quoted-printable':
      body = Buffer.from(qpWrap(qpEncode(Buffer.from(crlf, 'utf8')), 76));
      break;
    case 'base64':
      body = Buffer.from(wrapBase64(Buffer.from(crlf, 'utf8')));
      break;
    default:
      body = Buffer.from(crlf, 'utf8');
  }
  return {
    headers: [
      ['Content-Type', `text/${o.subtype ?? 'plain'}; charset=utf-8`],
      ['Content-Transfer-Encoding', encoding],
    ],
    body,
  };
}

function attachment(
  bytes: Buffer,
  type: string,
  filename: string,
  o: { nameStyle?: 'rfc2231' | 'rfc2047'; inlineCid?: string } = {},
): Leaf {
  const disposition = o.inlineCid ? 'inline' : 'attachment';
  let contentType: string;
  let contentDisposition: string;
  if (o.nameStyle === 'rfc2047') {
    // What Outlook and older Thunderbird write: an encoded word inside a quoted parameter.
    const word = libmime.encodeWord(filename, 'B');
    contentType = `${type};\n name="${word}"`;
    contentDisposition = `${disposition};\n filename="${word}"`;
  } else {
    contentType = libmime.buildHeaderValue({ value: type, params: { name: filename } });
    contentDisposition = libmime.buildHeaderValue({ value: disposition, params: { filename } });
  }
  const headers: Header[] = [
    ['Content-Type', contentType],
    ['Content-Disposition', contentDisposition],
    ['Content-Transfer-Encoding', 'base64'],
  ];
  if (o.inlineCid) headers.push(['Content-ID', `<${o.inlineCid}>`]);
  return { headers, body: Buffer.from(wrapBase64(bytes)) };
}

function multipart(subtype: string, boundary: string, parts: MimeNode[]): Multi {
  return { headers: [['Content-Type', `multipart/${subtype}; boundary="${boundary}"`]], boundary, parts };
}

/** Serialises top-level headers plus a MIME tree (or nothing, for a headers-only message). */
function message(headers: Header[], root: MimeNode | null, o: { eol?: string } = {}): Buffer {
  const eol = o.eol ?? CRLF;
  const chunks: Buffer[] = [];
  const headerBlock = (list: Header[]): void => {
    for (const [name, value] of list) chunks.push(Buffer.from(`${name}: ${value.replace(/\r?\n/g, eol)}${eol}`, 'utf8'));
    chunks.push(Buffer.from(eol));
  };
  const body = (node: MimeNode): void => {
    if ('parts' in node) {
      chunks.push(Buffer.from(`This is a multi-part message in MIME format.${eol}`));
      for (const part of node.parts) {
        chunks.push(Buffer.from(`${eol}--${node.boundary}${eol}`));
        headerBlock(part.headers);
        body(part);
      }
      chunks.push(Buffer.from(`${eol}--${node.boundary}--${eol}`));
    } else {
      const data = eol === CRLF ? node.body : Buffer.from(node.body.toString('latin1').replace(/\r\n/g, eol), 'latin1');
      chunks.push(data);
      if (data.length > 0 && data[data.length - 1] !== 0x0a) chunks.push(Buffer.from(eol));
    }
  };
  headerBlock(root ? [...headers, ...root.headers] : headers);
  if (root) body(root);
  return Buffer.concat(chunks);
}

function wrapBase64(bytes: Buffer): string {
  return (bytes.toString('base64').match(/.{1,76}/g) ?? []).join(CRLF) + CRLF;
}

/** An address list folded one entry per line, the way clients write long To and References. */
function foldList(entries: string[], separator = ','): string {
  return entries.join(`${separator}\n `);
}

/** Deterministic bytes that look random (mulberry32). */
function fakeBytes(seed: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i += 4) {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    x = (x ^ (x >>> 14)) >>> 0;
    for (let b = 0; b < 4 && i + b < length; b++) out[i + b] = (x >>> (8 * b)) & 0xff;
  }
  return out;
}

/** A PNG signature and IHDR-shaped start followed by filler: enough to look like an image to MIME tooling. */
function fakePng(seed: number, length: number): Buffer {
  const head = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
  return Buffer.concat([head, fakeBytes(seed, Math.max(0, length - head.length))]);
}

/**
 * Encodes text as ISO-2022-JP. Node can decode that charset but not encode it,
 * so the JIS X 0208 table is recovered by decoding every two-byte code once.
 */
function iso2022jpEncoder(): (text: string) => Buffer {
  const decoder = new TextDecoder('iso-2022-jp');
  const table = new Map<string, [number, number]>();
  for (let row = 0x21; row <= 0x7e; row++) {
    for (let col = 0x21; col <= 0x7e; col++) {
      const ch = decoder.decode(new Uint8Array([0x1b, 0x24, 0x42, row, col, 0x1b, 0x28, 0x42]));
      if (ch.length === 1 && ch !== '\ufffd' && !table.has(ch)) table.set(ch, [row, col]);
    }
  }
  return (text: string): Buffer => {
    const bytes: number[] = [];
    let kanji = false;
    for (const ch of text) {
      const code = ch.codePointAt(0)!;
      if (code < 0x80) {
        if (kanji) bytes.push(0x1b, 0x28, 0x42);
        kanji = false;
        bytes.push(code);
        continue;
      }
      const pair = table.get(ch);
      if (!pair) throw new Error(`iso2022jpEncoder: ${ch} is not in JIS X 0208`);
      if (!kanji) bytes.push(0x1b, 0x24, 0x42);
      kanji = true;
      bytes.push(...pair);
    }
    if (kanji) bytes.push(0x1b, 0x28, 0x42);
    return Buffer.from(bytes);
  };
}
