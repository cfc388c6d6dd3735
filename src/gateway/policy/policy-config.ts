import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';
import { DETECTOR_NAMES, type DetectorName } from './detectors.ts';
import { compilePattern } from './regex-pattern.ts';
import { nearestWord } from '../../text/nearest-word.ts';

/** How a text is tested: substring, whole value, regular expression, or a named detector. */
export type TextMatch =
  | { kind: 'contains' | 'is'; value: string }
  | { kind: 'matches'; regex: RegExp }
  | { kind: 'detector'; detector: DetectorName; min: number };

export type TextField = 'subject' | 'body' | 'sender' | 'recipient' | 'recipientDomain' | 'attachmentName' | 'attachmentType';
export const TEXT_FIELDS: readonly TextField[] = ['subject', 'body', 'sender', 'recipient', 'recipientDomain', 'attachmentName', 'attachmentType'];

export type Condition =
  | { kind: 'always' }
  | { kind: 'text'; field: TextField; match: TextMatch }
  | { kind: 'header'; name: string; match: TextMatch | { kind: 'exists' } }
  | { kind: 'size'; over: number | null; under: number | null }
  | { kind: 'all' | 'any'; of: Condition[] }
  | { kind: 'not'; of: Condition };

export type Action =
  | { kind: 'setHeader'; name: string; value: string }
  | { kind: 'encrypt'; deliver: 'now' | 'on-delivery'; profile: string; subject: string | null; tls: 'always' | 'try-first' };

export interface Rule {
  name: string;
  line: number;
  when: Condition;
  then: Action[];
}

export type DestinationTls = 'none' | 'preferred' | 'required';

export interface GatewayConfig {
  listen: { host: string; port: number };
  reinject: { host: string; port: number; tlsPort: number };
  keyService: { url: string; proxy: string | null };
  /** encryption profile name → where its gateway credential is */
  profiles: Record<string, { credentialFile: string | null; credentialEnv: string | null }>;
  spool: string;
  postmaster: string;
  maxMessageBytes: number;
  destinations: { default: DestinationTls; domains: Record<string, DestinationTls> };
  tlsProbe: { cacheTtlMs: number; static: Record<string, string> };
  rules: Rule[];
}

export interface ConfigProblem {
  line: number;
  column: number;
  message: string;
}

export type ConfigResult = { ok: true; config: GatewayConfig } | { ok: false; errors: ConfigProblem[] };

/** `file:line:column: message`, one per line, for people and editors alike. */
export function formatConfigErrors(file: string, errors: readonly ConfigProblem[]): string {
  return errors.map((e) => `${file}:${e.line}:${e.column}: ${e.message}`).join('\n');
}

const TOP_KEYS = ['listen', 'reinject', 'keyService', 'profiles', 'spool', 'postmaster', 'maxMessageSize', 'destinations', 'tlsProbe', 'rules'];
const HEADER_NAME = /^[!-9;-~]+$/;
const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?$/i;
const DURATION = /^(\d+)\s*(s|m|h|d)$/;
const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };
const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Reads and checks a gateway configuration file (YAML). Every problem is collected, each with
 * the line and column it is about and a sentence saying what is wrong and what would do.
 */
