// The message model: decrypted RFC 5322 bytes → what the reader shows (headers, body, cid parts,
// attachments). The same module runs in the browser bundle, so these results are what both
// modes show.
import t from 'tap';
import { formatSize } from '../../src/reader/format-size.ts';
import { normaliseContentId } from '../../src/reader/content-id.ts';
import { parseMessage } from '../../src/reader/message-model.ts';
import { attachmentsMessage, BINARY, CALENDAR, file, leaf, message, multipart, PNG, serialise } from './fixtures.ts';

t.test('text only', async (t) => {
  const m = await parseMessage(message({ subject: 'Quarterly figures' }, leaf('text/plain; charset=utf-8', 'Hello Bob,\n\n<b>not markup</b>\n')));
  t.equal(m.from, 'Alice Sender <alice@waxseal.test>');
  t.same(m.to, ['Bob Recipient <bob@example.org>']);
  t.same(m.cc, []);
  t.equal(m.subject, 'Quarterly figures');
  t.equal(m.date?.toISOString(), '2026-11-03T08:15:00.000Z', 'the Date header, time zone applied');
  t.match(m.text, /^Hello Bob,\r?\n\r?\n<b>not markup<\/b>/, 'the text as written (the page escapes it)');
  t.equal(m.html, null);
  t.same(m.attachments, []);
});

t.test('html only', async (t) => {
  const m = await parseMessage(message({}, leaf('text/html; charset=utf-8', '<p>Hi <b>Bob</b></p>')));
  t.match(m.html, /<p>Hi <b>Bob<\/b><\/p>/);
  t.same(m.attachments, []);
});

t.test('multipart/alternative: both bodies, the HTML one is shown', async (t) => {
  const m = await parseMessage(message({}, multipart('alternative', [leaf('text/plain; charset=utf-8', 'plain version\n'), leaf('text/html; charset=utf-8', '<p>html version</p>')])));
  t.match(m.text, /plain version/);
  t.match(m.html, /html version/);
  t.same(m.attachments, [], 'neither body is an attachment');
});

t.test('multipart/related: a cid image is a related part, not an attachment', async (t) => {
  const m = await parseMessage(
    message(
      {},
      multipart('related', [
        leaf('text/html; charset=utf-8', '<p>Logo:</p><img src="cid:Logo.1@Waxseal.test">'),
        { ...leaf('image/png', PNG, [['Content-ID', '<logo.1@waxseal.test>'], ['Content-Disposition', 'inline; filename="logo.png"']]) },
        // Related but never shown by the HTML: listed, or it would be lost.
        leaf('image/png', PNG, [['Content-ID', '<unused@waxseal.test>'], ['Content-Disposition', 'inline; filename="unused.png"']]),
      ]),
    ),
  );
  const logo = m.related.get('logo.1@waxseal.test');
  t.ok(logo, 'the part is found under its normalised Content-ID');
  t.equal(logo?.mimeType, 'image/png');
  t.ok(Buffer.from(logo!.bytes).equals(PNG), 'its bytes are the image');
  t.same(m.attachments.map((a) => a.filename), ['unused.png'], 'only the part the HTML does not show is listed');
  t.equal(normaliseContentId('<A%40B>'), 'a@b');
});

t.test('attachments: names, types, sizes, and bytes identical to what was attached', async (t) => {
  const { raw, files } = attachmentsMessage();
  const m = await parseMessage(raw);
  t.same(m.cc, ['Dana <dana@example.org>']);
  t.match(m.text, /Three reports attached/);
  t.same(
    m.attachments.map((a) => [a.index, a.filename, a.mimeType, a.size]),
    files.map((f, i) => [i, f.filename, f.mimeType, f.bytes.length]),
    'every attachment, in message order, numbered from 0',
  );
  for (const [i, f] of files.entries()) t.ok(Buffer.from(m.attachments[i]!.bytes).equals(f.bytes), `${f.filename}: byte-identical`);
  t.ok(Buffer.from(m.attachments[2]!.bytes).equals(CALENDAR), 'a calendar part keeps its CRLF line endings (postal-mime alone rewrites them)');
});

