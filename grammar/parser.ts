// The .lmp parser: a Chevrotain EmbeddedActionsParser that builds the AST of grammar/ast.ts
// directly, driven by the clause table (grammar/clauses.ts) for clause boundaries.
//
// Error handling is the parser's own (Chevrotain's automatic recovery is off): every loop is
// gated so that it always makes progress, a missing expression becomes an ErrorExpr with
// LMP0104, and any other syntax error inside a clause (or a `= expr` value) is thrown, caught
// at that clause, reported, and followed by a re-sync to the next clause keyword, `}`, or
// declaration. Nothing here throws to the caller; no Chevrotain type leaves grammar/.
import {
  EmbeddedActionsParser,
  EOF,
  isRecognitionException,
  tokenLabel,
  tokenMatcher,
  type IOrAlt,
  type IParserErrorMessageProvider,
  type IToken,
  type TokenType,
} from './chevrotain.js';
import {
  DECL_KINDS,
  type Arg,
  type BinaryOp as BinaryOpName,
  type Clause,
  type Decl,
  type DeclKind,
  type ErrorExpr,
  type Expr,
  type Ident as IdentNode,
  type MapEntry,
  type Modifier,
  type Node,
  type NumberLit as NumberLitNode,
  type StringLit as StringLitNode,
  type Span,
} from './ast.js';
import { DECL_SPECS, type ClauseSpec, type ModifierSpec } from './clauses.js';
import { diag, type Diagnostic, type DiagnosticNote } from './diagnostics.js';
import {
  AnyTok,
  Amp,
  Arrow,
  BinaryOp,
  Closer,
  Colon,
  Comma,
  Dot,
  DotDot,
  Eq,
  EqEq,
  ExprStart,
  False,
  GE,
  GT,
  Ident,
  LBrace,
  LBracket,
  LE,
  LParen,
  LT,
  NotEq,
  NumberLit,
  Opener,
  PARSER_TOKENS,
  Pipe,
  PrefixOp,
  PrimaryStart,
  RBrace,
  RBracket,
  RParen,
  Semicolon,
  StringCat,
  Then,
  True,
  type NumberPayload,
  type SpanMaker,
  type StringPayload,
} from './lexer.js';

/** Expressions may nest this deep (a literal has depth 1); deeper is LMP0106. */
export const MAX_DEPTH = 256;

const DECL_KIND_SET: ReadonlySet<string> = new Set(DECL_KINDS);

interface WordsMatch<T> {
  readonly spec: T;
  readonly words: number;
}

/** Per declaration kind: first word -> clause specs, longest keyword first. */
const CLAUSES_BY_WORD: { readonly [K in DeclKind]: ReadonlyMap<string, readonly ClauseSpec[]> } = Object.fromEntries(
  DECL_KINDS.map((k) => {
    const byWord = new Map<string, ClauseSpec[]>();
    for (const c of DECL_SPECS[k].clauses) byWord.set(c.words[0]!, [...(byWord.get(c.words[0]!) ?? []), c]);
    for (const list of byWord.values()) list.sort((a, b) => b.words.length - a.words.length);
    return [k, byWord];
  }),
) as never;

const MODIFIERS_LONGEST_FIRST = new WeakMap<ClauseSpec, readonly ModifierSpec[]>();
function modifiersOf(spec: ClauseSpec): readonly ModifierSpec[] {
  let mods = MODIFIERS_LONGEST_FIRST.get(spec);
  if (!mods) {
    mods = [...spec.modifiers].sort((a, b) => b.words.length - a.words.length);
    MODIFIERS_LONGEST_FIRST.set(spec, mods);
  }
  return mods;
}

/** Binary operator precedence, lowest first; 4 and 5 do not associate. */
const LEVEL = new Map<TokenType, number>([
  [Arrow, 0],
  [Then, 1],
  [Pipe, 2],
  [Amp, 3],
  [LT, 4],
  [LE, 4],
  [GT, 4],
  [GE, 4],
  [EqEq, 4],
  [NotEq, 4],
  [DotDot, 5],
]);
const MAX_LEVEL = 5;

/** A syntax error thrown inside a clause or value expression; caught where it re-syncs. */
class SyntaxFailure {
  constructor(readonly diagnostic: Diagnostic) {}
}

const labelOf = (t: TokenType): string => tokenLabel(t);
const orList = (labels: readonly string[]): string => {
  const u = [...new Set(labels)];
  return u.length <= 1 ? (u[0] ?? 'something else') : `${u.slice(0, -1).join(', ')} or ${u[u.length - 1]}`;
};

/** Messages for the (rare) errors Chevrotain raises itself: the "expected" half only. */
const errorMessageProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected }) => labelOf(expected),
  buildNotAllInputParsedMessage: () => 'the end of the file',
  buildNoViableAltMessage: ({ expectedPathsPerAlt }) => orList(expectedPathsPerAlt.flat().map((path) => labelOf(path[0]!))),
  buildEarlyExitMessage: ({ expectedIterationPaths }) => orList(expectedIterationPaths.map((path) => labelOf(path[0]!))),
};

function clip(s: string, n = 24): string {
  return s.length > n ? `${s.slice(0, n)}...` : s;
}