export function parseGatewayConfig(text: string): ConfigResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const errors: ConfigProblem[] = [];
  for (const e of doc.errors) {
    const at = lines.linePos(e.pos[0]);
    errors.push({ line: at.line, column: at.col, message: `YAML syntax: ${e.message.split('\n')[0]}` });
  }
  if (errors.length > 0) return { ok: false, errors };

  const at = (node: Node | null | undefined) => {
    const p = lines.linePos(node?.range?.[0] ?? 0);
    return { line: p.line, column: p.col };
  };
  const fail = (node: Node | null | undefined, message: string) => {
    errors.push({ ...at(node), message });
  };

  const root = doc.contents;
  if (!isMap(root)) {
    fail(root, 'the file must be a mapping of settings (listen, reinject, keyService, profiles, rules, ...)');
    return { ok: false, errors };
  }
  const top = entries(root, TOP_KEYS, 'setting', fail);

  const str = (node: Node | undefined, what: string): string | null => {
    if (!isScalar(node) || typeof node.value !== 'string' || node.value.trim() === '') {
      fail(node, `${what} must be a text`);
      return null;
    }
    return node.value;
  };
  const port = (node: Node | undefined, what: string): number | null => {
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isInteger(node.value) || node.value < 1 || node.value > 65535) {
      fail(node, `${what} must be a port number from 1 to 65535`);
      return null;
    }
    return node.value;
  };
  const size = (node: Node | undefined, what: string): number | null => {
    const raw = isScalar(node) ? String(node.value) : '';
    const m = SIZE.exec(raw.trim());
    if (!m) {
      fail(node, `${what} must be a size such as 512KB, 10MB or 25MB`);
      return null;
    }
    return Math.round(Number(m[1]) * SIZE_UNITS[(m[2] ?? 'B').toUpperCase()]!);
  };
  const duration = (node: Node | undefined, what: string): number | null => {
    const m = isScalar(node) ? DURATION.exec(String(node.value).trim()) : null;
    if (!m) {
      fail(node, `${what} must be a duration such as 30s, 15m, 2h or 1d`);
      return null;
    }
    return Number(m[1]) * DURATION_UNITS[m[2]!]!;
  };
  const hostPort = (node: Node | undefined, what: string, extra: string[] = []) => {
    if (!isMap(node)) {
      fail(node, `${what} must be a mapping with host and port`);
      return null;
    }
    const e = entries(node, ['host', 'port', ...extra], `${what} setting`, fail);
    const host = e.get('host') ? str(e.get('host'), `${what}.host`) : '127.0.0.1';
    const p = e.has('port') ? port(e.get('port'), `${what}.port`) : (fail(node, `${what} needs a port`), null);
    return { host: host ?? '127.0.0.1', port: p ?? 0, e };
  };
  const tlsSetting = (node: Node | undefined, what: string): DestinationTls => {
    const v = isScalar(node) ? node.value : null;
    if (v === 'none' || v === 'preferred' || v === 'required') return v;
    fail(node, `${what} must be none, preferred or required`);
    return 'none';
  };

  // listen, reinject
  const listen = top.has('listen') ? hostPort(top.get('listen'), 'listen') : (fail(root, 'listen is missing: where the MTA hands messages to the gateway'), null);
  const reinjectNode = top.get('reinject');
  const reinject = top.has('reinject') ? hostPort(reinjectNode, 'reinject', ['tlsPort']) : (fail(root, 'reinject is missing: where the gateway hands messages back to the MTA'), null);
  let tlsPort = 0;
  if (reinject) {
    if (reinject.e.has('tlsPort')) tlsPort = port(reinject.e.get('tlsPort'), 'reinject.tlsPort') ?? 0;
    else fail(reinjectNode, 'reinject needs a tlsPort: the MTA port whose deliveries must use TLS (TLS as an alternative to encryption)');
  }

  // keyService
  let keyService = { url: '', proxy: null as string | null };
  const ksNode = top.get('keyService');
  if (!isMap(ksNode)) fail(ksNode ?? root, 'keyService is missing or not a mapping: it needs at least url');
  else {
    const e = entries(ksNode, ['url', 'proxy'], 'keyService setting', fail);
    const url = str(e.get('url'), 'keyService.url');
    if (url && !/^https?:\/\/[^/\s]+/.test(url)) fail(e.get('url'), 'keyService.url must be an http:// or https:// address');
    const proxy = e.has('proxy') ? str(e.get('proxy'), 'keyService.proxy') : null;
    if (proxy && !/^https?:\/\/[^/\s]+/.test(proxy)) fail(e.get('proxy'), 'keyService.proxy must be an http:// or https:// address, e.g. http://proxy.example.org:3128');
    keyService = { url: url ?? '', proxy };
  }

  // profiles
  const profiles: GatewayConfig['profiles'] = {};
  const profilesNode = top.get('profiles');
  if (!isMap(profilesNode) || profilesNode.items.length === 0) fail(profilesNode ?? root, 'profiles is missing: name each encryption profile the rules use, with its credentialFile or credentialEnv');
  else {
    for (const pair of profilesNode.items) {
      const name = scalarKey(pair);
      const e = isMap(pair.value) ? entries(pair.value, ['credentialFile', 'credentialEnv'], `profile "${name}" setting`, fail) : null;
      if (!e) {
        fail(pair.value as Node, `profile "${name}" must be a mapping with credentialFile or credentialEnv`);
        continue;
      }
      const credentialFile = e.has('credentialFile') ? str(e.get('credentialFile'), `profiles.${name}.credentialFile`) : null;
      const credentialEnv = e.has('credentialEnv') ? str(e.get('credentialEnv'), `profiles.${name}.credentialEnv`) : null;
      if (!credentialFile && !credentialEnv) fail(pair.value as Node, `profile "${name}" needs credentialFile or credentialEnv (its gateway credential from "waxseal profile provision")`);
      profiles[name] = { credentialFile, credentialEnv };
    }
  }

  const spool = top.has('spool') ? str(top.get('spool'), 'spool') : (fail(root, 'spool is missing: a folder the gateway keeps its journal in'), null);
  const postmaster = top.has('postmaster') ? str(top.get('postmaster'), 'postmaster') : (fail(root, 'postmaster is missing: the From address of encryption-failure notices'), null);
  if (postmaster && !/^[^\s@]+@[^\s@]+$/.test(postmaster)) fail(top.get('postmaster'), 'postmaster must be an email address');
  const maxMessageBytes = top.has('maxMessageSize') ? (size(top.get('maxMessageSize'), 'maxMessageSize') ?? 0) : 50 * 1024 * 1024;

  // destinations
  const destinations: GatewayConfig['destinations'] = { default: 'none', domains: {} };
  const destNode = top.get('destinations');
  if (destNode !== undefined) {
    if (!isMap(destNode)) fail(destNode, 'destinations must be a mapping with default and domains');
    else {
      const e = entries(destNode, ['default', 'domains'], 'destinations setting', fail);
      if (e.has('default')) destinations.default = tlsSetting(e.get('default'), 'destinations.default');
      const domains = e.get('domains');
      if (domains !== undefined) {
        if (!isMap(domains)) fail(domains, 'destinations.domains must map domains to none, preferred or required');
        else for (const pair of domains.items) destinations.domains[scalarKey(pair).toLowerCase()] = tlsSetting(pair.value as Node, `the TLS setting of ${scalarKey(pair)}`);
      }
    }
  }

  // tlsProbe
  const tlsProbe: GatewayConfig['tlsProbe'] = { cacheTtlMs: 3_600_000, static: {} };
  const probeNode = top.get('tlsProbe');
  if (probeNode !== undefined) {
    if (!isMap(probeNode)) fail(probeNode, 'tlsProbe must be a mapping with cacheTtl and static');
    else {
      const e = entries(probeNode, ['cacheTtl', 'static'], 'tlsProbe setting', fail);
      if (e.has('cacheTtl')) tlsProbe.cacheTtlMs = duration(e.get('cacheTtl'), 'tlsProbe.cacheTtl') ?? tlsProbe.cacheTtlMs;
      const st = e.get('static');
      if (st !== undefined) {
        if (!isMap(st)) fail(st, 'tlsProbe.static must map domains to host:port');
        else
          for (const pair of st.items) {
            const v = isScalar(pair.value) ? String(pair.value.value) : '';
            if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(v)) fail(pair.value as Node, `tlsProbe.static.${scalarKey(pair)} must be host:port, e.g. 127.0.0.1:2525`);
            tlsProbe.static[scalarKey(pair).toLowerCase()] = v;
          }
      }
    }
  }

  // rules
  const rules: Rule[] = [];
  const rulesNode = top.get('rules');
  if (rulesNode !== undefined && !isSeq(rulesNode)) fail(rulesNode, 'rules must be a list, each item with name, if and then');
  if (isSeq(rulesNode)) {
    const names = new Set<string>();
    for (const item of rulesNode.items as Node[]) {
      const rule = parseRule(item, { fail, str, size, at });
      if (!rule) continue;
      if (names.has(rule.name)) fail(item, `two rules are named "${rule.name}"; rule names must be unique`);
      names.add(rule.name);
      for (const a of rule.then) if (a.kind === 'encrypt' && !Object.hasOwn(profiles, a.profile) && Object.keys(profiles).length > 0) fail(item, `rule "${rule.name}" encrypts with profile "${a.profile}", which is not under profiles (${Object.keys(profiles).join(', ')})`);
      rules.push(rule);
    }
  }

  if (errors.length > 0) return { ok: false, errors: errors.sort((a, b) => a.line - b.line || a.column - b.column) };
  return {
    ok: true,
    config: {
      listen: { host: listen!.host, port: listen!.port },
      reinject: { host: reinject!.host, port: reinject!.port, tlsPort },
      keyService,
      profiles,
      spool: spool!,
      postmaster: postmaster!,
      maxMessageBytes,
      destinations,
      tlsProbe,
      rules,
    },
  };
}

