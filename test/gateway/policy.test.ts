// Content rules: every condition, detector and action, the order they run in, header changes
// byte for byte, and malformed configuration files (each error names its line and problem).

import t from 'tap';
import { countDetected, luhnValid } from '../../src/gateway/policy/detectors.ts';
import { createDecide } from '../../src/gateway/policy/decide.ts';
import { evaluateRules } from '../../src/gateway/policy/evaluate.ts';
import { applyHeaderChanges } from '../../src/gateway/policy/header-edit.ts';
import { formatConfigErrors, parseGatewayConfig, type GatewayConfig } from '../../src/gateway/policy/policy-config.ts';
import { ruleMessageFromRaw } from '../../src/gateway/policy/rule-message.ts';

const BASE = `listen: { host: 127.0.0.1, port: 10025 }
reinject: { host: 127.0.0.1, port: 10026, tlsPort: 10027 }
keyService: { url: https://keys.example.org }
profiles:
  Standard: { credentialFile: /etc/waxseal/standard.key }
  Legal: { credentialEnv: WAXSEAL_CREDENTIAL_LEGAL }
spool: /var/lib/waxseal
postmaster: postmaster@example.org
`;

function config(rules: string, extra = ''): GatewayConfig {
  const r = parseGatewayConfig(`${BASE}${extra}rules:\n${rules}`);
  if (!r.ok) throw new Error(formatConfigErrors('test.yaml', r.errors));
  return r.config;
}

function errorsOf(text: string) {
  const r = parseGatewayConfig(text);
  if (r.ok) throw new Error('expected errors');
  return r.errors;
}

const MESSAGE = [
  'From: Ana <ana@example.org>',
  'To: Bob <bob@partner.example>, carol@other.example',
  'Subject: Quarterly payroll',
  'X-Classification: Confidential',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b"',
  '',
  '--b',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Card 4111 1111 1111 1111 and 5500-0000-0000-0004, routing 011000015, SSN 123-45-6789.',
  '--b',
  'Content-Type: application/pdf; name="salaries.pdf"',
  'Content-Disposition: attachment; filename="salaries.pdf"',
  'Content-Transfer-Encoding: base64',
  '',
  'JVBERi0xLjQK',
  '--b--',
  '',
].join('\r\n');
const ENVELOPE = { sender: 'ana@example.org', recipients: ['bob@partner.example', 'carol@other.example'] };
const msg = () => ruleMessageFromRaw(Buffer.from(MESSAGE), ENVELOPE);

t.test('detectors', async (t) => {
  t.ok(luhnValid('4111111111111111'));
  t.notOk(luhnValid('4111111111111112'), 'Luhn catches a wrong digit');
  t.equal(countDetected('card', '4111 1111 1111 1111'), 1, 'Visa with spaces');
  t.equal(countDetected('card', '5500-0000-0000-0004 and 378282246310005'), 2, 'Mastercard with dashes, Amex');
  t.equal(countDetected('card', '4111 1111 1111 1112'), 0, 'Luhn-invalid is not a card');
  t.equal(countDetected('card', '1234567812345670'), 0, 'Luhn-valid but no known issuer');
  t.equal(countDetected('card', '4111111111111111 4111-1111-1111-1111'), 1, 'the same number twice counts once');
  t.equal(countDetected('aba', 'routing 011000015'), 1, 'a valid ABA routing number');
  t.equal(countDetected('aba', 'routing 011000016'), 0, 'checksum fails');
  t.equal(countDetected('aba', '991000011'), 0, 'prefix outside the Federal Reserve ranges');
  t.equal(countDetected('aba', '0110000150'), 0, 'ten digits are not a routing number');
  t.equal(countDetected('ssn', 'SSN 123-45-6789'), 1);
  t.equal(countDetected('ssn', '123 45 6789'), 1, 'with spaces');
  for (const bad of ['000-12-3456', '666-12-3456', '912-12-3456', '123-00-4567', '123-45-0000', '123-45 6789']) t.equal(countDetected('ssn', bad), 0, `${bad} is not an SSN`);
});