/** How a token is named in messages. */
export function describeToken(t: IToken): string {
  if (t.tokenType === EOF) return 'end of file';
  if (tokenMatcher(t, StringCat)) return `string ${clip(t.image)}`;
  return `'${clip(t.image)}'`;
}

interface State {
  spans: SpanMaker;
  diags: Diagnostic[];
  kind: DeclKind;
  declName: string;
  nest: number;
  /** Inside a block's clause (where a clause keyword leading a line ends an expression). */
  inClause: boolean;
  depthReported: boolean;
  depth: Map<Node, number>;
}

interface ChevrotainInternals {
  exportLexerState(): number;
  consumeToken(): void;
}

class LmpParser extends EmbeddedActionsParser {
  private lmp: State = LmpParser.freshState(undefined as unknown as SpanMaker);

  private static freshState(spans: SpanMaker): State {
    return { spans, diags: [], kind: 'data', declName: '', nest: 0, inClause: false, depthReported: false, depth: new Map() };
  }

  constructor() {
    super(PARSER_TOKENS, { recoveryEnabled: false, maxLookahead: 1, errorMessageProvider });
    this.performSelfAnalysis();
  }

  /** Parse a token vector (from grammar/lexer.ts) into declarations and syntax diagnostics. */
  parseTokens(tokens: IToken[], spans: SpanMaker): { decls: Decl[]; diagnostics: Diagnostic[] } {
    this.input = tokens;
    this.lmp = LmpParser.freshState(spans);
    const decls = this.program();
    return { decls, diagnostics: this.lmp.diags };
  }

  // -------------------------------------------------------------------------------------
  // Declarations

  private program = this.RULE('program', (): Decl[] => {
    const decls: Decl[] = [];
    this.MANY({
      GATE: () => this.LA(1).tokenType !== EOF,
      DEF: () => {
        this.OR({
          IGNORE_AMBIGUITIES: true,
          DEF: [
            {
              GATE: () => this.is(1, Ident) && DECL_KIND_SET.has(this.LA(1).image),
              ALT: () => {
                const d = this.SUBRULE(this.decl);
                this.ACTION(() => d && decls.push(d));
              },
            },
            {
              ALT: () => {
                const t = this.CONSUME(AnyTok);
                this.ACTION(() => this.junkAtTop(t));
              },
            },
          ],
        });
      },
    });
    return decls;
  });

  private decl = this.RULE('decl', (): Decl | undefined => {
    const kw = this.CONSUME(Ident);
    let hasName = false;
    let name: IToken | undefined;
    let base: IdentNode | undefined;
    let clauses: Clause[] = [];
    let value: Expr | undefined;
    let eq: IToken | undefined;
    this.ACTION(() => {
      this.lmp.kind = kw.image as DeclKind;
      hasName = this.is(1, Ident);
    });
    this.OPTION({ GATE: () => hasName, DEF: () => (name = this.CONSUME2(Ident)) });
    this.ACTION(() => (this.lmp.declName = name?.image ?? ''));
    this.OPTION2({
      GATE: () => hasName && this.isWord(1, 'from'),
      DEF: () => {
        const from = this.CONSUME3(Ident);
        let baseTok: IToken | undefined;
        this.OPTION3({ GATE: () => this.is(1, Ident), DEF: () => (baseTok = this.CONSUME4(Ident)) });
        this.ACTION(() => {
          if (baseTok) base = this.ident(baseTok);
          else this.report(this.expected(`the name of the base declaration after '${from.image}'`));
        });
      },
    });
    let blockSeen = false;
    this.OPTION4({
      GATE: () => hasName && this.is(1, LBrace),
      DEF: () => {
        clauses = this.SUBRULE(this.block);
        blockSeen = true;
      },
    });
    this.OPTION5({
      GATE: () => hasName && this.is(1, Eq),
      DEF: () => {
        eq = this.CONSUME(Eq);
        value = this.SUBRULE(this.declValue, { ARGS: [eq] });
      },
    });
    return this.ACTION(() => {
      const st = this.lmp;
      if (!name) {
        this.report(this.expected(`a name after '${kw.image}'`));
        this.resync('top', 0);
        return undefined;
      }
      if (eq && DECL_SPECS[st.kind].valueForm === undefined) {
        this.report(diag('LMP0108', this.tokSpan(eq), { declKind: st.kind, decl: name.image }));
      }
      if (!eq && !blockSeen) {
        this.report(this.expected(`'{' or '=' after ${st.kind} '${name.image}'`));
        this.resync('top', 0);
      }
      return {
        kind: 'Decl',
        declKind: st.kind,
        keywordSpan: this.tokSpan(kw),
        name: this.ident(name),
        base,
        form: eq ? 'value' : 'block',
        clauses,
        value,
        span: this.spanFrom(kw),
      } satisfies Decl;
    });
  });

  /** `= expr` of a value-form declaration; a syntax error re-syncs to the next declaration. */
  private declValue = this.RULE('declValue', (eq: IToken): Expr => {
    const start = this.ACTION(() => this.tokenIndex());
    this.ACTION(() => (this.lmp.depthReported = false));
    try {
      const e = this.exprIf(1, () => true, () => eq);
      return this.ACTION(() => e!);
    } catch (err) {
      return this.recover(err, 'top', start);
    }
  });

