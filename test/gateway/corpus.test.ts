import t from 'tap';
import PostalMime from 'postal-mime';
import { DEFAULT_MAX_MESSAGE_BYTES, readMessageHead, type MessageHead } from '../../src/gateway/message-head.ts';
import { POSTX_HEADER_NAMES, readPostxHeaders } from '../../src/gateway/postx-headers.ts';
import { buildCorpus, buildLargeMessage } from '../helpers/corpus.ts';

const limits = { maxBytes: DEFAULT_MAX_MESSAGE_BYTES };
const corpus = buildCorpus();
const byName = new Map(corpus.map((m) => [m.name, m.bytes]));

function head(name: string): MessageHead {
  const bytes = byName.get(name);
  if (!bytes) throw new Error(`no corpus message named ${name}`);
  return readMessageHead(bytes, limits);
}

async function parsed(name: string): Promise<Awaited<ReturnType<typeof PostalMime.parse>>> {
  return PostalMime.parse(byName.get(name)!);
}

t.test('size and determinism', async (t) => {
  t.ok(corpus.length >= 22, `${corpus.length} messages`);
  t.equal(new Set(corpus.map((m) => m.name)).size, corpus.length, 'names are unique');
  const again = buildCorpus();
  t.same(
    again.map((m) => Buffer.from(m.bytes).toString('base64')),
    corpus.map((m) => Buffer.from(m.bytes).toString('base64')),
    'building twice gives the same bytes',
  );
});

t.test('every message passes readMessageHead and has a From and a To', async (t) => {
  for (const { name, bytes } of corpus) {
    const h = readMessageHead(bytes, limits);
    t.match(h.from.address, /^[^@\s]+@[^@\s]+$/, `${name}: From`);
    t.ok(h.to.length >= 1, `${name}: at least one To`);
    t.ok(h.bodyOffset <= bytes.length, `${name}: body offset inside the message`);
  }
});

t.test('every message is valid MIME to an independent parser', async (t) => {
  for (const { name, bytes } of corpus) {
    const email = await PostalMime.parse(bytes);
    const h = readMessageHead(bytes, limits);
    t.equal(email.from?.address?.toLowerCase(), h.from.address, `${name}: same sender`);
    t.equal(email.subject ?? null, h.subject ?? null, `${name}: same subject`);
  }
});

