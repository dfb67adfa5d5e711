// The .lmp abstract syntax tree: readonly, discriminated by `kind`, a span on every node.
//
// Offsets: `start` and `end` are 0-based indices into the source string as JavaScript sees
// it (UTF-16 code units), `end` exclusive. `line` and `col` are 1-based and give the
// position of `start` (col counts UTF-16 code units from the line start, plus one).
// Nothing here depends on Chevrotain: the parser converts its tokens into these nodes.

export interface Span {
  readonly file: string;
  readonly start: number;
  readonly end: number;
  readonly line: number;
  readonly col: number;
}

/** The declaration kinds of the language, in the order the spec lists them. */
export const DECL_KINDS = [
  'tokenizer',
  'data',
  'curriculum',
  'attention',
  'model',
  'train',
  'decode',
  'eval',
  'optimize',
] as const;
export type DeclKind = (typeof DECL_KINDS)[number];

export interface Program {
  readonly kind: 'Program';
  readonly decls: readonly Decl[];
  /** Every comment in the file, in source order (the formatter re-attaches them). */
  readonly comments: readonly Comment[];
  readonly span: Span;
}

export interface Comment {
  readonly kind: 'Comment';
  /** The full comment text including its delimiters (`// ...` or `/* ... *\/`). */
  readonly text: string;
  readonly block: boolean;
  readonly span: Span;
}

export interface Ident {
  readonly kind: 'Ident';
  readonly name: string;
  readonly span: Span;
}

/**
 * `KIND NAME [from BASE] { clause* }` (form 'block') or `KIND NAME [from BASE] = expr`
 * (form 'value', e.g. `tokenizer t = bytes()`, `model m = load("dir")`).
 */
export interface Decl {
  readonly kind: 'Decl';
  readonly declKind: DeclKind;
  /** Span of the declaration keyword (`data`, `train`, ...). */
  readonly keywordSpan: Span;
  readonly name: Ident;
  readonly base: Ident | undefined;
  readonly form: 'block' | 'value';
  /** Clauses of a block form, in source order (empty for the value form). */
  readonly clauses: readonly Clause[];
  /** The value of the `= expr` form (undefined for the block form). */
  readonly value: Expr | undefined;
  readonly span: Span;
}

/**
 * One clause of a block: `KEYWORD [args] {MODIFIER [value]} [: body]`.
 *  - `pack decompose(min: 256, max: 8k)`            keyword 'pack', args [Call]
 *  - `source text("a/*.txt") weight 0.25`           args [Call], modifiers [weight 0.25]
 *  - `trace entropy, surprise`                      args [Ident, Ident] (a bare list)
 *  - `heads 0..3: causal & window(256)`             args [Range], body Binary
 *  - `eval every 200: perplexity(d.holdout)`        args [], modifiers [every 200], body Call
 *  - `cache keep(sink(4) | window(1k)) reposition`  modifiers [reposition] (a flag: no value)
 *  - `subject to latency.p50 < 50ms`                keyword 'subject to' (two words)
 * Which keywords, modifiers and shapes exist per declaration kind is grammar/clauses.ts.
 */
export interface Clause {
  readonly kind: 'Clause';
  /** The keyword as written, words joined by one space ('mask', 'subject to'). */
  readonly keyword: string;
  readonly keywordSpan: Span;
  readonly args: readonly Expr[];
  readonly modifiers: readonly Modifier[];
  readonly body: Expr | undefined;
  readonly span: Span;
}

export interface Modifier {
  readonly kind: 'Modifier';
  /** The modifier keyword, words joined by one space ('weight', 'defer when'). */
  readonly keyword: string;
  readonly keywordSpan: Span;
  readonly value: Expr | undefined;
  readonly span: Span;
}

// ---------------------------------------------------------------------------------------
// Expressions

/**
 * What a number's unit says it measures. The value is normalized:
 *  - 'count':    `4k` = 4096, `2M` = 2^21, `2^13` = 8192, `64_000` = 64000, plain numbers too
 *                (k = 2^10, M = 2^20, G = 2^30 everywhere: "8k context" means 8192 tokens)
 *  - 'percent':  `2%` -> 0.02 (a fraction)
 *  - 'duration': seconds (`50ms` -> 0.05, `30s` -> 30, `10min` -> 600, `2h` -> 7200)
 *  - 'bytes':    bytes (`512B`, `64KiB`, `8MiB`, `2GiB`)
 */
export type NumberUnit = 'count' | 'percent' | 'duration' | 'bytes';

export interface NumberLit {
  readonly kind: 'Number';
  readonly value: number;
  readonly unit: NumberUnit;
  /** The literal exactly as written (the formatter keeps it). */
  readonly raw: string;
  readonly span: Span;
}

export interface StringLit {
  readonly kind: 'String';
  /** The decoded value (escapes applied). */
  readonly value: string;
  /** The literal as written, quotes included. */
  readonly raw: string;
  readonly span: Span;
}

export interface BoolLit {
  readonly kind: 'Bool';
  readonly value: boolean;
  readonly span: Span;
}

/** `a.b` (e.g. `speeches.holdout`, `streaming.mask.window`, `latency.p50`). */
export interface Member {
  readonly kind: 'Member';
  readonly object: Expr;
  readonly property: Ident;
  readonly span: Span;
}

/** `callee(args)`; callee is an Ident or a Member. */
export interface Call {
  readonly kind: 'Call';
  readonly callee: Ident | Member;
  readonly args: readonly Arg[];
  readonly span: Span;
}

/** A call argument, positional (`name` undefined) or named (`min: 256`). */
export interface Arg {
  readonly kind: 'Arg';
  readonly name: Ident | undefined;
  readonly value: Expr;
  readonly span: Span;
}

