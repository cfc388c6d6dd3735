import Handlebars from 'handlebars';
import { nearestWord } from '../text/nearest-word.ts';
import type { Config, DOMPurify, RemovedAttribute, RemovedElement } from 'dompurify';

/**
 * Checks a profile template before it is saved: it must parse, name only the data and helpers
 * its renderer provides, and (HTML) carry nothing a mail sanitiser would remove. Every problem
 * is a sentence for the administrator, placed at its line (and column) where known.
 */
export type TemplateKind = 'html' | 'text' | 'failure' | 'subject' | 'failureSubject';
/** line and column are 1-based; null when not known. */
export interface TemplateProblem { line: number | null; column: number | null; message: string }

// The data each renderer passes: buildNotification, renderFailureText, renderSubject.
const NOTIFICATION = Object.freeze(['lang', 'sender', 'recipients', 'subject', 'keyServiceUrl', 'keyServiceHost', 'securityLevel', 'securityLevelText', 'expiresAt', 'expiresAtText', 'fileName']);
const SUBJECT = Object.freeze(['subject']);
export const TEMPLATE_VARIABLES: Readonly<Record<TemplateKind, readonly string[]>> = Object.freeze({
  html: NOTIFICATION, text: NOTIFICATION, failure: Object.freeze(['subject', 'recipients', 'reason', 'detail', 'firstSeen']), subject: SUBJECT, failureSubject: SUBJECT,
});

// Subjects render on a bare Handlebars.create() (renderSubject): only the built-ins exist there.
const BUILT_INS = ['if', 'unless', 'each', 'with'];
const WITH_OURS = ['t', 'formatDate', 'join', ...BUILT_INS];
const HELPERS: Record<TemplateKind, readonly string[]> = { html: WITH_OURS, text: WITH_OURS, failure: WITH_OURS, subject: BUILT_INS, failureSubject: BUILT_INS };
const DATA_VARIABLES = ['index', 'key', 'first', 'last'];
// The profile schema's limits (profile-settings.ts).
const MAX_LENGTH: Record<TemplateKind, number> = { html: 100_000, text: 100_000, failure: 100_000, subject: 500, failureSubject: 500 };

// Stands for every Handlebars output in the markup the sanitiser sees: a private-use character,
// so it is text in content, a value in attributes, and marks a URL whose scheme comes from data.
const OUTPUT = '\uE000';
const IMAGE_SOURCE = /^(https?:|cid:|data:image\/|\uE000|$)/i;
const URL_ATTRIBUTE = /^(href|src|action|formaction|background|xlink:href)$/;
// Whole-document parsing may drop these; none of them can carry active content.
const DOCUMENT_PARTS = new Set(['html', 'head', 'body', 'title', '#document-type']);
const MAIL_POLICY: Config = {
  USE_PROFILES: { html: true }, // no SVG or MathML: mail needs neither, and most bypasses live there
  WHOLE_DOCUMENT: true,
  ALLOW_DATA_ATTR: false,
  FORBID_TAGS: ['script', 'noscript', 'template', 'form', 'input', 'button', 'textarea', 'select', 'option', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'link', 'base'],
  FORBID_ATTR: ['srcdoc', 'action', 'formaction'],
};

/** Every problem found, in source order; [] means the template may be saved. */
export async function checkTemplate(kind: TemplateKind, source: string): Promise<TemplateProblem[]> {
  // Nothing else is checked on an oversized template, so refusing it costs nothing.
  if (source.length > MAX_LENGTH[kind]) {
    return [{ line: null, column: null, message: `the template has ${source.length} characters; at most ${MAX_LENGTH[kind]} are allowed` }];
  }
  let ast: hbs.AST.Program;
  try {
    ast = Handlebars.parse(source);
  } catch (error) {
    return [parseProblem(error)];
  }
  const { problems, markup } = checkNames(kind, ast);
  if (kind === 'html') problems.push(...(await checkHtml(source, markup)));
  const order = (p: TemplateProblem) => (p.line ?? Number.MAX_SAFE_INTEGER) * 1e6 + (p.column ?? 0);
  return problems.sort((a, b) => order(a) - order(b));
}

