// The TextMate grammar (grammar/lmp.tmLanguage.json), generated so that it cannot drift from
// the compiler: token patterns from the lexer (grammar/lexer.ts tokenPatterns), declaration
// kinds and their clauses and modifiers from the clause table (grammar/clauses.ts), built-ins by
// category from the registry, following each clause's semantics (a `mask` clause scopes mask
// primitives, a `policy` samplers, `position` encodings and, through rope's `scale:`, RoPE
// scalings). `npm run gen:spec` (with the spec files) rewrites it; compiler/lsp/tmlanguage.test.ts
// fails when the committed file differs from what this produces.
//
// Scopes: keyword.declaration (declaration kinds), entity.name.type.declaration (their names),
// keyword.other.from / entity.other.inherited-class, keyword.other.clause, keyword.other.modifier,
// support.function.CATEGORY (built-ins), variable.parameter (named arguments), constant.numeric
// with keyword.other.unit on the suffix, string.quoted.double with constant.character.escape,
// comment.line / comment.block, keyword.operator.mask (& | !), .chain (->), .comparison, .range,
// .word.then, constant.language.boolean, punctuation.*.
import { DECL_KINDS, type DeclKind } from '../../grammar/ast.js';
import { DECL_SPECS } from '../../grammar/clauses.js';
import { tokenPatterns } from '../../grammar/lexer.js';
import { BUILTINS, CLAUSE_SEMANTICS, VALUE_FORM_SEMANTICS, type Category, type ValueType } from '../registry/index.js';

export const SCOPE = 'source.lmp';
export const GRAMMAR_FILE = 'grammar/lmp.tmLanguage.json';

type Rule = Record<string, unknown>;
/** The repository key (`#...`) of an expression that scopes the built-ins of these categories first. */
type Expr = (cats: readonly Category[]) => string;

const NUMBER_SUFFIX = '(?:[A-Za-z_][A-Za-z0-9_]*|%)?';
const NAME = '[A-Za-z_][A-Za-z0-9_]*';
/** A keyword is a word on its own: not a member (`a.mask`), a call, a named argument or a longer word. */
const words = (ws: readonly string[]): string => ws.map((w) => w.split(' ').join('\\s+')).join('|');
const word = (ws: readonly string[]): string => `(?<![\\w.])(${words(ws)})(?![\\w])(?!\\s*[:(.])`;
const alt = (xs: readonly string[]): string => xs.map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');

function pattern(name: string): RegExp {
  const p = tokenPatterns().find((t) => t.name === name);
  if (!p) throw new Error(`tmlanguage: the lexer has no token ${name}`);
  return p.pattern;
}

/** The built-in categories reachable from a type, through built-in parameters (rope's scale: → rope_scale). */
function categories(t: ValueType | undefined, out: Category[] = []): Category[] {
  if (t === undefined) return out;
  const add = (c: Category): void => {
    if (out.includes(c)) return;
    out.push(c);
    for (const b of BUILTINS) if (b.category === c) for (const p of b.params) categories(p.type, out);
  };
  switch (t.t) {
    case 'call':
      add(t.category);
      break;
    case 'mask':
      add('mask');
      break;
    case 'chain':
    case 'then':
    case 'list':
    case 'range':
      categories(t.of, out);
      break;
    case 'union':
    case 'tuple':
      t.of.forEach((x) => categories(x, out));
      break;
    case 'map':
      categories(t.value, out);
      break;
    case 'record':
      Object.values(t.fields).forEach((x) => categories(x, out));
      break;
    case 'compare':
      categories(t.left, out);
      categories(t.right, out);
      break;
    default:
      break;
  }
  return out;
}

/** Whether a bare name here may be a declaration rather than a built-in (`tokenizer bytes` in data). */
function takesRef(t: ValueType | undefined): boolean {
  if (t === undefined) return false;
  if (t.t === 'ref' || t.t === 'dataset' || t.t === 'knob' || t.t === 'metric_ref') return true;
  if (t.t === 'union') return t.of.some(takesRef);
  if (t.t === 'chain' || t.t === 'then' || t.t === 'list') return takesRef(t.of);
  return false;
}