  private block = this.RULE('block', (): Clause[] => {
    const open = this.CONSUME(LBrace);
    const clauses: Clause[] = [];
    let closed = false;
    this.MANY({
      GATE: () => !this.atBlockEnd(),
      DEF: () => {
        this.OR({
          IGNORE_AMBIGUITIES: true,
          DEF: [
            { ALT: () => this.CONSUME(Semicolon) },
            {
              ALT: () => {
                const c = this.SUBRULE(this.clause);
                this.ACTION(() => c && clauses.push(c));
              },
            },
            {
              ALT: () => {
                const t = this.CONSUME(AnyTok);
                this.ACTION(() => this.junkInBlock(t));
              },
            },
          ],
        });
      },
    });
    this.OPTION({
      GATE: () => this.is(1, RBrace),
      DEF: () => {
        this.CONSUME(RBrace);
        closed = true;
      },
    });
    this.ACTION(() => {
      if (!closed) {
        const found = this.LA(1);
        const notes: DiagnosticNote[] = [
          found.tokenType === EOF
            ? { message: 'the file ends first' }
            : { message: `the block ends before ${describeToken(found)}, which starts a new declaration`, span: this.tokSpan(found) },
        ];
        this.report(diag('LMP0105', this.tokSpan(open), { open: '{', close: '}' }, { notes }));
      }
    });
    return clauses;
  });

  // -------------------------------------------------------------------------------------
  // Clauses

  private clause = this.RULE('clause', (): Clause | undefined => {
    const kw = this.CONSUME(Ident);
    const start = this.ACTION(() => this.tokenIndex());
    let spec: ClauseSpec | undefined;
    let extra = 0;
    let last = kw;
    const words: IToken[] = [kw];
    this.ACTION(() => {
      const m = this.matchClause(kw);
      spec = m?.spec;
      extra = (m?.words ?? 1) - 1;
      this.lmp.depthReported = false;
      this.lmp.inClause = true;
    });
    this.MANY({
      GATE: () => extra > 0,
      DEF: () => {
        last = this.CONSUME2(Ident);
        words.push(last);
        extra--;
      },
    });
    this.ACTION(() => {
      if (!spec) {
        this.reportUnknownClause(kw);
        this.resync('block', 0);
      }
    });
    const live = () => spec !== undefined;
    const args: Expr[] = [];
    const modifiers: Modifier[] = [];
    let colon: IToken | undefined;
    let body: Expr | undefined;
    // Where a thrown error leaves its ErrorExpr: the arguments, a modifier's value, the body.
    let failAt: 'args' | 'body' | ((e: Expr) => void) = 'args';
    try {
      this.OPTION({
        GATE: () => live() && this.wantsArgs(spec!),
        DEF: () => {
          args.push(this.SUBRULE(this.expression));
          this.MANY2({
            GATE: () => spec!.args === 'list',
            DEF: () => {
              const comma = this.CONSUME(Comma);
              args.push(this.exprIf(10, () => true, () => comma)!);
            },
          });
        },
      });
      this.ACTION(() => {
        if (live() && spec!.args !== 'optional' && args.length === 0) {
          const found = this.LA(1);
          const what = spec!.args === 'list' ? 'one or more expressions' : 'an expression';
          this.report(diag('LMP0111', this.tokSpan(found), { clause: spec!.words.join(' '), expected: what, found: describeToken(found) }));
          args.push(this.errorAt(this.emptyAfter(last)));
        }
      });
      failAt = 'body';
      let mod: WordsMatch<ModifierSpec> | undefined;
      const used = new Set<ModifierSpec>();
      this.MANY3({
        GATE: () => live() && (mod = this.matchModifier(spec!, used)) !== undefined,
        DEF: () => {
          const m = mod;
          this.ACTION(() => used.add(m!.spec));
          const first = this.CONSUME3(Ident);
          let lastWord = first;
          let left = 0;
          this.ACTION(() => (left = m!.words - 1));
          this.MANY4({
            GATE: () => left > 0,
            DEF: () => {
              lastWord = this.CONSUME4(Ident);
              left--;
            },
          });
          const push = (value: Expr | undefined) =>
            modifiers.push({
              kind: 'Modifier',
              keyword: m!.spec.words.join(' '),
              keywordSpan: this.join(this.tokSpan(first), this.tokSpan(lastWord)),
              value,
              span: this.spanFrom(first),
            });
          failAt = push;
          const value = this.exprIf(11, () => m!.spec.value, () => lastWord);
          this.ACTION(() => push(value));
          failAt = 'body';
        },
      });
      this.OPTION2({ GATE: () => live() && this.is(1, Colon), DEF: () => (colon = this.CONSUME(Colon)) });
      body = this.exprIf(12, () => colon !== undefined, () => colon!);
      this.ACTION(() => {
        if (!spec) return;
        const name = spec.words.join(' ');
        if (colon && spec.body === 'none') this.report(diag('LMP0110', this.tokSpan(colon), { clause: name }));
        if (!colon && spec.body === 'required') this.report(diag('LMP0109', this.spanFrom(kw), { clause: name }));
      });
    } catch (err) {
      const e = this.recover(err, 'block', start);
      // (Assigned inside DSL callbacks, which TypeScript's narrowing does not see.)
      const at = failAt as 'args' | 'body' | ((e: Expr) => void);
      if (at === 'args') args.push(e);
      else if (at === 'body') body = e;
      else at(e);
    }
    return this.ACTION(() => {
      this.lmp.inClause = false;
      if (!spec) return undefined;
      return {
        kind: 'Clause',
        keyword: spec.words.join(' '),
        keywordSpan: this.join(this.tokSpan(kw), this.tokSpan(words[words.length - 1]!)),
        args,
        modifiers,
        body,
        span: this.spanFrom(kw),
      } satisfies Clause;
    });
  });