t.test('every condition', async (t) => {
  const m = await msg();
  const cases: [string, string, boolean][] = [
    ['subject contains', '{ subject: { contains: PAYROLL } }', true],
    ['subject is', '{ subject: { is: quarterly payroll } }', true],
    ['subject matches', '{ subject: { matches: "^quarter" } }', true],
    ['subject no match', '{ subject: { contains: invoice } }', false],
    ['body contains', '{ body: { contains: routing } }', true],
    ['body detector card min 2', '{ body: { detector: { name: card, min: 2 } } }', true],
    ['body detector card min 3', '{ body: { detector: { name: card, min: 3 } } }', false],
    ['body detector aba', '{ body: { detector: aba } }', true],
    ['body detector ssn', '{ body: { detector: ssn } }', true],
    ['subject detector none', '{ subject: { detector: ssn } }', false],
    ['header contains', '{ header: { name: X-Classification, contains: confidential } }', true],
    ['header exists', '{ header: { name: x-classification, exists: true } }', true],
    ['header missing', '{ header: { name: X-Other, exists: true } }', false],
    ['sender', '{ sender: { is: ana@example.org } }', true],
    ['recipient', '{ recipient: { matches: "^carol@" } }', true],
    ['recipientDomain', '{ recipientDomain: { is: partner.example } }', true],
    ['recipientDomain no', '{ recipientDomain: { is: example.com } }', false],
    ['attachmentName', '{ attachmentName: { matches: "\\\\.pdf$" } }', true],
    ['attachmentType', '{ attachmentType: { is: application/pdf } }', true],
    ['size over', '{ size: { over: 100B } }', true],
    ['size under', '{ size: { under: 1KB } }', true],
    ['size over 1MB', '{ size: { over: 1MB } }', false],
    ['all', '{ all: [ { subject: { contains: payroll } }, { recipientDomain: { is: partner.example } } ] }', true],
    ['all one false', '{ all: [ { subject: { contains: payroll } }, { sender: { is: x@y.z } } ] }', false],
    ['any', '{ any: [ { sender: { is: x@y.z } }, { body: { detector: ssn } } ] }', true],
    ['not', '{ not: { subject: { contains: payroll } } }', false],
  ];
  for (const [name, cond, expected] of cases) {
    const c = config(`  - name: r\n    if: ${cond}\n    then: [ { encrypt: { profile: Standard } } ]\n`);
    t.equal(evaluateRules(c.rules, m).encrypt !== null, expected, name);
  }
  const always = config('  - name: r\n    then: [ { encrypt: { profile: Standard } } ]\n');
  t.ok(evaluateRules(always.rules, m).encrypt, 'a rule without "if" always applies');

  // One rule set reads the same detector and "contains" more than once (each message's results
  // are kept): every reading must still be of its own field and its own threshold.
  const repeated = config(`  - name: ssn in subject
    if: { subject: { detector: ssn } }
    then: [ { setHeader: { name: X-A, value: "1" } } ]
  - name: ssn in body
    if: { body: { detector: ssn } }
    then: [ { setHeader: { name: X-B, value: "1" } } ]
  - name: two cards
    if: { body: { detector: { name: card, min: 2 } } }
    then: [ { setHeader: { name: X-C, value: "1" } } ]
  - name: three cards
    if: { body: { detector: { name: card, min: 3 } } }
    then: [ { setHeader: { name: X-D, value: "1" } } ]
  - name: routing in subject
    if: { subject: { contains: routing } }
    then: [ { setHeader: { name: X-E, value: "1" } } ]
  - name: routing in body
    if: { body: { contains: ROUTING } }
    then: [ { setHeader: { name: X-F, value: "1" } } ]
`);
  t.same(evaluateRules(repeated.rules, m).matched, ['ssn in body', 'two cards', 'routing in body'], 'a repeated detector or text match reads each field for itself');
});