type Fail = (node: Node | null | undefined, message: string) => void;

interface RuleTools {
  fail: Fail;
  str: (node: Node | undefined, what: string) => string | null;
  size: (node: Node | undefined, what: string) => number | null;
  at: (node: Node | null | undefined) => { line: number; column: number };
}

function parseRule(item: Node, tools: RuleTools): Rule | null {
  const { fail, str } = tools;
  if (!isMap(item)) {
    fail(item, 'each rule must be a mapping with name, if and then');
    return null;
  }
  const e = entries(item, ['name', 'if', 'then'], 'rule setting', fail);
  const name = e.has('name') ? str(e.get('name'), 'a rule name') : (fail(item, 'this rule has no name'), null);
  const label = name ? `rule "${name}"` : 'this rule';
  const when = e.has('if') ? parseCondition(e.get('if'), label, tools) : { kind: 'always' as const };
  const thenNode = e.get('then');
  const then: Action[] = [];
  if (!isSeq(thenNode) || thenNode.items.length === 0) fail(thenNode ?? item, `${label} needs "then": a list of actions (setHeader, encrypt)`);
  else
    for (const a of thenNode.items as Node[]) {
      const action = parseAction(a, label, tools);
      if (action) then.push(action);
    }
  const encrypts = then.filter((a) => a.kind === 'encrypt');
  if (encrypts.length > 1) fail(thenNode, `${label} encrypts twice; one encrypt action per rule`);
  if (!name || !when) return null;
  return { name, line: tools.at(item).line, when, then };
}

