/**
 * Named detectors for content rules: how many distinct numbers of a kind a text holds. Each
 * pattern is linear (no nested quantifiers), and callers bound the text they pass.
 */
export type DetectorName = 'aba' | 'card' | 'ssn';
export const DETECTOR_NAMES: readonly DetectorName[] = ['aba', 'card', 'ssn'];

/** ABA routing numbers: 9 digits, a Federal Reserve prefix, and the 3-7-1 checksum. */
function abaNumbers(text: string): Set<string> {
  const found = new Set<string>();
  for (const m of text.matchAll(/(?<![\d-])\d{9}(?![\d-])/g)) {
    const d = m[0].split('').map(Number);
    const prefix = d[0]! * 10 + d[1]!;
    // 00-12 banks, 21-32 thrift institutions, 61-72 electronic, 80 traveller's cheques
    if (!((prefix >= 0 && prefix <= 12) || (prefix >= 21 && prefix <= 32) || (prefix >= 61 && prefix <= 72) || prefix === 80)) continue;
    if (/^0+$/.test(m[0])) continue;
    const sum = 3 * (d[0]! + d[3]! + d[6]!) + 7 * (d[1]! + d[4]! + d[7]!) + (d[2]! + d[5]! + d[8]!);
    if (sum % 10 === 0) found.add(m[0]);
  }
  return found;
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let n = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      n *= 2;
      if (n > 9) n -= 9;
    }
    sum += n;
  }
  return sum % 10 === 0;
}

// Issuer prefixes and lengths of the card networks in use (ISO/IEC 7812 IIN ranges).
function knownIssuer(d: string): boolean {
  const n = d.length;
  const p2 = Number(d.slice(0, 2));
  const p3 = Number(d.slice(0, 3));
  const p4 = Number(d.slice(0, 4));
  if (d[0] === '4') return n === 13 || n === 16 || n === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return n === 15; // American Express
  if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649)) return n >= 16 && n <= 19; // Discover
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19; // JCB
  if (p2 === 36 || p2 === 38 || p2 === 39 || (p3 >= 300 && p3 <= 305)) return n >= 14 && n <= 19; // Diners Club
  if (p2 === 62) return n >= 16 && n <= 19; // UnionPay
  return false;
}

/** Payment card numbers: 13-19 digits, single spaces or dashes allowed between them, Luhn-valid. */
function cardNumbers(text: string): Set<string> {
  const found = new Set<string>();
  for (const m of text.matchAll(/(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g)) {
    const digits = m[0].replace(/[ -]/g, '');
    if (knownIssuer(digits) && luhnValid(digits)) found.add(digits);
  }
  return found;
}

/** US social security numbers written AAA-GG-SSSS (or with spaces), with the SSA's invalid ranges excluded. */
function ssnNumbers(text: string): Set<string> {
  const found = new Set<string>();
  for (const m of text.matchAll(/(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])/g)) {
    const area = Number(m[1]);
    if (area === 0 || area === 666 || area >= 900) continue;
    if (m[3] === '00' || m[4] === '0000') continue;
    found.add(`${m[1]}${m[3]}${m[4]}`);
  }
  return found;
}

export function countDetected(name: DetectorName, text: string): number {
  switch (name) {
    case 'aba':
      return abaNumbers(text).size;
    case 'card':
      return cardNumbers(text).size;
    case 'ssn':
      return ssnNumbers(text).size;
  }
}
