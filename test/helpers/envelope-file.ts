import PostalMime from 'postal-mime';

export interface ParsedEnvelopeMail {
  /** The notification as a mail client sees it. */
  mail: Awaited<ReturnType<typeof PostalMime.parse>>;
  html: string;
  envelopeId: string;
  envelopeSecret: Uint8Array;
  inlinePayload: Uint8Array | null;
  payloadUrl: string | null;
}

/** Attribute values as a browser reads them: handlebars escapes '=' and '&' as entities. */
function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|amp|quot|lt|gt|apos);/gi, (_, e: string) => {
    const named: Record<string, string> = { amp: '&', quot: '"', lt: '<', gt: '>', apos: "'" };
    if (e[0] !== '#') return named[e.toLowerCase()]!;
    return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
  });
}

function field(html: string, name: string): string | null {
  const m = new RegExp(`<input[^>]*\\bname="${name}"[^>]*\\bvalue="([^"]*)"`, 's').exec(html) ?? new RegExp(`<input[^>]*\\bvalue="([^"]*)"[^>]*\\bname="${name}"`, 's').exec(html);
  return m ? decodeEntities(m[1]!) : null;
}

/** Reads a sealed notification the way a recipient's browser would get at securedoc.html. */
export async function parseEnvelopeMail(eml: Uint8Array, fileName = 'securedoc.html'): Promise<ParsedEnvelopeMail> {
  const mail = await PostalMime.parse(eml);
  const att = mail.attachments.find((a) => a.filename === fileName);
  if (!att) throw new Error(`no ${fileName} attachment`);
  const html = typeof att.content === 'string' ? att.content : new TextDecoder().decode(att.content);
  const action = decodeEntities(/<form[^>]*\baction="([^"]+)"/.exec(html)?.[1]?.replace(/\s+/g, '') ?? '');
  if (!action) throw new Error('no form action');
  const envelopeId = action.split('/open/')[1]!.split('#')[0]!;
  const secret = field(html, 'secret');
  if (!secret) throw new Error('no secret field');
  const payload = field(html, 'payload');
  return {
    mail,
    html,
    envelopeId,
    envelopeSecret: new Uint8Array(Buffer.from(secret, 'base64url')),
    inlinePayload: payload ? new Uint8Array(Buffer.from(payload.replace(/\s+/g, ''), 'base64')) : null,
    payloadUrl: field(html, 'payload_url')?.replace(/\s+/g, '') ?? null,
  };
}