  // -------------------------------------------------------------------------------------
  // Expressions. Deeply nested input recurses here, so the path from one nesting level to
  // the next is kept short: `expression` -> `postfix` -> `expression`, with brackets, calls
  // and prefix operators inline (DSL occurrence indexes are listed where they are used).
  // Where a missing expression is possible, a plain `if` (always taken while Chevrotain
  // records the grammar) decides whether to descend, so no rule can match nothing.

  private expression = this.RULE('expression', (): Expr => {
    if (!this.RECORDING_PHASE && this.lmp.nest >= MAX_DEPTH) return this.tooDeep();
    this.lmp.nest++;
    try {
      const operands: Expr[] = [this.operand(0)];
      const ops: IToken[] = [];
      this.MANY2(() => {
        const op = this.CONSUME(BinaryOp);
        ops.push(op);
        operands.push(this.operand(1));
      });
      return this.ACTION(() => this.buildBinary(operands, ops));
    } finally {
      this.lmp.nest--;
    }
  });

  /** Prefix operators (a loop, so `!!!...!x` cannot overflow the stack), then a postfix. */
  private operand(idx: 0 | 1): Expr {
    const prefixes: IToken[] = [];
    this.many(3 + idx, () => prefixes.push(this.consume(idx, PrefixOp)));
    let inner: Expr | undefined;
    if (this.RECORDING_PHASE || (this.is(1, PrimaryStart) && !(this.lmp.nest === 1 && this.nextClauseStarts()))) {
      inner = this.subrule(idx, this.postfix, undefined);
    }
    return this.ACTION(() => {
      let e = inner ?? this.missing(prefixes[prefixes.length - 1] ?? this.LA(0));
      for (let i = prefixes.length - 1; i >= 0; i--) {
        const p = prefixes[i]!;
        e = this.mk({ kind: 'Unary', op: p.image as '!' | '-', operand: e, span: this.join(this.tokSpan(p), e.span) }, [e]);
      }
      return e;
    });
  }

  // The alternatives of a primary, built once: they capture nothing but `this`, and `postfix`
  // runs for every operand (an inline array would allocate 8 closures and objects per call).
  private readonly primaryAlts: IOrAlt<Expr>[] = [
    {
      ALT: () => {
        const t = this.CONSUME(NumberLit);
        return this.ACTION(() => this.numberNode(t));
      },
    },
    {
      ALT: () => {
        const t = this.CONSUME(StringCat);
        return this.ACTION(() => this.stringNode(t));
      },
    },
    {
      ALT: () => {
        const t = this.CONSUME(True);
        return this.ACTION(() => ({ kind: 'Bool', value: true, span: this.tokSpan(t) }) satisfies Expr);
      },
    },
    {
      ALT: () => {
        const t = this.CONSUME(False);
        return this.ACTION(() => ({ kind: 'Bool', value: false, span: this.tokSpan(t) }) satisfies Expr);
      },
    },
    {
      ALT: () => {
        const t = this.CONSUME(Ident);
        return this.ACTION(() => this.ident(t));
      },
    },
    { ALT: () => this.list() },
    { ALT: () => this.map() },
    { ALT: () => this.paren() },
  ];

  private postfix = this.RULE('postfix', (): Expr => {
    let e: Expr = this.OR(this.primaryAlts);
    this.MANY({
      GATE: () => this.is(1, Dot) || (this.is(1, LParen) && (e.kind === 'Ident' || e.kind === 'Member')),
      DEF: () => {
        this.OR2([
          {
            ALT: () => {
              this.CONSUME(Dot);
              this.ACTION(() => {
                if (!this.is(1, Ident)) throw this.fail(this.expected(`a name after '.'`));
              });
              const name = this.CONSUME1(Ident);
              this.ACTION(() => {
                const property = this.ident(name);
                e = this.mk({ kind: 'Member', object: e, property, span: this.join(e.span, property.span) }, [e]);
              });
            },
          },
          { ALT: () => (e = this.call(e)) },
        ]);
      },
    });
    return e;
  });

  // The bracketed forms below run inside `postfix`; their DSL indexes are unique there.

  /** `[a, b, ...]` (MANY1, Comma 0, expression 0). */
  private list(): Expr {
    const open = this.CONSUME(LBracket);
    const items: Expr[] = [];
    this.MANY1({
      GATE: () => !this.is(1, RBracket) && !this.nextClauseStarts(),
      DEF: () => {
        items.push(this.SUBRULE(this.expression));
        this.separator(open, RBracket);
        this.OPTION1(() => this.CONSUME(Comma));
      },
    });
    const close = this.closeWith(0, RBracket, open);
    return this.ACTION(() => this.mk({ kind: 'List', items, span: this.join(this.tokSpan(open), this.tokSpan(close)) }, items));
  }