t.test('shapes', async (t) => {
  t.equal(head('bare LF line endings').lineEnding, '\n');
  t.notOk(Buffer.from(byName.get('bare LF line endings')!).includes('\r'), 'no CR anywhere');
  t.equal(head('CRLF line endings').lineEnding, '\r\n');

  t.equal(head('RFC 2047 subject UTF-8 B').subject, 'Vertrag für München – Entwurf 3');
  t.equal(head('RFC 2047 subject UTF-8 Q').subject, 'Réunion à 14h – ordre du jour');
  t.equal(head('RFC 2047 subject ISO-8859-1').subject, 'Prüfung der Unterlagen');
  t.same(head('RFC 2047 subject ISO-8859-1').from, { name: 'Jürgen Müller', address: 'juergen.mueller@example.de' });

  const jp = head('Japanese ISO-2022-JP');
  t.equal(jp.subject, '会議資料の送付について');
  t.same(jp.from, { name: '佐藤 太郎', address: 'sato@example.jp' });
  t.match((await parsed('Japanese ISO-2022-JP')).text ?? '', /会議資料をお送りします/);

  const raw = head('raw UTF-8 and Latin-1 header bytes');
  t.equal(raw.subject, 'Ärende: offert på 12 000 kr');
  t.equal(raw.get('organization'), 'Café Müller GmbH', 'the Latin-1 header falls back cleanly');

  const folded = head('long folded headers');
  t.equal(folded.to.length, 12);
  t.equal(folded.references.length, 8);
  t.notMatch(folded.subject ?? '', /[\r\n]/);
  t.ok(Buffer.from(byName.get('long folded headers')!).toString().split('\r\n').every((l) => l.length <= 998));

  const reply = head('reply with In-Reply-To and References');
  t.equal(reply.inReplyTo, '<msg-1.20261103@waxseal.test>');
  t.same(reply.references, ['<msg-0.20261102@waxseal.test>', '<msg-1.20261103@waxseal.test>']);

  const group = head('Cc, Bcc and group address');
  t.same(group.to, ['dev1@example.org', 'dev2@example.org', 'lead@example.org']);
  t.same(group.cc, ['manager@example.org']);
  t.same(group.bcc, ['archive@example.com']);

  const empty = head('headers only, empty body');
  t.equal(empty.bodyOffset, empty.size, 'nothing after the blank line');

  const trailing = byName.get('trailing whitespace, no final newline')!;
  t.equal(Buffer.from(trailing).toString().slice(-3), 'd  ', 'ends in spaces, no newline');

  for (const [name, style] of [
    ['attachments with RFC 2231 non-ASCII file names', /filename\*0\*=utf-8''/],
    ['attachments with RFC 2047 non-ASCII file names', /filename="=\?UTF-8\?B\?/],
  ] as const) {
    t.match(Buffer.from(byName.get(name)!).toString(), style, `${name}: written in that style`);
    t.same(
      (await parsed(name)).attachments.map((a) => a.filename),
      ['Prüfbericht – März.pdf', '報告書.xlsx', 'отчёт.docx'],
      `${name}: names decode`,
    );
  }

  const inline = await parsed('html with inline cid images');
  t.same(inline.attachments.map((a) => a.contentId), ['<front@waxseal.test>', '<back@waxseal.test>']);
  t.match(inline.html ?? '', /cid:front@waxseal\.test/);

  const nested = await parsed('multipart/related inside multipart/mixed');
  t.same(nested.attachments.map((a) => [a.filename, a.disposition]), [['logo.png', 'inline'], ['programme.pdf', 'attachment']]);

  t.same((await parsed('forwarded message/rfc822 attachment')).attachments.map((a) => a.mimeType), ['message/rfc822']);
  t.same((await parsed('calendar invite')).attachments.map((a) => a.mimeType), ['text/calendar']);
  t.equal(((await parsed('binary attachment')).attachments[0]?.content as ArrayBuffer).byteLength, 48 * 1024);
  t.match((await parsed('quoted-printable body')).text ?? '', /über 1\.250,00 €/);
  t.match(Buffer.from(byName.get('quoted-printable body')!).toString(), /Content-Transfer-Encoding: quoted-printable/);
  t.match((await parsed('base64 body')).text ?? '', /naïve café/);
  t.match((await parsed('8bit UTF-8 body')).text ?? '', /こんにちは 👋/);
});

t.test('the X-PostX message carries all nine and they read today', async (t) => {
  const h = head('every X-PostX header');
  t.same(
    h.headers.filter((f) => f.key.startsWith('x-postx-')).map((f) => f.name).sort(),
    [...POSTX_HEADER_NAMES].sort(),
  );
  const now = new Date();
  const o = readPostxHeaders(h, now);
  t.equal(Object.keys(o).length, 9);
  t.equal(o.expirationDate?.getTime(), now.getTime() + 7 * 24 * 3600 * 1000);
});

t.test('buildLargeMessage: just under the target, parses fast without reading the body', async (t) => {
  const target = DEFAULT_MAX_MESSAGE_BYTES;
  const large = buildLargeMessage(target);
  t.ok(large.length < target, `${large.length} < ${target}`);
  t.ok(large.length > target - 64 * 1024, 'within 64 KB of the target');
  t.ok(large.length > target - 100, 'in fact within one base64 line');

  const started = process.hrtime.bigint();
  const h = readMessageHead(large, { maxBytes: target });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.ok(ms < 50, `read in ${ms.toFixed(2)} ms`);
  t.ok(h.bodyOffset < 1024, 'only the head was scanned');
  t.equal(h.from.address, 'alice@waxseal.test');
  t.same(h.to, ['bob@example.org']);
  t.match(h.get('content-type') ?? '', /^multipart\/mixed; boundary="large-boundary-0001"$/);
  t.equal(Buffer.from(large.subarray(-25)).toString(), '--large-boundary-0001--\r\n', 'closing boundary at the end');

  t.equal(buildLargeMessage(target - 16 * 1024).length < target - 16 * 1024, true, 'other targets too');
  t.throws(() => buildLargeMessage(100), RangeError);
});

t.test('buildLargeMessage is valid MIME with a decodable attachment', async (t) => {
  for (const target of [300 * 1024, 300 * 1024 + 37, 4096]) {
    const bytes = buildLargeMessage(target);
    t.ok(bytes.length < target && bytes.length > target - 80, `${target}: ${bytes.length} bytes`);
    t.same(buildLargeMessage(target), bytes, 'deterministic');
    const email = await PostalMime.parse(bytes);
    const attachment = email.attachments[0];
    t.equal(attachment?.filename, 'archive.bin');
    const headLength = Buffer.from(bytes).indexOf('base64\r\n\r\n') + 'base64\r\n\r\n'.length;
    const base64Chars = bytes.length - headLength - '--large-boundary-0001--\r\n'.length;
    const lines = Buffer.from(bytes.subarray(headLength, headLength + base64Chars)).toString().split('\r\n').filter(Boolean);
    t.ok(lines.every((l) => l.length <= 76), 'base64 lines are at most 76 characters');
    t.equal((attachment?.content as ArrayBuffer).byteLength, (lines.join('').length / 4) * 3, 'attachment decodes to the expected size');
  }
});