t.test('nested message/rfc822: an attachment stays a file, an inline one is shown', async (t) => {
  const inner = message({ subject: 'Inner', from: 'Carol <carol@example.net>' }, leaf('text/plain; charset=utf-8', 'Inner text.\n'));
  const inline = await parseMessage(message({ subject: 'Fwd' }, multipart('mixed', [leaf('text/plain; charset=utf-8', 'Outer text.\n'), { headers: [['Content-Type', 'message/rfc822']], body: inner }])));
  t.equal(inline.subject, 'Fwd', 'the outer message\'s own headers');
  t.match(inline.text, /Outer text\.[\s\S]*Inner text\./, 'an inline forwarded message is part of the body');
  t.same(inline.attachments, []);
});

t.test('charsets: ISO-8859-1 quoted-printable and UTF-8 8bit, encoded words in headers', async (t) => {
  const latin = await parseMessage(
    serialise({
      headers: [
        ['From', '=?ISO-8859-1?Q?J=FCrgen_M=FCller?= <juergen@example.de>'],
        ['To', 'bob@example.org'],
        ['Subject', '=?ISO-8859-1?Q?Pr=FCfung?='],
        ['Content-Type', 'text/plain; charset=ISO-8859-1'],
        ['Content-Transfer-Encoding', 'quoted-printable'],
      ],
      body: Buffer.from('Gr=FC=DFe aus K=F6ln, 20 =A4\r\n'),
    }),
  );
  t.equal(latin.from, 'Jürgen Müller <juergen@example.de>');
  t.equal(latin.subject, 'Prüfung');
  t.match(latin.text, /^Grüße aus Köln, 20 ¤/);
  t.equal(latin.date, null, 'no Date header: no date');

  const utf8 = await parseMessage(
    serialise({
      headers: [['From', 'a@example.org'], ['To', 'b@example.org'], ['Subject', '=?UTF-8?B?0J/RgNC40LLQtdGC?='], ['Content-Type', 'text/html; charset=utf-8'], ['Content-Transfer-Encoding', '8bit']],
      body: Buffer.from('<p>Καλημέρα, こんにちは 👋</p>', 'utf8'),
    }),
  );
  t.equal(utf8.subject, 'Привет');
  t.match(utf8.html, /Καλημέρα, こんにちは 👋/);
});

t.test('groups and display names in address lists', async (t) => {
  const m = await parseMessage(message({ to: 'Team: a@example.org, "Dev, Two" <b@example.org>;, c@example.org' }, leaf('text/plain', 'x\n')));
  t.same(m.to, ['Team: a@example.org, Dev, Two <b@example.org>;', 'c@example.org']);
});

t.test('download names: no folders, no control characters, a name when there is none', async (t) => {
  const m = await parseMessage(
    message(
      {},
      multipart('mixed', [
        leaf('text/plain', 'x\n'),
        file('application/pdf', '../../etc/passwd', BINARY.subarray(0, 10)),
        { headers: [['Content-Type', 'application/pdf'], ['Content-Disposition', 'attachment'], ['Content-Transfer-Encoding', 'base64']], body: Buffer.from(BINARY.subarray(0, 10).toString('base64')) },
      ]),
    ),
  );
  t.same(m.attachments.map((a) => a.filename), ['_.._etc_passwd', 'attachment-2.pdf']);
});

t.test('sizes are formatted for the reader\'s language', async (t) => {
  t.equal(formatSize(512, 'en'), '512 bytes');
  t.equal(formatSize(12_345, 'en'), '12.3 kB');
  t.equal(formatSize(1_500_000, 'de'), '1,5 MB');
  t.match(formatSize(2_000_000, 'fr'), /^2\s?Mo$/, 'French unit names (and its no-break space)');
});