/** Handlebars says "Parse error on line N:\n<excerpt>\n---^\nExpecting …, got 'X'"; this keeps line, excerpt and X. */
function parseProblem(error: unknown): TemplateProblem {
  const e = error as { message?: unknown; lineNumber?: number; column?: number };
  const lines = String(e.message ?? error).split('\n');
  const line = e.lineNumber ?? (Number(/on line (\d+)/.exec(lines[0] ?? '')?.[1]) || null);
  const column = e.lineNumber !== undefined && e.column !== undefined ? e.column + 1 : null;
  const mismatch = /^(\S+) doesn't match (\S+)/.exec(lines[0] ?? '');
  if (mismatch) return { line, column, message: `{{#${mismatch[1]}}} is closed by {{/${mismatch[2]}}}; blocks close in the reverse order they open` };
  const got = /got '(\w+)'/.exec(lines.at(-1) ?? '')?.[1];
  const what = got === 'EOF' ? 'the template ends inside an unclosed block or mustache' : got ? `unexpected ${TOKENS[got] ?? got}` : (lines[0] ?? '').replace(/ - \d+:\d+$/, '');
  const near = /^(Parse|Lexical) error/.test(lines[0] ?? '') && lines[1] ? ` near "${lines[1].trim()}"` : '';
  return { line, column, message: `this is not valid Handlebars${near}: ${what}` };
}
const TOKENS: Record<string, string> = { CLOSE: '}}', CLOSE_UNESCAPED: '}}}', CLOSE_RAW_BLOCK: '}}}}', INVALID: 'text that is not a name, string or number', OPEN: '{{' };

/** Walks the AST: names must be known; the markup is the content as written, each output as OUTPUT. */
function checkNames(kind: TemplateKind, ast: hbs.AST.Program): { problems: TemplateProblem[]; markup: string } {
  const problems: TemplateProblem[] = [];
  let markup = '';
  const variables = TEMPLATE_VARIABLES[kind];
  const helpers = HELPERS[kind];
  const at = (node: hbs.AST.Node, message: string) => problems.push({ line: node.loc.start.line, column: node.loc.start.column + 1, message });
  const unknown = (node: hbs.AST.PathExpression, what: string, name: string, known: readonly string[]) => {
    const near = nearestWord(name, known, 2);
    at(node, `{{${node.original}}} is not a known ${what}${near ? ` (did you mean ${near}?)` : ''}; known: ${known.join(', ')}`);
  };

  // A path's head must be a known variable, a block parameter, or @index/@key/@first/@last/@root.x;
  // `this`, `this.x` and `../x` are judged by their head like any path.
  const path = (p: hbs.AST.PathExpression, locals: ReadonlySet<string>) => {
    const [head, next] = p.parts;
    if (p.data && head !== 'root') {
      if (p.parts.length !== 1 || !DATA_VARIABLES.includes(head ?? '')) unknown(p, 'data variable', head ?? '', DATA_VARIABLES.map((d) => `@${d}`));
    } else {
      const name = p.data ? next : head;
      if (name !== undefined && !variables.includes(name) && !locals.has(name)) unknown(p, 'variable', name, variables);
    }
  };
  const expression = (e: hbs.AST.Expression, locals: ReadonlySet<string>) => {
    if (e.type === 'PathExpression') path(e as hbs.AST.PathExpression, locals);
    else if (e.type === 'SubExpression') call(e as hbs.AST.SubExpression, locals, true);
  };
  // With params or hash (or in a subexpression) the name is a helper; alone it is a helper or a variable.
  const call = (node: hbs.AST.MustacheStatement | hbs.AST.BlockStatement | hbs.AST.SubExpression, locals: ReadonlySet<string>, isCall: boolean) => {
    const pairs = node.hash?.pairs ?? [];
    if (node.path.type === 'PathExpression') {
      const name = node.path as hbs.AST.PathExpression;
      if (isCall || node.params.length > 0 || pairs.length > 0) {
        if (!helpers.includes(name.original)) unknown(name, 'helper', name.original, helpers);
      } else if (!helpers.includes(name.original)) path(name, locals);
    }
    for (const param of node.params) expression(param, locals);
    for (const pair of pairs) expression(pair.value, locals);
  };
  const program = (p: hbs.AST.Program, locals: ReadonlySet<string>) => {
    for (const s of p.body) statement(s, locals);
  };
  const statement = (s: hbs.AST.Statement, locals: ReadonlySet<string>) => {
    if (s.type === 'ContentStatement') markup += (s as unknown as { original: string }).original;
    else if (s.type === 'MustacheStatement') {
      const m = s as hbs.AST.MustacheStatement;
      markup += OUTPUT;
      if (!m.escaped && kind === 'html') {
        const name = String((m.path as { original?: unknown }).original);
        at(m, `{{{${name}}}} writes its value without HTML escaping, which would let a subject or sender address inject HTML; use {{${name}}}`);
      }
      call(m, locals, false);
    } else if (s.type === 'BlockStatement') {
      const b = s as hbs.AST.BlockStatement;
      call(b, locals, false);
      program(b.program, b.program.blockParams?.length ? new Set([...locals, ...b.program.blockParams]) : locals);
      if (b.inverse) program(b.inverse, locals);
    } else if (s.type === 'PartialStatement' || s.type === 'PartialBlockStatement') {
      markup += OUTPUT;
      at(s, 'partials ({{> …}}) are not available in profile templates');
    } else if (s.type === 'Decorator' || s.type === 'DecoratorBlock') {
      at(s, 'decorators ({{* …}}) are not allowed in profile templates');
    } // CommentStatement: neither output nor names
  };
  program(ast, new Set());
  return { problems, markup };
}