t.test('actions and their order', async (t) => {
  const m = await msg();
  const now = config(`  - name: first
    if: { subject: { contains: payroll } }
    then:
      - setHeader: { name: X-PostX-Send-Return-Receipt, value: "true" }
      - encrypt: { profile: Legal, deliver: now, subject: "[Secure] $Subject" }
  - name: second
    then: [ { setHeader: { name: X-Later, value: "1" } } ]
`);
  const r1 = evaluateRules(now.rules, m);
  t.same(r1.matched, ['first'], 'Encrypt and Deliver Now is final: no later rule runs');
  t.same(r1.encrypt, { rule: 'first', profile: 'Legal', subject: '[Secure] Quarterly payroll', tls: 'always' }, 'profile and $Subject template');
  t.same(r1.headerChanges, [{ name: 'X-PostX-Send-Return-Receipt', value: 'true' }]);

  const later = config(`  - name: first
    then: [ { encrypt: { profile: Standard, deliver: on-delivery, tls: try-first } } ]
  - name: second
    if: { body: { detector: card } }
    then:
      - setHeader: { name: X-PostX-ExpirationDate, value: "+7" }
      - encrypt: { profile: Legal, deliver: on-delivery }
  - name: third
    then: [ { setHeader: { name: X-Third, value: "yes" } } ]
`);
  const r2 = evaluateRules(later.rules, m);
  t.same(r2.matched, ['first', 'second', 'third'], 'Encrypt on Delivery lets later rules run');
  t.equal(r2.encrypt?.profile, 'Legal', 'the last on-delivery rule decides the profile');
  t.same(r2.headerChanges.map((h) => h.name), ['X-PostX-ExpirationDate', 'X-Third']);

  const none = config('  - name: r\n    if: { subject: { contains: nothing } }\n    then: [ { encrypt: { profile: Standard } } ]\n');
  t.equal(evaluateRules(none.rules, m).encrypt, null, 'no rule matched: deliver unchanged');
});

t.test('header changes keep everything else byte for byte', async (t) => {
  const raw = Buffer.from(MESSAGE);
  const changed = Buffer.from(applyHeaderChanges(raw, [{ name: 'X-Classification', value: 'Secret' }, { name: 'X-PostX-Use-Script', value: 'false' }, { name: 'X-Note', value: 'Größe – ok' }]));
  const text = changed.toString('latin1');
  t.match(text, /^X-PostX-Use-Script: false\r\nX-Note: =\?UTF-8\?B\?[^\r\n]+\r\nFrom: Ana/, 'new fields on top, non-ASCII encoded');
  t.match(text, /\r\nX-Classification: Secret\r\n/, 'an existing field changed in place');
  t.notMatch(text, /Confidential/);
  const bodyAt = (b: Buffer) => b.subarray(b.indexOf('\r\n\r\n'));
  t.ok(bodyAt(changed).equals(bodyAt(raw)), 'the body is untouched');
  t.equal(applyHeaderChanges(raw, []), raw, 'no changes, same bytes');
  t.throws(() => applyHeaderChanges(raw, [{ name: 'X-Bad', value: 'a\r\nBcc: x@y' }]), TypeError, 'no header injection');

  const decide = createDecide(config('  - name: r\n    if: { subject: { contains: payroll } }\n    then: [ { setHeader: { name: X-PostX-Use-Script, value: "false" } }, { encrypt: { profile: Standard } } ]\n').rules);
  const d = await decide(raw, ENVELOPE);
  t.match(Buffer.from(d.raw).toString('latin1'), /^X-PostX-Use-Script: false\r\n/, 'the decision carries the changed message, so a rule can set any X-PostX header');
  t.same(d.encrypt, { profile: 'Standard', subject: null, tls: 'always' });
});

t.test('a large message is read within bounds: headers and first text by postal-mime, every attachment by streaming', async (t) => {
  const head = 'From: a@example.org\r\nTo: b@example.net\r\nSubject: big one\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nSSN 123-45-6789\r\n--x\r\nContent-Type: application/octet-stream; name="data.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n';
  const filler = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n'.repeat(90_000);
  const tail = '--x\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="late.pdf"\r\n\r\nJVBE\r\n--x--\r\n';
  const raw = Buffer.from(head + filler + tail);
  t.ok(raw.length > 6 * 1024 * 1024);
  const m = await ruleMessageFromRaw(raw, ENVELOPE);
  t.same(m.attachments, [{ name: 'data.bin', type: 'application/octet-stream' }, { name: 'late.pdf', type: 'application/pdf' }], 'an attachment far into the message is still seen');
  t.equal(m.subject, 'big one');
  const c = config('  - name: r\n    if: { all: [ { body: { detector: ssn } }, { attachmentName: { is: late.pdf } } ] }\n    then: [ { encrypt: { profile: Standard } } ]\n');
  t.ok(evaluateRules(c.rules, m).encrypt, 'rules apply to it');
});