const CONDITION_KEYS = [...TEXT_FIELDS, 'header', 'size', 'all', 'any', 'not'];

function parseCondition(node: Node | undefined, label: string, tools: RuleTools): Condition | null {
  const { fail } = tools;
  if (!isMap(node) || node.items.length !== 1) {
    fail(node, `each condition of ${label} must be one of ${CONDITION_KEYS.join(', ')} (combine several with all, any or not)`);
    return null;
  }
  const pair = node.items[0]!;
  const key = scalarKey(pair);
  const value = pair.value as Node | undefined;
  if ((TEXT_FIELDS as readonly string[]).includes(key)) {
    const match = parseTextMatch(value, `${label}: ${key}`, tools, key === 'subject' || key === 'body');
    return match ? { kind: 'text', field: key as TextField, match } : null;
  }
  switch (key) {
    case 'header': {
      if (!isMap(value)) return fail(value, `${label}: header needs name and one of contains, is, matches or exists`), null;
      const name = isScalar(value.get('name', true)) ? String((value.get('name', true) as { value: unknown }).value) : '';
      if (!HEADER_NAME.test(name)) fail(value, `${label}: header needs a name, e.g. name: X-Classification`);
      const rest = new Map(value.items.filter((p) => scalarKey(p) !== 'name').map((p) => [scalarKey(p), p] as const));
      if (rest.has('exists')) {
        const v = rest.get('exists')!.value;
        if (!isScalar(v) || v.value !== true) fail(v as Node, `${label}: header exists must be true`);
        return { kind: 'header', name: name.toLowerCase(), match: { kind: 'exists' } };
      }
      const match = matchFromPairs([...rest.values()], value, `${label}: header ${name}`, tools, false);
      return match ? { kind: 'header', name: name.toLowerCase(), match } : null;
    }
    case 'size': {
      if (!isMap(value)) return fail(value, `${label}: size needs over or under, e.g. size: { over: 10MB }`), null;
      const e = entries(value, ['over', 'under'], `${label}: size setting`, fail);
      const over = e.has('over') ? tools.size(e.get('over'), `${label}: size over`) : null;
      const under = e.has('under') ? tools.size(e.get('under'), `${label}: size under`) : null;
      if (over === null && under === null) fail(value, `${label}: size needs over or under`);
      return { kind: 'size', over, under };
    }
    case 'all':
    case 'any': {
      if (!isSeq(value) || value.items.length === 0) return fail(value, `${label}: ${key} needs a list of conditions`), null;
      const of = (value.items as Node[]).map((c) => parseCondition(c, label, tools));
      return of.every((c): c is Condition => c !== null) ? { kind: key, of } : null;
    }
    case 'not': {
      const of = parseCondition(value, label, tools);
      return of ? { kind: 'not', of } : null;
    }
    default:
      fail(pair.key as Node, `${label}: "${key}" is not a condition${suggest(key, CONDITION_KEYS)}; use one of ${CONDITION_KEYS.join(', ')}`);
      return null;
  }
}