  /** `{key: value, ...}` (MANY2, OR3, Comma 1, Colon 0, expression 1); a level counts twice. */
  private map(): Expr {
    const open = this.CONSUME(LBrace);
    const entries: MapEntry[] = [];
    this.MANY2({
      GATE: () => !this.is(1, RBrace) && !this.nextClauseStarts(),
      DEF: () => {
        const key = this.OR3([
          {
            ALT: () => {
              const t = this.CONSUME1(NumberLit);
              return this.ACTION(() => this.numberNode(t));
            },
          },
          {
            ALT: () => {
              const t = this.CONSUME1(StringCat);
              return this.ACTION(() => this.stringNode(t));
            },
          },
          {
            ALT: () => {
              const t = this.CONSUME2(Ident);
              return this.ACTION(() => this.ident(t));
            },
          },
        ]);
        this.ACTION(() => {
          if (!this.is(1, Colon)) throw this.fail(this.expected(`':' after the map key ${describeToken(this.LA(0))}`));
        });
        const colon = this.CONSUME(Colon);
        const value = this.nested(1, colon);
        this.ACTION(() => {
          const entry: MapEntry = { kind: 'MapEntry', key, value, span: this.join(key.span, value.span) };
          this.lmp.depth.set(entry, 1 + this.depthOf(value));
          entries.push(entry);
        });
        this.separator(open, RBrace);
        this.OPTION2(() => this.CONSUME1(Comma));
      },
    });
    const close = this.closeWith(0, RBrace, open);
    return this.ACTION(() => this.mk({ kind: 'Map', entries, span: this.join(this.tokSpan(open), this.tokSpan(close)) }, entries));
  }

  /** `(e)` (a Paren node) or a tuple `(a, b)`, `(a,)` (MANY3, Comma 2, expression 2 and 3). */
  private paren(): Expr {
    const open = this.CONSUME(LParen);
    const items: Expr[] = [];
    let tuple = false;
    let first: Expr | undefined;
    if (this.RECORDING_PHASE || this.startsExpr()) first = this.SUBRULE2(this.expression);
    this.ACTION(() => items.push(first ?? this.missing(open)));
    this.MANY3({
      GATE: () => this.is(1, Comma),
      DEF: () => {
        const comma = this.CONSUME2(Comma);
        tuple = true;
        let item: Expr | undefined;
        if (this.RECORDING_PHASE || this.startsExpr()) item = this.SUBRULE3(this.expression);
        this.ACTION(() => {
          if (item) items.push(item);
          else if (!this.is(1, RParen)) items.push(this.missing(comma));
        });
      },
    });
    const close = this.closeWith(1, RParen, open);
    return this.ACTION(() => {
      const span = this.join(this.tokSpan(open), this.tokSpan(close));
      if (tuple) return this.mk({ kind: 'Tuple', items, span }, items);
      return this.mk({ kind: 'Paren', expr: items[0]!, span }, items);
    });
  }

  /** `callee(args)` (MANY4, OPTION3, OPTION4, LParen 1, Ident 3, Colon 1, Comma 3, expression 4). */
  private call(callee: Expr): Expr {
    const open = this.CONSUME1(LParen);
    const args: Arg[] = [];
    this.MANY4({
      GATE: () => !this.is(1, RParen) && !this.nextClauseStarts(),
      DEF: () => {
        let name: IToken | undefined;
        let colon: IToken | undefined;
        this.OPTION3({
          GATE: () => this.is(2, Colon),
          DEF: () => {
            name = this.CONSUME3(Ident);
            colon = this.CONSUME1(Colon);
          },
        });
        const value = this.nested(4, colon ?? open);
        this.ACTION(() => {
          const n = name ? this.ident(name) : undefined;
          const arg: Arg = { kind: 'Arg', name: n, value, span: this.join(n?.span ?? value.span, value.span) };
          this.lmp.depth.set(arg, 1 + this.depthOf(value));
          args.push(arg);
        });
        this.separator(open, RParen);
        this.OPTION4(() => this.CONSUME3(Comma));
      },
    });
    const close = this.closeWith(2, RParen, open);
    return this.ACTION(() => {
      if (callee.kind !== 'Ident' && callee.kind !== 'Member') return callee;
      return this.mk({ kind: 'Call', callee, args, span: this.join(callee.span, this.tokSpan(close)) }, [callee, ...args]);
    });
  }

  /**
   * The value of a map entry or call argument (expression occurrence `idx`): one more
   * level of nesting than an expression (the MapEntry or Arg node), counted as such.
   */
  private nested(idx: number, after: IToken): Expr {
    let value: Expr | undefined;
    if (this.RECORDING_PHASE || this.startsExpr()) {
      this.lmp.nest++;
      try {
        value = this.subrule(idx, this.expression, undefined);
      } finally {
        this.lmp.nest--;
      }
    }
    return this.ACTION(() => value ?? this.missing(after));
  }

  private numberNode(t: IToken): NumberLitNode {
    const p = t.payload as NumberPayload;
    return { kind: 'Number', value: p.value, unit: p.unit, raw: t.image, span: this.tokSpan(t) };
  }
  private stringNode(t: IToken): StringLitNode {
    return { kind: 'String', value: (t.payload as StringPayload).value, raw: t.image, span: this.tokSpan(t) };
  }

  // -------------------------------------------------------------------------------------
  // DSL helpers (each takes the occurrence index its DSL calls use inside the calling rule)