t.test('a message of one part: its text decoded, its attachment listed', async (t) => {
  const read = (head: string, body: string) => ruleMessageFromRaw(Buffer.from(`From: a@example.org\r\nSubject: one part\r\n${head}\r\n${body}`, 'latin1'), ENVELOPE);
  const plain = await read('', 'card 4111 1111 1111 1111\r\n');
  t.same({ body: plain.body, attachments: plain.attachments, subject: plain.subject }, { body: 'card 4111 1111 1111 1111\r\n', attachments: [], subject: 'one part' }, 'no Content-Type: text/plain');
  const b64 = await read('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n', `${Buffer.from('Größe 123-45-6789').toString('base64')}\r\n`);
  t.equal(b64.body, 'Größe 123-45-6789', 'base64 and UTF-8 decoded');
  const qp = await read('Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n', 'Gr=F6=DFe =\r\nok\r\n');
  t.equal(qp.body, 'Größe ok\r\n', 'quoted-printable and Latin-1 decoded');
  const html = await read('Content-Type: text/html\r\n', '<p>routing&nbsp;<b>011000015</b></p>');
  t.equal(html.body.trim(), 'routing 011000015', 'HTML read as text');
  const pdf = await read('Content-Type: application/pdf; name="q3.pdf"\r\nContent-Disposition: attachment; filename="q3.pdf"\r\nContent-Transfer-Encoding: base64\r\n', 'JVBERi0xLjQK\r\n');
  t.same({ body: pdf.body, attachments: pdf.attachments }, { body: '', attachments: [{ name: 'q3.pdf', type: 'application/pdf' }] }, 'a message that is one attachment');
  const lf = await ruleMessageFromRaw(Buffer.from('Subject: bare\nContent-Type: text/plain\n\nSSN 123-45-6789\n'), ENVELOPE);
  t.same({ subject: lf.subject, body: lf.body }, { subject: 'bare', body: 'SSN 123-45-6789\n' }, 'LF line ends');
  const headless = await ruleMessageFromRaw(Buffer.from('\r\nSSN 123-45-6789\r\n\r\nmore\r\n'), ENVELOPE);
  t.match(headless.body, /123-45-6789/, 'no header block: everything is body');
  const headersOnly = await ruleMessageFromRaw(Buffer.from('Subject: nothing else\r\n'), ENVELOPE);
  t.same({ subject: headersOnly.subject, body: headersOnly.body }, { subject: 'nothing else', body: '' }, 'no body at all');
  const enclosed = await read('Content-Type: message/rfc822\r\n', 'Subject: inner\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--z\r\nContent-Type: application/zip; name=a.zip\r\n\r\nUEsDBA==\r\n--z--\r\n');
  t.same(enclosed.attachments, [{ name: '', type: 'message/rfc822' }], 'a message that encloses another is listed as that (mailsplit does not open it)');
});

t.test('a whole configuration', async (t) => {
  const c = config('  - name: r\n    then: [ { encrypt: { profile: Standard } } ]\n', 'destinations: { default: preferred, domains: { bank.example: required } }\ntlsProbe: { cacheTtl: 30m, static: { bank.example: "127.0.0.1:2525" } }\nmaxMessageSize: 30MB\n');
  t.same(c.listen, { host: '127.0.0.1', port: 10025 });
  t.same(c.reinject, { host: '127.0.0.1', port: 10026, tlsPort: 10027 });
  t.same(c.profiles, { Standard: { credentialFile: '/etc/waxseal/standard.key', credentialEnv: null }, Legal: { credentialFile: null, credentialEnv: 'WAXSEAL_CREDENTIAL_LEGAL' } });
  t.same(c.destinations, { default: 'preferred', domains: { 'bank.example': 'required' } });
  t.same(c.tlsProbe, { cacheTtlMs: 30 * 60_000, static: { 'bank.example': '127.0.0.1:2525' } });
  t.equal(c.maxMessageBytes, 30 * 1024 * 1024);
});