function parseTextMatch(node: Node | undefined, what: string, tools: RuleTools, detectors: boolean): TextMatch | null {
  return matchFromPairs(isMap(node) ? node.items : null, node, what, tools, detectors);
}

/** One way to match, from the pairs of a mapping (a header condition's pairs other than name). */
function matchFromPairs(pairs: Pair[] | null, node: Node | undefined, what: string, tools: RuleTools, detectors: boolean): TextMatch | null {
  const { fail } = tools;
  const kinds = detectors ? ['contains', 'is', 'matches', 'detector'] : ['contains', 'is', 'matches'];
  if (pairs === null || pairs.length !== 1) {
    fail(node, `${what} needs exactly one of ${kinds.join(', ')}, e.g. { contains: "confidential" }`);
    return null;
  }
  const pair = pairs[0]!;
  const kind = scalarKey(pair);
  const value = pair.value as Node | undefined;
  if (!kinds.includes(kind)) {
    fail(pair.key as Node, `${what}: "${kind}" is not a way to match${suggest(kind, kinds)}; use ${kinds.join(', ')}`);
    return null;
  }
  if (kind === 'detector') {
    if (isScalar(value) && typeof value.value === 'string') return checkDetector(value.value, 1, value, what, fail);
    if (!isMap(value)) return fail(value, `${what}: detector needs a name (${DETECTOR_NAMES.join(', ')}), e.g. { detector: { name: card, min: 2 } }`), null;
    const e = entries(value, ['name', 'min'], `${what}: detector setting`, fail);
    const name = e.get('name');
    const min = e.get('min');
    const minValue = min === undefined ? 1 : isScalar(min) && Number.isInteger(min.value) && (min.value as number) >= 1 ? (min.value as number) : (fail(min, `${what}: detector min must be a whole number of at least 1`), 1);
    return checkDetector(isScalar(name) ? String(name.value) : '', minValue, name ?? value, what, fail);
  }
  if (!isScalar(value) || typeof value.value !== 'string' || value.value === '') {
    fail(value, `${what}: ${kind} needs a text`);
    return null;
  }
  if (kind === 'matches') {
    // Case-insensitive and Unicode-aware, like the other matchers; flags are not configurable.
    // Patterns that nest repetition are refused: they can backtrack for ever on a near-miss.
    const compiled = compilePattern(value.value, 'iu');
    if (!compiled.ok) {
      fail(value, `${what}: ${compiled.message}`);
      return null;
    }
    return { kind: 'matches', regex: compiled.regex };
  }
  return { kind: kind as 'contains' | 'is', value: value.value.toLowerCase() };
}

function checkDetector(name: string, min: number, node: Node, what: string, fail: Fail): TextMatch | null {
  if (!(DETECTOR_NAMES as readonly string[]).includes(name)) {
    fail(node, `${what}: unknown detector "${name}"${suggest(name, DETECTOR_NAMES)}; detectors are ${DETECTOR_NAMES.join(', ')}`);
    return null;
  }
  return { kind: 'detector', detector: name as DetectorName, min };
}

