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
  for (const rule of rules) {
    if (!holds(rule.when, message)) continue;
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

export function holds(c: Condition, m: RuleMessage): boolean {
  switch (c.kind) {
    case 'always':
      return true;
    case 'all':
      return c.of.every((x) => holds(x, m));
    case 'any':
      return c.of.some((x) => holds(x, m));
    case 'not':
      return !holds(c.of, m);
    case 'size':
      return (c.over === null || m.size > c.over) && (c.under === null || m.size < c.under);
    case 'header': {
      const values = m.headers.filter((h) => h.name === c.name).map((h) => h.value);
      if (c.match.kind === 'exists') return values.length > 0;
      const match = c.match;
      return values.some((v) => textMatches(match, v));
    }
    case 'text':
      return valuesOf(c.field, m).some((v) => textMatches(c.match, v));
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

function textMatches(match: TextMatch, value: string): boolean {
  switch (match.kind) {
    case 'contains':
      return value.toLowerCase().includes(match.value);
    case 'is':
      return value.toLowerCase() === match.value;
    case 'matches':
      return match.regex.test(value);
    case 'detector':
      return countDetected(match.detector, value) >= match.min;
  }
}
