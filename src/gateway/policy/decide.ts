import type { FilterDecision } from '../filter/process-message.ts';
import { evaluateRules } from './evaluate.ts';
import { applyHeaderChanges } from './header-edit.ts';
import type { Rule } from './policy-config.ts';
import { ruleMessageFromRaw } from './rule-message.ts';

/** The rules as the content filter uses them: what to encrypt, and the message with its header changes. */
export function createDecide(rules: readonly Rule[]) {
  return async (raw: Uint8Array, envelope: { sender: string; recipients: readonly string[] }): Promise<FilterDecision & { matched: string[] }> => {
    if (rules.length === 0) return { raw, encrypt: null, matched: [] };
    const result = evaluateRules(rules, await ruleMessageFromRaw(raw, envelope));
    return {
      raw: applyHeaderChanges(raw, result.headerChanges),
      encrypt: result.encrypt ? { profile: result.encrypt.profile, subject: result.encrypt.subject, tls: result.encrypt.tls } : null,
      matched: result.matched,
    };
  };
}
