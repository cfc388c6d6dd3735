// An after-queue content filter that does nothing: what the gateway's rate is compared with to
// see what the design itself costs (Postfix queues every message twice) and what the gateway adds.
// smtp-server takes the message in as the gateway does, and the gateway's own hand-back client
// returns it unchanged: no rules, no journal. Usage: node bench/noop-filter.ts LISTEN REINJECT
import { SMTPServer } from 'smtp-server';
import { createReinjector } from '../src/gateway/filter/reinject.ts';

const [listen, reinjectPort] = process.argv.slice(2).map(Number);
const reinject = createReinjector({ host: '127.0.0.1', port: reinjectPort! });
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  logger: false,
  banner: 'no-op filter',
  disableReverseLookup: true,
  onMailFrom: (_address, _session, callback) => callback(),
  onRcptTo: (_address, _session, callback) => callback(),
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const message = { from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks) };
      reinject.send(message).then(() => callback(), (err: Error) => callback(Object.assign(err, { responseCode: 451 })));
    });
  },
});
server.listen(listen!, '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => {
  reinject.close();
  server.close(() => process.exit(0));
});
