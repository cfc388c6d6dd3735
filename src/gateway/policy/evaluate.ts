import { countDetected } from './detectors.ts';
import type { Condition, Rule, TextMatch } from './policy-config.ts';
import type { RuleMessage } from './rule-message.ts';

export interface HeaderChange {
  name: string;
  value: string;
}

export interface Evaluation {
  /** names of the rules whose conditions held, in order */
  matched: string[];
  headerChanges: HeaderChange[];
  encrypt: { rule: string; profile: string; subject: string | null; tls: 'always' | 'try-first' } | null;
}

/**
 * Runs the rules in order, as content filters do. A rule whose condition holds applies its
 * actions in order: setHeader adds or changes a header; "Encrypt and Deliver Now" (deliver: now)
 * is final, no later rule runs; "Encrypt on Delivery" lets later rules run, and the message is
 * encrypted at the end with the last such rule's profile and subject (a later one overrides an
 * earlier one, as a later filter's action would). Conditions read the message as it arrived.
 */
export function evaluateRules(rules: readonly Rule[], message: RuleMessage): Evaluation {
  const result: Evaluation = { matched: [], headerChanges: [], encrypt: null };
  const scans: Scans = { lower: new Map(), detected: new Map() };
  for (const rule of rules) {
    if (!holds(rule.when, message, scans)) continue;
    result.matched.push(rule.name);
    for (const action of rule.then) {
      if (action.kind === 'setHeader') result.headerChanges.push({ name: action.name, value: action.value });
      else {
        const subject = action.subject === null ? null : action.subject.split('$Subject').join(message.subject);
        result.encrypt = { rule: rule.name, profile: action.profile, subject, tls: action.tls };
        if (action.deliver === 'now') return result;
      }
    }
  }
  return result;
}

/**
 * What one message's conditions already worked out. Rule sets repeat themselves (the same
 * detector in several rules, "contains" on the same body), and each repeat would read the whole
 * body again: up to MAX_SCANNED_TEXT per condition.
 */
interface Scans {
  lower: Map<string, string>;
  detected: Map<string, Map<string, number>>;
}

function holds(c: Condition, m: RuleMessage, scans: Scans): boolean {
  switch (c.kind) {
    case 'always':
      return true;
    case 'all':
      return c.of.every((x) => holds(x, m, scans));
    case 'any':
      return c.of.some((x) => holds(x, m, scans));
    case 'not':
      return !holds(c.of, m, scans);
    case 'size':
      return (c.over === null || m.size > c.over) && (c.under === null || m.size < c.under);
    case 'header': {
      const values = m.headers.filter((h) => h.name === c.name).map((h) => h.value);
      if (c.match.kind === 'exists') return values.length > 0;
      const match = c.match;
      return values.some((v) => textMatches(match, v, scans));
    }
    case 'text':
      return valuesOf(c.field, m).some((v) => textMatches(c.match, v, scans));
  }
}

function valuesOf(field: Extract<Condition, { kind: 'text' }>['field'], m: RuleMessage): string[] {
  switch (field) {
    case 'subject':
      return [m.subject];
    case 'body':
      return [m.body];
    case 'sender':
      return [m.sender];
    case 'recipient':
      return m.recipients;
    case 'recipientDomain':
      return m.recipients.map((r) => r.slice(r.lastIndexOf('@') + 1));
    case 'attachmentName':
      return m.attachments.map((a) => a.name);
    case 'attachmentType':
      return m.attachments.map((a) => a.type);
  }
}

function textMatches(match: TextMatch, value: string, scans: Scans): boolean {
  switch (match.kind) {
    case 'contains':
      return lowerCase(value, scans).includes(match.value);
    case 'is':
      return lowerCase(value, scans) === match.value;
    case 'matches':
      return match.regex.test(value);
    case 'detector': {
      // Keyed by the detector and the text itself: V8 keeps a string's hash once computed, so
      // looking up a long body again costs little.
      let byText = scans.detected.get(match.detector);
      if (!byText) scans.detected.set(match.detector, (byText = new Map()));
      let count = byText.get(value);
      if (count === undefined) byText.set(value, (count = countDetected(match.detector, value)));
      return count >= match.min;
    }
  }
}

function lowerCase(value: string, scans: Scans): string {
  let lower = scans.lower.get(value);
  if (lower === undefined) scans.lower.set(value, (lower = value.toLowerCase()));
  return lower;
}
