import { parseArgs } from 'node:util';
import { loadAdminClientConfig } from '../config.ts';
import { createAdminClient } from './admin-client.ts';
import { CliError, writeLine, type CliIo } from './io.ts';

const USAGE = `usage:
  waxseal messages list [--search TEXT] [--page N]   the organisation's messages (metadata only)
  waxseal messages lock ID --reason TEXT             nobody can open it; recipients see the reason
  waxseal messages unlock ID
(talks to the key service at WAXSEAL_URL with WAXSEAL_ADMIN_TOKEN)`;

interface ListedMessage {
  id: string;
  sender: string;
  subject: string | null;
  sentAt: string;
  locked: { reason: string } | null;
  recipients: { address: string; openedAt: string | null }[];
}

/** An envelope id (22 base64url characters) that begins with "-". */
const DASHED_ID = /^-[A-Za-z0-9_-]{21}$/;

/** `waxseal messages ...`: the administrators' message operations of the API, from a shell. */
export async function messagesCommand(args: string[], io: CliIo): Promise<number> {
  // One envelope id in 64 begins with "-", which parseArgs would take for an option: such ids go
  // after "--", where nothing is an option.
  const dashed = args.filter((a, i) => DASHED_ID.test(a) && args[i - 1] !== '--reason' && args[i - 1] !== '--search');
  const rest = args.filter((a) => !dashed.includes(a));
  const { values, positionals } = parseArgs({
    args: dashed.length ? [...rest, '--', ...dashed] : rest,
    allowPositionals: true,
    options: { search: { type: 'string' }, page: { type: 'string' }, reason: { type: 'string' } },
  });
  const [action, id] = positionals;
  const call = createAdminClient(loadAdminClientConfig(io.env));
  switch (action) {
    case 'list': {
      const page = values.page === undefined ? 1 : Number(values.page);
      if (!Number.isInteger(page) || page < 1) throw new CliError('--page must be a whole number from 1', 2);
      const query = new URLSearchParams({ page: String(page), ...(values.search ? { q: values.search } : {}) });
      const r = await call<{ messages: ListedMessage[]; more: boolean }>('GET', `/messages?${query}`);
      // One line per message, tab-separated: id, sent, sender, opened/recipients, state, subject.
      for (const m of r.messages) {
        const opened = m.recipients.filter((x) => x.openedAt).length;
        writeLine(io.stdout, [m.id, m.sentAt, m.sender, `${opened}/${m.recipients.length}`, m.locked ? 'locked' : 'open', m.subject ?? ''].join('\t'));
      }
      if (r.more) writeLine(io.stderr, `more: waxseal messages list --page ${page + 1}`);
      return 0;
    }
    case 'lock':
      if (!id || !values.reason) throw new CliError(`waxseal messages lock: an id and --reason are needed\n${USAGE}`, 2);
      await call('POST', `/messages/${encodeURIComponent(id)}/lock`, { reason: values.reason });
      writeLine(io.stdout, `locked ${id}`);
      return 0;
    case 'unlock':
      if (!id) throw new CliError(`waxseal messages unlock: an id is needed\n${USAGE}`, 2);
      await call('POST', `/messages/${encodeURIComponent(id)}/unlock`);
      writeLine(io.stdout, `unlocked ${id}`);
      return 0;
    default:
      throw new CliError(USAGE, 2);
  }
}
