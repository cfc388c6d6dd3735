/**
 * Regular expressions written by administrators in `matches` conditions. They run over every
 * outgoing message, so a pattern is checked when the configuration is read: it must compile,
 * use only flags that make sense for a yes/no test, and not nest repetition — `(a+)+` and its
 * kin backtrack exponentially on a near-miss, and JavaScript has no way to stop a running
 * match. What remains is at worst polynomial, and the text it reads is bounded (rule-message.ts).
 */

/** i: ignore case, m: ^ and $ at line breaks, s: dot matches line breaks, u: Unicode. */
export const SUPPORTED_FLAGS = ['i', 'm', 's', 'u'] as const;

const FLAG_REASONS: Readonly<Record<string, string>> = {
  g: 'rules test a value once, and g would make each test start where the previous one ended',
  y: 'rules test a value once, and y would make each test start where the previous one ended',
  d: 'match positions are never used',
  v: 'use u instead',
};

export type PatternResult = { ok: true; regex: RegExp } | { ok: false; message: string };

export function compilePattern(source: string, flags: string): PatternResult {
  const seen = new Set<string>();
  for (const flag of flags) {
    if (!(SUPPORTED_FLAGS as readonly string[]).includes(flag)) {
      const why = FLAG_REASONS[flag];
      return {
        ok: false,
        message: `the regular expression flag "${flag}" is not supported${why ? ` (${why})` : ''}; the flags are ${SUPPORTED_FLAGS.join(', ')}`,
      };
    }
    if (seen.has(flag)) return { ok: false, message: `the regular expression flag "${flag}" is given twice` };
    seen.add(flag);
  }
  let regex: RegExp;
  try {
    regex = new RegExp(source, flags);
  } catch (err) {
    const detail = (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
    return { ok: false, message: `"${source}" is not a valid regular expression: ${detail}` };
  }
  const nested = findNestedRepetition(source);
  if (nested !== null) {
    return {
      ok: false,
      message:
        `"${source}" repeats a group that itself repeats ("${nested}"), which can take exponential time on a message ` +
        'that almost matches; repeat only once, e.g. "(ab)+" or "a+" instead of "(a+)+"',
    };
  }
  return { ok: true, regex };
}

interface Group {
  start: number;
  /** The group contains something repeated an unbounded or variable number of times. */
  repeats: boolean;
}

/**
 * The first group that repeats and contains repetition, as written, or null. A scan of the
 * pattern's structure (escapes, classes, groups, quantifiers), not a full parser: enough to see
 * nesting, which is what makes backtracking explode.
 */
export function findNestedRepetition(source: string): string | null {
  const stack: Group[] = [{ start: 0, repeats: false }];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '\\') {
      i += 2;
      i = skipQuantifier(source, i, stack);
      continue;
    }
    if (c === '[') {
      i = skipClass(source, i);
      i = skipQuantifier(source, i, stack);
      continue;
    }
    if (c === '(') {
      stack.push({ start: i, repeats: false });
      i++;
      continue;
    }
    if (c === ')') {
      const group = stack.length > 1 ? stack.pop()! : { start: 0, repeats: false };
      const end = i + 1;
      const q = readQuantifier(source, end);
      const top = stack[stack.length - 1]!;
      if (q !== null && q.repeats && group.repeats) return source.slice(group.start, q.end);
      if (group.repeats || (q !== null && q.repeats)) top.repeats = true;
      i = q === null ? end : q.end;
      continue;
    }
    i++;
    i = skipQuantifier(source, i, stack);
  }
  return null;
}

/** After an atom ending at `i`: consumes its quantifier, marking the enclosing group. */
function skipQuantifier(source: string, i: number, stack: Group[]): number {
  const q = readQuantifier(source, i);
  if (q === null) return i;
  if (q.repeats) stack[stack.length - 1]!.repeats = true;
  return q.end;
}

function readQuantifier(source: string, i: number): { end: number; repeats: boolean } | null {
  const c = source[i];
  let end: number;
  let repeats: boolean;
  if (c === '*' || c === '+') {
    end = i + 1;
    repeats = true;
  } else if (c === '?') {
    end = i + 1;
    repeats = false;
  } else if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i, i + 24));
    if (!m) return null;
    end = i + m[0].length;
    // {n} is a fixed count; {n,} and {n,m} with m > n leave the engine choices to backtrack over.
    repeats = m[2] !== undefined && (m[3] === '' || Number(m[3]) > Number(m[1]));
  } else {
    return null;
  }
  if (source[end] === '?') end++; // lazy
  return { end, repeats };
}

function skipClass(source: string, i: number): number {
  let j = i + 1;
  if (source[j] === '^') j++;
  while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
  return j + 1;
}