  /**
   * An expression where `want()` says one belongs: parsed if one starts here, else
   * LMP0104 and an ErrorExpr. Returns undefined where `want()` is false.
   */
  private exprIf(idx: number, want: () => boolean, after: () => IToken): Expr | undefined {
    let e: Expr | undefined;
    this.option(idx, { GATE: () => want() && this.startsExpr(), DEF: () => (e = this.subrule(idx, this.expression, {})) });
    return this.ACTION(() => e ?? (want() ? this.missing(after()) : undefined));
  }

  /** After an item of a bracketed list: a ',' or the closer must follow. */
  private separator(open: IToken, closer: TokenType): void {
    this.ACTION(() => {
      if (!this.is(1, Comma) && !this.is(1, closer)) throw this.fail(this.unclosed(open, closer, true));
    });
  }

  private closeWith(idx: number, closer: TokenType, open: IToken): IToken {
    this.ACTION(() => {
      if (!this.is(1, closer)) throw this.fail(this.unclosed(open, closer, false));
    });
    return this.consume(idx, closer);
  }

  // -------------------------------------------------------------------------------------
  // Semantic helpers (run outside the recording phase only)

  private is(k: number, type: TokenType): boolean {
    return tokenMatcher(this.LA(k), type);
  }
  private isWord(k: number, word: string): boolean {
    const t = this.LA(k);
    return t.tokenType === Ident && t.image === word;
  }
  private tokenIndex(): number {
    return (this as unknown as ChevrotainInternals).exportLexerState();
  }
  private skip(): void {
    (this as unknown as ChevrotainInternals).consumeToken();
  }
  private tokSpan(t: IToken): Span {
    return this.lmp.spans.tok(t);
  }
  private join(a: Span, b: Span): Span {
    return this.lmp.spans.span(a.start, Math.max(a.end, b.end));
  }
  /** From the start of `first` to the end of the last consumed token. */
  private spanFrom(first: IToken): Span {
    const last = this.LA(0);
    const end = Number.isFinite(last.startOffset) ? last.startOffset + last.image.length : first.startOffset + first.image.length;
    return this.lmp.spans.span(first.startOffset, Math.max(end, first.startOffset + first.image.length));
  }
  /** An empty span just after token `t`. */
  private emptyAfter(t: IToken): Span {
    const end = this.tokSpan(t).end;
    return this.lmp.spans.span(end, end);
  }
  private ident(t: IToken): IdentNode {
    return { kind: 'Ident', name: t.image, span: this.tokSpan(t) };
  }
  private errorAt(span: Span): ErrorExpr {
    return { kind: 'ErrorExpr', span };
  }
  private depthOf(n: Node): number {
    return this.lmp.depth.get(n) ?? 1;
  }

  /** Record a node's depth; past MAX_DEPTH report LMP0106 (once per clause) and cut it off. */
  private mk(node: Expr, kids: readonly Node[]): Expr {
    let d = 0;
    for (const k of kids) d = Math.max(d, this.depthOf(k));
    d += 1;
    if (d > MAX_DEPTH) {
      if (!this.lmp.depthReported) {
        this.lmp.depthReported = true;
        this.report(diag('LMP0106', node.span, { max: MAX_DEPTH }));
      }
      return this.errorAt(node.span);
    }
    this.lmp.depth.set(node, d);
    return node;
  }

  private report(d: Diagnostic): void {
    this.lmp.diags.push(d);
  }
  private fail(d: Diagnostic): SyntaxFailure {
    return new SyntaxFailure(d);
  }
  /** LMP0101 at the next token: "expected WHAT, found X". */
  private expected(what: string, help?: string): Diagnostic {
    const found = this.LA(1);
    return diag('LMP0101', this.tokSpan(found), { expected: what, found: describeToken(found) }, help ? { help } : {});
  }
  private unclosed(open: IToken, closer: TokenType, orComma: boolean): Diagnostic {
    const found = this.LA(1);
    const close = labelOf(closer);
    if (found.tokenType === EOF) {
      return diag('LMP0105', this.tokSpan(open), { open: open.image, close: close.slice(1, -1) }, { notes: [{ message: 'the file ends first' }] });
    }
    const where = this.lmp.spans.where(open.startOffset);
    return this.expected(`${orComma ? "',' or " : ''}${close} to close '${open.image}' at ${where}`);
  }
  /** LMP0104 for a missing expression after token `after`; returns the ErrorExpr. */
  private missing(after: IToken): ErrorExpr {
    const found = this.LA(1);
    this.report(diag('LMP0104', this.tokSpan(found), { after: `'${clip(after.image)}'`, found: describeToken(found) }));
    return this.errorAt(this.emptyAfter(after));
  }

  /** Nesting past MAX_DEPTH: report, skip to the closer of the enclosing bracket. */
  private tooDeep(): Expr {
    const first = this.LA(1);
    const st = this.lmp;
    if (!st.depthReported) {
      st.depthReported = true;
      this.report(diag('LMP0106', this.tokSpan(first), { max: MAX_DEPTH }));
    }
    let depth = 0;
    for (;;) {
      const t = this.LA(1);
      if (t.tokenType === EOF || this.atDeclStartInBlock()) break;
      if (tokenMatcher(t, Opener)) depth++;
      else if (tokenMatcher(t, Closer)) {
        if (depth === 0) break;
        depth--;
      }
      this.skip();
    }
    const last = this.LA(0);
    const end = last === first || this.tokenIndex() < 0 ? first.startOffset : last.startOffset + last.image.length;
    return this.errorAt(this.lmp.spans.span(first.startOffset, Number.isFinite(end) ? end : first.startOffset));
  }