t.test('malformed configuration files: every error names its line and problem', async (t) => {
  const cases: [string, string, number, RegExp][] = [
    ['YAML syntax (an unclosed list, noticed where the file ends)', `${BASE}rules: [ { name: a\n`, 10, /YAML syntax/],
    ['unknown top-level key with a suggestion', `${BASE}rule: []\n`, 9, /unknown setting "rule" \(did you mean "rules"\?\)/],
    ['bad port', BASE.replace('port: 10025', 'port: 99999'), 1, /listen\.port must be a port number/],
    ['missing tlsPort', BASE.replace(', tlsPort: 10027', ''), 2, /tlsPort/],
    ['bad key service url', BASE.replace('https://keys.example.org', 'keys.example.org'), 3, /http:\/\/ or https:\/\//],
    ['profile without credential', BASE.replace('{ credentialEnv: WAXSEAL_CREDENTIAL_LEGAL }', '{}'), 6, /needs credentialFile or credentialEnv/],
    ['bad postmaster', BASE.replace('postmaster@example.org', 'postmaster'), 8, /must be an email address/],
    ['bad size', `${BASE}maxMessageSize: huge\n`, 9, /must be a size such as/],
    ['bad duration', `${BASE}tlsProbe: { cacheTtl: soon }\n`, 9, /must be a duration such as 30s/],
    ['bad destination setting', `${BASE}destinations: { domains: { bank.example: mandatory } }\n`, 9, /must be none, preferred or required/],
    ['rule without name', `${BASE}rules:\n  - then: [ { encrypt: { profile: Standard } } ]\n`, 10, /this rule has no name/],
    ['rule without actions', `${BASE}rules:\n  - name: a\n`, 10, /needs "then"/],
    ['unknown condition', `${BASE}rules:\n  - name: a\n    if: { subjct: { contains: x } }\n    then: [ { encrypt: { profile: Standard } } ]\n`, 11, /"subjct" is not a condition \(did you mean "subject"\?\)/],
    ['invalid regex', `${BASE}rules:\n  - name: a\n    if: { subject: { matches: "([a-z" } }\n    then: [ { encrypt: { profile: Standard } } ]\n`, 11, /not a valid regular expression/],
    ['regex that can backtrack for ever', `${BASE}rules:\n  - name: a\n    if: { body: { matches: "(a+)+b" } }\n    then: [ { encrypt: { profile: Standard } } ]\n`, 11, /repeats a group that itself repeats/],
    ['setHeader on the MIME structure', `${BASE}rules:\n  - name: a\n    then: [ { setHeader: { name: Content-Type, value: "text/plain" } } ]\n`, 11, /cannot change Content-Type/],
    ['unknown detector', `${BASE}rules:\n  - name: a\n    if: { body: { detector: iban } }\n    then: [ { encrypt: { profile: Standard } } ]\n`, 11, /unknown detector "iban"/],
    ['detector on a header', `${BASE}rules:\n  - name: a\n    if: { sender: { detector: ssn } }\n    then: [ { encrypt: { profile: Standard } } ]\n`, 11, /"detector" is not a way to match/],
    ['encrypt without profile', `${BASE}rules:\n  - name: a\n    then: [ { encrypt: { deliver: now } } ]\n`, 11, /encrypt needs a profile/],
    ['unknown profile', `${BASE}rules:\n  - name: a\n    then: [ { encrypt: { profile: Finance } } ]\n`, 10, /profile "Finance", which is not under profiles/],
    ['bad deliver', `${BASE}rules:\n  - name: a\n    then: [ { encrypt: { profile: Standard, deliver: later } } ]\n`, 11, /deliver must be now .* or on-delivery/],
    ['unknown action', `${BASE}rules:\n  - name: a\n    then: [ { encript: { profile: Standard } } ]\n`, 11, /"encript" is not an action \(did you mean "encrypt"\?\)/],
    ['header value with a line break', `${BASE}rules:\n  - name: a\n    then: [ { setHeader: { name: X-A, value: "a\\nb" } } ]\n`, 11, /cannot contain a line break/],
    ['duplicate rule names', `${BASE}rules:\n  - name: a\n    then: [ { encrypt: { profile: Standard } } ]\n  - name: a\n    then: [ { encrypt: { profile: Standard } } ]\n`, 12, /two rules are named "a"/],
  ];
  for (const [name, text, line, message] of cases) {
    const errors = errorsOf(text);
    const hit = errors.find((e) => message.test(e.message));
    t.ok(hit, `${name}: ${message} in ${JSON.stringify(errors)}`);
    t.equal(hit?.line, line, `${name}: on line ${line}`);
  }
  const many = errorsOf(`${BASE.replace('port: 10025', 'port: 0')}rules:\n  - name: a\n    if: { body: { detector: iban } }\n    then: [ { encript: {} } ]\n`);
  t.ok(many.length >= 3, 'all problems are reported at once');
  t.match(formatConfigErrors('gateway.yaml', many), /^gateway\.yaml:1:\d+: /, 'file:line:column: message');
});
