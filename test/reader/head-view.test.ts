import t from 'tap';
import { createHeadView } from '../../src/reader/head-view.ts';
import { parseMessage, type MessageModel } from '../../src/reader/message-model.ts';
import { binaryBytes, leaf, message, multipart } from './fixtures.ts';

const KB = 1024;
const attachment = binaryBytes(600 * KB);
const withText = (text: string) =>
  message({ subject: 'Contract' }, multipart('mixed', [leaf('text/plain; charset=utf-8', text), leaf('application/octet-stream', attachment, [['Content-Disposition', 'attachment; filename="contract.bin"']])]));

/** Offers the message's prefixes as a download would, `piece` bytes more each time. */
async function offerInPieces(raw: Buffer, piece: number, steps?: number[]): Promise<MessageModel[]> {
  const shown: MessageModel[] = [];
  const head = createHeadView({ length: raw.length, show: (m) => shown.push(m), ...(steps ? { steps } : {}) });
  for (let end = piece; end < raw.length; end += piece) {
    head.offer(raw.subarray(0, end));
    await head.settled();
  }
  return shown;
}

t.test('the head is shown once its text is whole, never cut short, and without attachments', async (t) => {
  // 150 KB of text: the 64 KB try finds it unfinished, the 256 KB one finds the attachment begun.
  const text = `${'Every clause of the contract is quoted below for the record.\n'.repeat(2500)}End of the letter.`;
  const shown = await offerInPieces(withText(text), 16 * KB);
  t.equal(shown.length, 1, 'shown once');
  t.equal(shown[0]!.text?.trimEnd(), text, 'with the whole text');
  t.equal(shown[0]!.subject, 'Contract');
  t.same(shown[0]!.attachments, [], 'and no attachment, not even the part already begun');
});

t.test('a short text shows at the first step', async (t) => {
  const shown = await offerInPieces(withText('See the attached contract.'), 64 * KB);
  t.equal(shown.length, 1);
  t.equal(shown[0]!.text?.trim(), 'See the attached contract.');
});

t.test('a text longer than every step reached is not shown before the whole message', async (t) => {
  const text = 'x'.repeat(400 * KB);
  t.same(await offerInPieces(withText(text), 32 * KB, [64 * KB, 256 * KB]), [], 'nothing: the text never ended within a step');
  const plain = message({ subject: 'Long' }, leaf('text/plain; charset=utf-8', 'y'.repeat(900 * KB)));
  t.same(await offerInPieces(plain, 64 * KB), [], 'a message that is only text waits for the whole');
});

t.test('a message under twice a step waits for the whole', async (t) => {
  const shown: MessageModel[] = [];
  const head = createHeadView({ length: 100 * KB, show: (m) => shown.push(m) });
  head.offer(withText('Short.').subarray(0, 100 * KB));
  await head.settled();
  t.same(shown, [], 'a 100 KB message is not shown in two steps');
  t.notOk(head.canStillShow(), 'and its pieces need not be cut small for it');
});

t.test('one piece reaching several steps: the smallest is parsed first, from a copy', async (t) => {
  const text = `${'A line of the letter.\n'.repeat(5000)}End.`; // ~110 KB: too long for 64 KB
  const raw = withText(text);
  const parsed: number[] = [];
  const shown: MessageModel[] = [];
  const head = createHeadView({
    length: raw.length,
    show: (m) => shown.push(m),
    parse: (bytes) => {
      parsed.push(bytes.length);
      return parseMessage(bytes);
    },
  });
  const prefix = Uint8Array.from(raw.subarray(0, 600 * KB));
  head.offer(prefix);
  prefix.fill(0); // the caller's buffer is wiped or replaced once offer returns
  await head.settled();
  t.same(parsed, [64 * KB, 256 * KB], '64 KB first, then 256 KB, which has the text whole');
  t.equal(shown.length, 1);
  t.equal(shown[0]!.text?.trimEnd(), text, 'from the bytes as they were when offered');
});

t.test('a single text part is never tried; a cancelled opening shows nothing', async (t) => {
  const parsed: number[] = [];
  const plain = message({ subject: 'Long' }, leaf('text/plain; charset=utf-8', 'y'.repeat(900 * KB)));
  const head = createHeadView({ length: plain.length, show: () => t.fail('shown'), parse: async (b) => (parsed.push(b.length), parseMessage(b)) });
  head.offer(plain.subarray(0, 300 * KB));
  await head.settled();
  t.same(parsed, [], 'no parse for a message that is one text part');
  t.notOk(head.canStillShow());

  const raw = withText('See the attached contract.');
  const shown: MessageModel[] = [];
  const cancelled = createHeadView({ length: raw.length, show: (m) => shown.push(m) });
  cancelled.offer(raw.subarray(0, 70 * KB));
  cancelled.cancel(); // the opening failed while the head was being parsed
  await cancelled.settled();
  t.same(shown, [], 'the head does not follow the failure');
});

t.test('a text part after an attachment is not in the head; inline images are left for the whole', async (t) => {
  const raw = message(
    { subject: 'List mail' },
    multipart('mixed', [
      leaf('text/plain; charset=utf-8', 'The first part.'),
      leaf('application/octet-stream', attachment, [['Content-Disposition', 'attachment; filename="a.bin"']]),
      leaf('text/plain; charset=utf-8', 'The list footer.'),
    ]),
  );
  const shown = await offerInPieces(raw, 64 * KB);
  t.equal(shown.length, 1);
  t.match(shown[0]!.text, /The first part\./);
  t.notMatch(shown[0]!.text, /footer/, 'the footer comes with the whole message (docs/opening.md)');
  t.equal(shown[0]!.related.size, 0);
});