  /** Report a caught syntax failure and re-sync; returns an ErrorExpr over the skipped text. */
  private recover(err: unknown, mode: 'top' | 'block', startIdx: number): ErrorExpr {
    if (err instanceof SyntaxFailure) this.report(err.diagnostic);
    else if (err instanceof Error && isRecognitionException(err)) {
      const e = err as Error & { token: IToken };
      this.report(diag('LMP0101', this.tokSpan(e.token), { expected: e.message, found: describeToken(e.token) }));
    } else throw err;
    // How many brackets are open between the clause start and the failure point.
    const tokens = this.input;
    let depth = 0;
    for (let i = Math.max(0, startIdx); i <= this.tokenIndex(); i++) {
      const t = tokens[i]!;
      if (tokenMatcher(t, Opener)) depth++;
      else if (tokenMatcher(t, Closer) && depth > 0) depth--;
    }
    const from = this.LA(1);
    this.resync(mode, depth);
    const last = this.LA(0);
    const start = Number.isFinite(from.startOffset) ? from.startOffset : this.lmp.spans.text.length;
    const end = last !== from && Number.isFinite(last.startOffset) && last.startOffset >= start ? last.startOffset + last.image.length : start;
    return this.errorAt(this.lmp.spans.span(start, end));
  }

  /**
   * Skip tokens (balancing brackets, `depth` of them already open) to a place where parsing
   * can resume: in a block, a clause keyword, `;` or `}` at depth 0, or a clause keyword
   * leading its line at any depth; at the top, the next declaration.
   */
  private resync(mode: 'top' | 'block', depth: number): void {
    for (;;) {
      const t = this.LA(1);
      if (t.tokenType === EOF) return;
      if (mode === 'block') {
        if (this.atDeclStartInBlock()) return;
        if (depth === 0) {
          if (t.tokenType === RBrace || t.tokenType === Semicolon) return;
          if (t.tokenType === Ident && (this.isClauseWord(t.image) || this.leadsLine(t))) return;
        } else if (this.lineLeadingClause()) return;
      } else if (depth === 0 ? this.atTopDeclStart() : this.atDeclStartInBlock()) return;
      if (tokenMatcher(t, Opener)) depth++;
      else if (tokenMatcher(t, Closer) && depth > 0) depth--;
      this.skip();
    }
  }

  private atTopDeclStart(): boolean {
    const t = this.LA(1);
    return t.tokenType === Ident && DECL_KIND_SET.has(t.image) && this.is(2, Ident);
  }
  /** `KIND NAME {`, `KIND NAME =` or `KIND NAME from BASE`: never a clause, always a declaration. */
  private atDeclStartInBlock(): boolean {
    if (!this.atTopDeclStart()) return false;
    if (this.is(3, LBrace) || this.is(3, Eq)) return true;
    return this.isWord(3, 'from') && this.is(4, Ident);
  }
  private atBlockEnd(): boolean {
    const t = this.LA(1);
    return t.tokenType === EOF || t.tokenType === RBrace || this.atDeclStartInBlock();
  }
  private isClauseWord(word: string): boolean {
    return CLAUSES_BY_WORD[this.lmp.kind].has(word);
  }
  /** A clause keyword first on its line and not followed by what a name inside brackets takes. */
  private lineLeadingClause(): boolean {
    const t = this.LA(1);
    if (t.tokenType !== Ident || !this.isClauseWord(t.image) || !this.leadsLine(t)) return false;
    const next = this.LA(2).tokenType;
    return next !== Colon && next !== Comma && next !== Eq && next !== Dot && !tokenMatcher(this.LA(2), Closer);
  }

  /** An expression starts at the next token (and not the next clause: see nextClauseStarts). */
  private startsExpr(): boolean {
    return this.is(1, ExprStart) && !this.nextClauseStarts();
  }
  /**
   * Inside a clause, a clause keyword of the block that leads its line and is followed by
   * what can start its argument (`pack decompose(...)`, `seed 7`) is the next clause, not
   * an operand or value that is missing its line's end: `weight` + newline + `pack x`.
   */
  private nextClauseStarts(): boolean {
    if (!this.lmp.inClause) return false;
    const t = this.LA(1);
    if (t.tokenType !== Ident || !this.isClauseWord(t.image)) return false;
    const next = this.LA(2);
    return tokenMatcher(next, ExprStart) && next.tokenType !== LParen && this.leadsLine(t);
  }
  /** Whether a line break separates `t` (the next token) from the token before it. */
  private leadsLine(t: IToken): boolean {
    const prev = this.LA(0);
    const from = Number.isFinite(prev.startOffset) ? prev.startOffset + prev.image.length : 0;
    return /[\r\n]/.test(this.lmp.spans.text.slice(from, t.startOffset));
  }