export interface ListExpr {
  readonly kind: 'List';
  readonly items: readonly Expr[];
  readonly span: Span;
}

export interface TupleExpr {
  readonly kind: 'Tuple';
  readonly items: readonly Expr[];
  readonly span: Span;
}

/** `{ 256: 32, 1k: 8 }` — keys are numbers, strings or identifiers. */
export interface MapExpr {
  readonly kind: 'Map';
  readonly entries: readonly MapEntry[];
  readonly span: Span;
}

export interface MapEntry {
  readonly kind: 'MapEntry';
  readonly key: NumberLit | StringLit | Ident;
  readonly value: Expr;
  readonly span: Span;
}

/** `(expr)` kept as a node so the formatter preserves the user's grouping. */
export interface ParenExpr {
  readonly kind: 'Paren';
  readonly expr: Expr;
  readonly span: Span;
}

/** `from..to`, both ends inclusive (`0..3`, `2.0..6.0`, `256..8k`). */
export interface RangeExpr {
  readonly kind: 'Range';
  readonly from: Expr;
  readonly to: Expr;
  readonly span: Span;
}

export type UnaryOp = '!' | '-';
export interface UnaryExpr {
  readonly kind: 'Unary';
  readonly op: UnaryOp;
  readonly operand: Expr;
  readonly span: Span;
}

/** Mask algebra (`&`, `|`) and comparisons. */
export type BinaryOp = '&' | '|' | '<' | '<=' | '>' | '>=' | '==' | '!=';
export interface BinaryExpr {
  readonly kind: 'Binary';
  readonly op: BinaryOp;
  readonly left: Expr;
  readonly right: Expr;
  readonly span: Span;
}

/** `a -> b -> c`: sampler chains and cascades (n-ary, two or more items). */
export interface ChainExpr {
  readonly kind: 'Chain';
  readonly items: readonly Expr[];
  readonly span: Span;
}

/** `warmup(100) then cosine(to: 10%)`: schedule phases in order (two or more items). */
export interface ThenExpr {
  readonly kind: 'Then';
  readonly items: readonly Expr[];
  readonly span: Span;
}

/** Placeholder where the parser recovered from a syntax error; checks skip it. */
export interface ErrorExpr {
  readonly kind: 'ErrorExpr';
  readonly span: Span;
}

export type Expr =
  | NumberLit
  | StringLit
  | BoolLit
  | Ident
  | Member
  | Call
  | ListExpr
  | TupleExpr
  | MapExpr
  | ParenExpr
  | RangeExpr
  | UnaryExpr
  | BinaryExpr
  | ChainExpr
  | ThenExpr
  | ErrorExpr;

export type Node = Program | Comment | Decl | Clause | Modifier | Arg | MapEntry | Expr;
export type NodeKind = Node['kind'];

/**
 * For each node kind, the fields holding child nodes, in source order. Drives `visit` and
 * `children`; a test checks that it covers every kind.
 */
export const VISITOR_KEYS: { readonly [K in NodeKind]: readonly string[] } = {
  Program: ['decls'],
  Comment: [],
  Decl: ['name', 'base', 'clauses', 'value'],
  Clause: ['args', 'modifiers', 'body'],
  Modifier: ['value'],
  Arg: ['name', 'value'],
  MapEntry: ['key', 'value'],
  Number: [],
  String: [],
  Bool: [],
  Ident: [],
  Member: ['object', 'property'],
  Call: ['callee', 'args'],
  List: ['items'],
  Tuple: ['items'],
  Map: ['entries'],
  Paren: ['expr'],
  Range: ['from', 'to'],
  Unary: ['operand'],
  Binary: ['left', 'right'],
  Chain: ['items'],
  Then: ['items'],
  ErrorExpr: [],
};

/** The direct children of a node, in source order. */
export function children(node: Node): Node[] {
  const out: Node[] = [];
  const rec = node as unknown as Record<string, unknown>;
  for (const key of VISITOR_KEYS[node.kind]) {
    const v = rec[key];
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const c of v) out.push(c as Node);
    else out.push(v as Node);
  }
  return out;
}

export type VisitResult = void | false;
export type Visitor = { readonly [K in NodeKind]?: (node: Extract<Node, { kind: K }>, parents: readonly Node[]) => VisitResult } & {
  /** Called for every node before its kind-specific handler. */
  readonly enter?: (node: Node, parents: readonly Node[]) => VisitResult;
  readonly leave?: (node: Node, parents: readonly Node[]) => void;
};

/**
 * Depth-first walk. A handler returning `false` skips that node's children. Iterative
 * (an explicit stack), so deeply nested input cannot overflow the JS stack here.
 */
export function visit(root: Node, visitor: Visitor): void {
  type Frame = { node: Node; parents: Node[]; exiting: boolean };
  const stack: Frame[] = [{ node: root, parents: [], exiting: false }];
  while (stack.length > 0) {
    const f = stack.pop()!;
    if (f.exiting) {
      visitor.leave?.(f.node, f.parents);
      continue;
    }
    let descend = visitor.enter?.(f.node, f.parents) !== false;
    const h = (visitor as Record<string, ((n: Node, p: readonly Node[]) => VisitResult) | undefined>)[f.node.kind];
    if (descend && h) descend = h(f.node, f.parents) !== false;
    stack.push({ node: f.node, parents: f.parents, exiting: true });
    if (!descend) continue;
    const kids = children(f.node);
    const parents = [...f.parents, f.node];
    for (let i = kids.length - 1; i >= 0; i--) stack.push({ node: kids[i]!, parents, exiting: false });
  }
}

/** A span covering `a` through `b` (same file). */
export function joinSpans(a: Span, b: Span): Span {
  return { file: a.file, start: a.start, end: b.end, line: a.line, col: a.col };
}