/** Patterns scoping the built-ins of `cats` (first category wins a shared name). */
function builtinPatterns(cats: readonly Category[], bare: boolean): Rule[] {
  const seen = new Set<string>();
  const out: Rule[] = [];
  for (const c of cats) {
    const names = BUILTINS.filter((b) => b.category === c && !seen.has(b.name)).map((b) => b.name);
    names.forEach((n) => seen.add(n));
    if (names.length === 0) continue;
    // A call, or (where no declaration may stand, so the checker reads any such name as the built-in) a bare name.
    out.push({ match: `(?<![\\w.])(${alt(names)})(?=\\s*\\()`, captures: { 1: { name: `support.function.${c}.lmp` } } });
    if (bare) out.push({ match: `(?<![\\w.])(${alt(names)})(?![\\w])(?!\\s*[:(.])`, captures: { 1: { name: `support.function.${c}.lmp` } } });
  }
  return out;
}

function clauseRules(kind: DeclKind, expr: Expr): Rule[] {
  const spec = DECL_SPECS[kind];
  const allWords = spec.clauses.map((c) => c.words.join(' '));
  return spec.clauses.map((c) => {
    const kw = c.words.join(' ');
    // The parser ends a clause where the next clause keyword starts (`mask causal  position alibi()`),
    // unless the word is one of this clause's modifiers (`holdout 2% seed 7`).
    const mods = c.modifiers.map((m) => m.words.join(' '));
    const nextClause = `(?<=\\s)(?=(?:${words(allWords.filter((w) => !mods.includes(w)))})(?![\\w])(?!\\s*[:(.]))`;
    const sem = CLAUSE_SEMANTICS[kind][kw];
    const types = [sem?.arg, sem?.body, ...Object.values(sem?.modifiers ?? {}).map((m) => m ?? undefined)];
    const cats: Category[] = [];
    types.forEach((t) => categories(t, cats));
    const patterns: Rule[] = [{ include: '#comments' }];
    if (mods.length) patterns.push({ match: word(mods), captures: { 1: { name: 'keyword.other.modifier.lmp' } } });
    patterns.push(...builtinPatterns(cats, !types.some(takesRef)), { include: expr(cats) });
    return {
      name: `meta.clause.${kind}.${kw.replace(' ', '-')}.lmp`,
      begin: word([kw]),
      beginCaptures: { 1: { name: 'keyword.other.clause.lmp' } },
      end: `(?=[;}])|$|${nextClause}`,
      patterns,
    };
  });
}

function declRules(kind: DeclKind, expr: Expr): Rule[] {
  const head = `(?<![\\w.])(${kind})\\s+(${NAME})(?:\\s+(from)\\s+(${NAME}))?\\s*`;
  const headCaptures = {
    1: { name: 'keyword.declaration.lmp' },
    2: { name: 'entity.name.type.declaration.lmp' },
    3: { name: 'keyword.other.from.lmp' },
    4: { name: 'entity.other.inherited-class.lmp' },
  };
  const rules: Rule[] = [
    {
      name: `meta.declaration.${kind}.lmp`,
      begin: `${head}(\\{)`,
      beginCaptures: { ...headCaptures, 5: { name: 'punctuation.section.block.begin.lmp' } },
      end: '\\}',
      endCaptures: { 0: { name: 'punctuation.section.block.end.lmp' } },
      patterns: [{ include: '#comments' }, ...clauseRules(kind, expr), { include: expr([]) }],
    },
  ];
  const vf = VALUE_FORM_SEMANTICS[kind];
  if (vf) {
    rules.push({
      name: `meta.declaration.${kind}.lmp`,
      begin: `${head}(=)`,
      beginCaptures: { ...headCaptures, 5: { name: 'keyword.operator.assignment.lmp' } },
      end: '$',
      patterns: [{ include: '#comments' }, ...builtinPatterns(categories(vf), true), { include: expr(categories(vf)) }],
    });
  }
  return rules;
}

