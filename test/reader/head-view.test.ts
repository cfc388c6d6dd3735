import t from 'tap';
import { createHeadView } from '../../src/reader/head-view.ts';
import type { MessageModel } from '../../src/reader/message-model.ts';
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

t.test('a message under twice a step waits for the whole; a step is tried once', async (t) => {
  const small = withText('Short.').subarray(0, 100 * KB);
  const shown: MessageModel[] = [];
  const head = createHeadView({ length: 100 * KB, show: (m) => shown.push(m) });
  head.offer(small);
  await head.settled();
  t.same(shown, [], 'a 100 KB message is not shown in two steps');
  const big = withText('Short.');
  const later = createHeadView({ length: big.length, show: (m) => shown.push(m) });
  later.offer(big.subarray(0, 70 * KB));
  later.offer(big.subarray(0, 80 * KB));
  await later.settled();
  t.equal(shown.length, 1, 'one attempt while one is running');
});
