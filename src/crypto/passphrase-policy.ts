import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * What a recipient may choose as a passphrase, after NIST SP 800-63B §3.1.1.2: a minimum length,
 * a generous maximum, no composition rules (they push people to "Password1!"), and a refusal of
 * passphrases that attackers try first — common or breached ones, and ones made of the person's
 * own address or name, which the attacker knows.
 */

export type PassphraseRefusal = 'too_short' | 'too_long' | 'common' | 'contains_identity';
export type PassphraseCheck = { ok: true } | { ok: false; reason: PassphraseRefusal };
export interface PassphraseContext {
  email?: string;
  name?: string;
}

export interface PassphrasePolicy {
  check(passphrase: string, context: PassphraseContext): PassphraseCheck;
}

/** Counted in Unicode code points after NFC, so "café" is 4 however it was typed. */
export const MIN_PASSPHRASE_LENGTH = 8;
/** Long enough for any passphrase a person types or a manager generates; bounds argon2's input. */
export const MAX_PASSPHRASE_LENGTH = 1024;

/** Pieces of a name or address shorter than this do not count on their own ("Li", "jo"). */
const MIN_IDENTITY_WORD = 3;

/**
 * Builds the common-passphrase set once; keep the instance (one per process, in the services).
 * The list is `passwords-common` from @zxcvbn-ts/language-common: ~49,000 passwords ranked by
 * frequency in public breach corpora. Only entries that could pass the length rules are kept,
 * since shorter ones are refused as too_short before the list is consulted.
 */
export function createPassphrasePolicy(): PassphrasePolicy {
  const common = new Set<string>();
  for (const entry of dictionary['passwords-common']) {
    const folded = fold(entry);
    const n = codePoints(folded);
    if (n >= MIN_PASSPHRASE_LENGTH && n <= MAX_PASSPHRASE_LENGTH) common.add(folded);
  }
  return { check: (passphrase, context) => evaluate(passphrase, context, common) };
}

/**
 * One-off check. It builds the list each call (a few milliseconds): long-lived code should hold a
 * policy from createPassphrasePolicy() instead.
 */
export function checkPassphrase(passphrase: string, context: PassphraseContext): PassphraseCheck {
  return createPassphrasePolicy().check(passphrase, context);
}

function evaluate(passphrase: string, context: PassphraseContext, common: ReadonlySet<string>): PassphraseCheck {
  const nfc = passphrase.normalize('NFC');
  const length = codePoints(nfc);
  if (length < MIN_PASSPHRASE_LENGTH) return { ok: false, reason: 'too_short' };
  if (length > MAX_PASSPHRASE_LENGTH) return { ok: false, reason: 'too_long' };
  const folded = fold(nfc);
  if (common.has(folded)) return { ok: false, reason: 'common' };
  if (builtFromIdentity(folded, identityPieces(context))) return { ok: false, reason: 'contains_identity' };
  return { ok: true };
}

function fold(s: string): string {
  return s.normalize('NFC').toLowerCase();
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

const NOT_ALNUM = /[^\p{L}\p{N}]+/gu;

/**
 * The words an attacker knows about this person: the email's local part (without a +tag) and
 * domain labels, the name, each whole and word by word, forwards and reversed.
 */
function identityPieces(context: PassphraseContext): Set<string> {
  const pieces = new Set<string>();
  const addPhrase = (phrase: string) => {
    const f = fold(phrase);
    const whole = f.replace(NOT_ALNUM, '');
    if (whole) pieces.add(whole);
    for (const word of f.split(NOT_ALNUM)) if (codePoints(word) >= MIN_IDENTITY_WORD) pieces.add(word);
  };
  const email = context.email?.trim() ?? '';
  if (email) {
    const at = email.lastIndexOf('@');
    const local = (at >= 0 ? email.slice(0, at) : email).split('+')[0]!;
    addPhrase(local);
    if (at >= 0) {
      addPhrase(email);
      for (const label of email.slice(at + 1).split('.')) if (codePoints(label) >= MIN_IDENTITY_WORD) pieces.add(fold(label));
    }
  }
  if (context.name?.trim()) addPhrase(context.name);
  for (const p of [...pieces]) pieces.add([...p].reverse().join(''));
  return pieces;
}

// Common look-alike substitutions ("4l1c3" for "alice").
const LEET: Readonly<Record<string, string>> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', $: 's', '!': 'i' };
const deleet = (s: string) => s.replace(/[013457@$!]/g, (c) => LEET[c]!);

/**
 * True when, ignoring case, punctuation, spaces and digits, the passphrase is nothing but
 * identity pieces, possibly repeated or combined ("Alice.Smith1990", "smithalice!", "4l1c3alice").
 * A passphrase that merely mentions the name among other words ("alice walks the old harbour")
 * is not refused: it is not guessable from the name alone.
 */
function builtFromIdentity(folded: string, pieces: ReadonlySet<string>): boolean {
  if (pieces.size === 0) return false;
  const plain = folded.replace(NOT_ALNUM, '');
  const candidates = [
    plain,
    // Look-alikes, with and without a trailing number ("4lic3" and "4lic32024").
    deleet(folded).replace(NOT_ALNUM, ''),
    deleet(folded.replace(/\p{Nd}+[^\p{L}\p{N}]*$/u, '')).replace(NOT_ALNUM, ''),
  ];
  return candidates.some((c) => segments(c, pieces));
}

/** Whether `s` splits into one or more pieces, digits allowed between and around them. */
function segments(s: string, pieces: ReadonlySet<string>): boolean {
  const chars = [...s];
  const lengths = [...new Set([...pieces].map((p) => [...p].length))];
  // reach[i]: chars[0, i) is covered; used[i]: with at least one piece.
  const reach = new Array<boolean>(chars.length + 1).fill(false);
  const used = new Array<boolean>(chars.length + 1).fill(false);
  reach[0] = true;
  for (let i = 0; i < chars.length; i++) {
    if (!reach[i]) continue;
    if (/\p{Nd}/u.test(chars[i]!)) {
      reach[i + 1] = true;
      used[i + 1] ||= used[i]!;
    }
    for (const len of lengths) {
      if (i + len <= chars.length && pieces.has(chars.slice(i, i + len).join(''))) {
        reach[i + len] = true;
        used[i + len] = true;
      }
    }
  }
  return reach[chars.length]! && used[chars.length]!;
}