export function generateGrammar(): Rule {
  const number = pattern('Number').source;
  if (!number.endsWith(NUMBER_SUFFIX)) throw new Error(`tmlanguage: the Number token no longer ends with ${NUMBER_SUFFIX}: ${number}`);
  const digits = number.slice(0, -NUMBER_SUFFIX.length);
  const src = (n: string): string => pattern(n).source;
  const ops = (names: string[]): string => names.map(src).join('|');
  const repository: Record<string, Rule> = {
    comments: {
      patterns: [
        { name: 'comment.line.double-slash.lmp', match: src('LineComment') },
        { name: 'comment.block.lmp', begin: '/\\*', end: '\\*/' },
      ],
    },
    string: {
      name: 'string.quoted.double.lmp',
      begin: '"',
      end: '"|$',
      patterns: [
        { name: 'constant.character.escape.lmp', match: '\\\\(?:[ntr0"\\\\]|u\\{[0-9A-Fa-f]{1,6}\\})' },
        { name: 'invalid.illegal.escape.lmp', match: '\\\\.?' },
      ],
    },
    number: { match: `(?<![A-Za-z0-9_])(${digits})(${NUMBER_SUFFIX.slice(0, -1)})?`, captures: { 0: { name: 'constant.numeric.lmp' }, 2: { name: 'keyword.other.unit.lmp' } } },
  };
  // An expression whose calls are scoped by `cats` first (inside a clause: the categories its
  // semantics reach), then by every category; brackets nest the same expression.
  const exprKeys = new Map<string, string>();
  const expr: Expr = (cats) => {
    const key = cats.length ? `expression-${cats.join('-')}` : 'expression';
    if (exprKeys.has(key)) return exprKeys.get(key)!;
    exprKeys.set(key, `#${key}`);
    const self = { include: `#${key}` };
    // A bracket also ends before a closer of another kind (unbalanced text: the parser reports it and resyncs there).
    const bracket = (kind: string, open: string, close: string, others: string, inner: Rule[]): Rule => ({
      begin: open,
      end: `${close}|(?=[${others}])`,
      beginCaptures: { 0: { name: `punctuation.section.${kind}.begin.lmp` } },
      endCaptures: { 0: { name: `punctuation.section.${kind}.end.lmp` } },
      patterns: [{ include: '#comments' }, ...inner, self],
    });
    const named = (scope: string): Rule => ({ match: `(?<![\\w.])(${NAME})(?=\\s*:)`, captures: { 1: { name: scope } } });
    repository[key] = {
      patterns: [
        { include: '#comments' },
        { include: '#string' },
        { include: '#number' },
        bracket('parens', '\\(', '\\)', '\\]}', [named('variable.parameter.lmp')]),
        bracket('brackets', '\\[', '\\]', ')}', []),
        bracket('map', '\\{', '\\}', ')\\]', [named('support.type.property-name.lmp')]),
        ...builtinPatterns([...new Set([...cats, ...BUILTINS.map((b) => b.category)])], false),
        { include: '#tokens' },
      ],
    };
    return `#${key}`;
  };
  repository['tokens'] = {
    patterns: [
      { name: 'constant.language.boolean.lmp', match: `\\b(?:${src('True')}|${src('False')})\\b` },
      { name: 'keyword.operator.word.then.lmp', match: `\\b${src('Then')}\\b` },
      { name: 'variable.other.lmp', match: `\\b${src('Ident')}` },
      { name: 'keyword.operator.chain.lmp', match: src('Arrow') },
      { name: 'keyword.operator.range.lmp', match: src('DotDot') },
      { name: 'punctuation.accessor.lmp', match: src('Dot') },
      { name: 'keyword.operator.comparison.lmp', match: ops(['LE', 'GE', 'EqEq', 'NotEq', 'LT', 'GT']) },
      { name: 'keyword.operator.assignment.lmp', match: src('Eq') },
      { name: 'keyword.operator.mask.lmp', match: ops(['Bang', 'Amp', 'Pipe']) },
      { name: 'keyword.operator.arithmetic.lmp', match: src('Minus') },
      { name: 'punctuation.separator.comma.lmp', match: src('Comma') },
      { name: 'punctuation.separator.colon.lmp', match: src('Colon') },
      { name: 'punctuation.terminator.lmp', match: src('Semicolon') },
    ],
  };
  const top = [{ include: '#comments' }, ...DECL_KINDS.flatMap((k) => declRules(k, expr)), { include: expr([]) }];
  return {
    name: 'lmp',
    scopeName: SCOPE,
    fileTypes: ['lmp'],
    comment: 'Generated by compiler/lsp/tmlanguage.ts from the lexer, the clause table and the registry. Do not edit.',
    patterns: top,
    repository: Object.fromEntries(Object.entries(repository).sort(([a], [b]) => a.localeCompare(b))),
  };
}

/** The file's text: two-space JSON and a final newline. */
export function grammarText(): string {
  return JSON.stringify(generateGrammar(), null, 2) + '\n';
}