const ACTIONS = ['setHeader', 'encrypt'];

function parseAction(node: Node, label: string, tools: RuleTools): Action | null {
  const { fail, str } = tools;
  if (!isMap(node) || node.items.length !== 1) {
    fail(node, `each action of ${label} must be one of ${ACTIONS.join(', ')}`);
    return null;
  }
  const pair = node.items[0]!;
  const kind = scalarKey(pair);
  const value = pair.value as Node | undefined;
  if (kind === 'setHeader') {
    if (!isMap(value)) return fail(value, `${label}: setHeader needs name and value`), null;
    const e = entries(value, ['name', 'value'], `${label}: setHeader setting`, fail);
    const name = str(e.get('name'), `${label}: setHeader name`);
    const v = e.get('value');
    const text = isScalar(v) && v.value !== null ? String(v.value) : null;
    if (text === null) fail(v ?? value, `${label}: setHeader needs a value`);
    if (name && !HEADER_NAME.test(name)) fail(e.get('name'), `${label}: "${name}" is not a header name`);
    // The message's MIME structure is not for rules to change: it would no longer parse as sent.
    if (name && /^(content-|mime-version$)/i.test(name)) fail(e.get('name'), `${label}: setHeader cannot change ${name}, which describes the message's structure`);
    if (text !== null && /[\r\n]/.test(text)) fail(v, `${label}: a header value cannot contain a line break`);
    return name && text !== null ? { kind: 'setHeader', name, value: text } : null;
  }
  if (kind === 'encrypt') {
    if (!isMap(value)) return fail(value, `${label}: encrypt needs at least a profile, e.g. encrypt: { profile: Standard }`), null;
    const e = entries(value, ['deliver', 'profile', 'subject', 'tls'], `${label}: encrypt setting`, fail);
    const profile = e.has('profile') ? str(e.get('profile'), `${label}: encrypt profile`) : (fail(value, `${label}: encrypt needs a profile`), null);
    const deliver = e.has('deliver') ? (isScalar(e.get('deliver')) ? (e.get('deliver') as { value: unknown }).value : null) : 'now';
    if (deliver !== 'now' && deliver !== 'on-delivery') fail(e.get('deliver'), `${label}: encrypt deliver must be now ("Encrypt and Deliver Now", final) or on-delivery ("Encrypt on Delivery")`);
    const tls = e.has('tls') ? (isScalar(e.get('tls')) ? (e.get('tls') as { value: unknown }).value : null) : 'always';
    if (tls !== 'always' && tls !== 'try-first') fail(e.get('tls'), `${label}: encrypt tls must be always (always encrypt) or try-first (TLS if the destination allows, see destinations)`);
    const subject = e.has('subject') ? str(e.get('subject'), `${label}: encrypt subject`) : null;
    if (subject && /[\r\n]/.test(subject)) fail(e.get('subject'), `${label}: the subject cannot contain a line break`);
    if (!profile) return null;
    return { kind: 'encrypt', deliver: deliver === 'on-delivery' ? 'on-delivery' : 'now', profile, subject, tls: tls === 'try-first' ? 'try-first' : 'always' };
  }
  fail(pair.key as Node, `${label}: "${kind}" is not an action${suggest(kind, ACTIONS)}; actions are ${ACTIONS.join(', ')}`);
  return null;
}

/** The map's entries by key, with unknown keys reported (and a "did you mean"). */
function entries(map: YAMLMap, allowed: readonly string[], what: string, fail: Fail): Map<string, Node | undefined> {
  const out = new Map<string, Node | undefined>();
  for (const pair of map.items) {
    const key = scalarKey(pair);
    if (!allowed.includes(key)) {
      fail(pair.key as Node, `unknown ${what} "${key}"${suggest(key, allowed)}`);
      continue;
    }
    out.set(key, (pair.value ?? undefined) as Node | undefined);
  }
  return out;
}

function scalarKey(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

function suggest(word: string, options: readonly string[]): string {
  const best = nearestWord(word, options, Math.max(2, Math.floor(word.length / 3)));
  return best !== undefined ? ` (did you mean "${best}"?)` : '';
}