/** What DOMPurify, under the mail policy, would remove from the markup; each removal is a problem. */
async function checkHtml(source: string, markup: string): Promise<TemplateProblem[]> {
  const [{ JSDOM }, { default: createDOMPurify }] = await Promise.all([import('jsdom'), import('dompurify')]);
  const { window } = new JSDOM('');
  try {
    const purify = createDOMPurify(window as unknown as Window & typeof globalThis) as DOMPurify;
    purify.addHook('uponSanitizeAttribute', (node, event) => {
      if (node.nodeName === 'IMG' && event.attrName === 'src' && !IMAGE_SOURCE.test(event.attrValue)) event.keepAttr = false;
    });
    purify.sanitize(markup, MAIL_POLICY);
    const locate = locator(source);
    return purify.removed.flatMap((removed) => {
      const found = describe(removed);
      return found ? [{ ...locate(found.needles), message: found.message }] : [];
    });
  } finally {
    window.close();
  }
}

function describe(removed: RemovedElement | RemovedAttribute): { message: string; needles: RegExp[] } | null {
  if ('element' in removed) {
    const node = removed.element;
    const name = node.nodeName.toLowerCase();
    if (DOCUMENT_PARTS.has(name) || node.nodeType === 10) return null;
    if (name === 'meta') {
      // <meta charset>, <meta name=viewport> are harmless; http-equiv can refresh or redirect.
      return (node as Element).hasAttribute('http-equiv') ? { message: 'the HTML has <meta http-equiv>, which mail must not carry', needles: [/<meta[^>]*http-equiv/] } : null;
    }
    if (name === '#comment') return { message: 'the HTML has a comment holding markup (such as an Outlook conditional comment), which the sanitiser removes', needles: [/<!--/] };
    return { message: `the HTML has <${name}>, which mail must not carry`, needles: [new RegExp(`<${escapeRegExp(name)}(?![\\w-])`)] };
  }
  const attribute = removed.attribute;
  const on = removed.from.nodeName.toLowerCase();
  if (!attribute) return { message: `an attribute on <${on}> is not allowed`, needles: [new RegExp(`<${escapeRegExp(on)}(?![\\w-])`)] };
  if (attribute.name.includes(OUTPUT)) return null; // a mustache in attribute-name position
  const byName = new RegExp(`(?<![\\w-])${escapeRegExp(attribute.name)}(?![\\w-])`);
  if (!URL_ATTRIBUTE.test(attribute.name)) return { message: `the attribute ${attribute.name} on <${on}> is not allowed`, needles: [byName] };
  const value = attribute.value.length > 60 ? `${attribute.value.slice(0, 60)}…` : attribute.value;
  const literal = attribute.value.includes(OUTPUT) ? [] : [new RegExp(escapeRegExp(attribute.value))];
  return { message: `the attribute ${attribute.name}="${value}" on <${on}> is not allowed`, needles: [...literal, byName] };
}

/** Finds needles in the source; a needle found again resumes after its last hit, so repeats get their own lines. */
function locator(source: string): (needles: RegExp[]) => { line: number | null; column: number | null } {
  const resume = new Map<string, number>();
  return (needles) => {
    for (const needle of needles) {
      const re = new RegExp(needle.source, 'gi');
      re.lastIndex = resume.get(needle.source) ?? 0;
      const hit = re.exec(source);
      if (!hit) continue;
      resume.set(needle.source, hit.index + 1);
      const before = source.slice(0, hit.index);
      return { line: before.split('\n').length, column: hit.index - before.lastIndexOf('\n') };
    }
    return { line: null, column: null };
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