  private matchWords(words: readonly string[]): boolean {
    for (let i = 1; i < words.length; i++) if (!this.isWord(i, words[i]!)) return false;
    return true;
  }
  private matchClause(kw: IToken): WordsMatch<ClauseSpec> | undefined {
    for (const spec of CLAUSES_BY_WORD[this.lmp.kind].get(kw.image) ?? []) {
      if (this.matchWords(spec.words)) return { spec, words: spec.words.length };
    }
    return undefined;
  }
  /** The modifier of `spec` starting here; each may appear once (`used` holds those seen). */
  private matchModifier(spec: ClauseSpec, used?: ReadonlySet<ModifierSpec>): WordsMatch<ModifierSpec> | undefined {
    if (!this.is(1, Ident)) return undefined;
    for (const m of modifiersOf(spec)) {
      if (used?.has(m)) continue;
      let ok = true;
      for (let i = 0; i < m.words.length && ok; i++) ok = this.isWord(i + 1, m.words[i]!);
      if (ok) return { spec: m, words: m.words.length };
    }
    return undefined;
  }
  /** Whether the clause's arguments start here (a modifier word or clause keyword ends them). */
  private wantsArgs(spec: ClauseSpec): boolean {
    if (!this.startsExpr()) return false;
    const continues = this.is(2, Dot) || this.is(2, LParen);
    if (this.matchModifier(spec) && !continues) return false;
    if (spec.args === 'optional' && this.is(1, Ident) && this.isClauseWord(this.LA(1).image) && !continues) return false;
    return true;
  }

  private reportUnknownClause(kw: IToken): void {
    const st = this.lmp;
    const accepted = DECL_SPECS[st.kind].clauses.map((c) => c.words.join(' '));
    const close = accepted.filter((a) => editDistance(a, kw.image) <= 2);
    const notes: DiagnosticNote[] = close.length > 0 ? [{ message: `did you mean ${orList(close.map((c) => `'${c}'`))}?` }] : [];
    this.report(
      diag('LMP0103', this.tokSpan(kw), { name: kw.image, declKind: st.kind, decl: st.declName, clauses: [...new Set(accepted)].join(', ') }, { notes }),
    );
  }

  private junkAtTop(t: IToken): void {
    if (t.tokenType === Ident && this.is(1, Ident)) {
      this.report(diag('LMP0102', this.tokSpan(t), { name: t.image, kinds: DECL_KINDS.join(', ') }));
    } else {
      this.report(
        diag('LMP0101', this.tokSpan(t), { expected: `a declaration (${DECL_KINDS.join(', ')})`, found: describeToken(t) }),
      );
    }
    this.resync('top', tokenMatcher(t, Opener) ? 1 : 0);
  }

  private junkInBlock(t: IToken): void {
    const st = this.lmp;
    this.report(
      diag('LMP0101', this.tokSpan(t), { expected: `a clause of ${st.kind} '${st.declName}' or '}'`, found: describeToken(t) }),
    );
    this.resync('block', tokenMatcher(t, Opener) ? 1 : 0);
  }

  /** Fold operands and operators by precedence (see spec/grammar.md). */
  private buildBinary(operands: Expr[], ops: IToken[]): Expr {
    const build = (lo: number, hi: number, minLevel: number): Expr => {
      if (lo === hi) return operands[lo]!;
      let level = minLevel;
      let splits: number[] = [];
      for (; level <= MAX_LEVEL; level++) {
        splits = [];
        for (let i = lo; i < hi; i++) if (LEVEL.get(ops[i]!.tokenType) === level) splits.push(i);
        if (splits.length > 0) break;
      }
      const items: Expr[] = [];
      let from = lo;
      for (const s of splits) {
        items.push(build(from, s, level + 1));
        from = s + 1;
      }
      items.push(build(from, hi, level + 1));
      const span = this.join(items[0]!.span, items[items.length - 1]!.span);
      if (level === 0) return this.mk({ kind: 'Chain', items, span }, items);
      if (level === 1) return this.mk({ kind: 'Then', items, span }, items);
      if (level >= 4 && items.length > 2) {
        const op = ops[splits[1]!]!;
        const what = level === 4 ? 'the end of the comparison' : 'the end of the range';
        const help = level === 4 ? 'comparisons do not chain: combine them with & and parentheses' : 'a range has exactly two ends: from..to';
        this.report(diag('LMP0101', this.tokSpan(op), { expected: what, found: describeToken(op) }, { help }));
      }
      let e = items[0]!;
      for (let j = 0; j < splits.length; j++) {
        const op = ops[splits[j]!]!;
        const right = items[j + 1]!;
        const s = this.join(e.span, right.span);
        e =
          level === 5
            ? this.mk({ kind: 'Range', from: e, to: right, span: s }, [e, right])
            : this.mk({ kind: 'Binary', op: op.image as BinaryOpName, left: e, right, span: s }, [e, right]);
      }
      return e;
    };
    return build(0, operands.length - 1, 0);
  }
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagPrev = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diagPrev + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagPrev = tmp;
    }
  }
  return prev[b.length]!;
}

let instance: LmpParser | undefined;

/** The one parser instance (Chevrotain parsers are built once and reused). */
export function parseTokens(tokens: IToken[], spans: SpanMaker): { decls: Decl[]; diagnostics: Diagnostic[] } {
  instance ??= new LmpParser();
  return instance.parseTokens(tokens, spans);
}
