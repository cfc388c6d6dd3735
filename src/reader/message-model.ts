import PostalMime from 'postal-mime';

/** What the message view shows of a decrypted RFC 5322 message. Isomorphic (Node and browsers). */
export interface MessageView {
  from: string;
  to: string[];
  cc: string[];
  date: string | null;
  subject: string;
  text: string | null;
  html: string | null;
  /** parts shown by the HTML body itself (cid: images), keyed by Content-ID without <> */
  inline: Map<string, { mimeType: string; bytes: Uint8Array }>;
  /** everything a recipient can download, in message order; `index` names it in URLs */
  attachments: { index: number; filename: string; mimeType: string; size: number; bytes: Uint8Array }[];
}

type Address = { name?: string; address?: string; group?: Address[] };

function formatAddress(a: Address | undefined): string[] {
  if (!a) return [];
  if (a.group) return a.group.flatMap(formatAddress);
  if (!a.address) return a.name ? [a.name] : [];
  return [a.name ? `${a.name} <${a.address}>` : a.address];
}

function toBytes(content: ArrayBuffer | Uint8Array | string): Uint8Array {
  if (typeof content === 'string') return new TextEncoder().encode(content);
  return content instanceof Uint8Array ? content : new Uint8Array(content);
}

export async function parseMessage(raw: Uint8Array): Promise<MessageView> {
  const parsed = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer' });
  const inline = new Map<string, { mimeType: string; bytes: Uint8Array }>();
  const attachments: MessageView['attachments'] = [];
  const html = parsed.html ?? null;
  parsed.attachments.forEach((att, index) => {
    const bytes = toBytes(att.content);
    const cid = att.contentId?.replace(/^<|>$/g, '') ?? null;
    // A related part the HTML points at is part of the body; anything else is an attachment.
    if (cid && html && html.includes(`cid:${cid}`)) {
      inline.set(cid, { mimeType: att.mimeType, bytes });
      return;
    }
    attachments.push({ index, filename: att.filename ?? `attachment-${index + 1}`, mimeType: att.mimeType, size: bytes.byteLength, bytes });
  });
  return {
    from: formatAddress(parsed.from as Address | undefined).join(', '),
    to: (parsed.to ?? []).flatMap((a) => formatAddress(a as Address)),
    cc: (parsed.cc ?? []).flatMap((a) => formatAddress(a as Address)),
    date: parsed.date ?? null,
    subject: parsed.subject ?? '',
    text: parsed.text ?? null,
    html,
    inline,
    attachments,
  };
}
