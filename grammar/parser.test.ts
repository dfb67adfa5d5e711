import { describe, expect, it } from 'vitest';
import {
  DECL_KINDS,
  DECL_SPECS,
  MAX_DEPTH,
  parse,
  visit,
  VISITOR_KEYS,
  type Clause,
  type Decl,
  type Expr,
  type Node,
  type NodeKind,
} from './index.js';
import { examples, stripSpans } from './test-util.js';

const ok = (src: string) => {
  const r = parse(src, 't.lmp');
  expect(r.diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.col} ${d.message}`)).toEqual([]);
  return r.program;
};
const expr = (src: string): Expr => ok(`attention a { mask ${src} }`).decls[0]!.clauses[0]!.args[0]!;
const clause = (kind: string, src: string): Clause => ok(`${kind} x { ${src} }`).decls[0]!.clauses[0]!;
const diags = (src: string) => parse(src, 't.lmp').diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.col} ${d.message}`);

/** A compact rendering of an expression tree, parenthesizing every operator. */
function show(e: Expr): string {
  switch (e.kind) {
    case 'Number':
    case 'String':
      return e.raw;
    case 'Bool':
      return String(e.value);
    case 'Ident':
      return e.name;
    case 'Member':
      return `${show(e.object)}.${e.property.name}`;
    case 'Call':
      return `${show(e.callee)}(${e.args.map((a) => (a.name ? `${a.name.name}: ` : '') + show(a.value)).join(', ')})`;
    case 'List':
      return `[${e.items.map(show).join(', ')}]`;
    case 'Tuple':
      return `tuple(${e.items.map(show).join(', ')})`;
    case 'Map':
      return `{${e.entries.map((en) => `${show(en.key)}: ${show(en.value)}`).join(', ')}}`;
    case 'Paren':
      return `paren(${show(e.expr)})`;
    case 'Range':
      return `(${show(e.from)}..${show(e.to)})`;
    case 'Unary':
      return `(${e.op}${show(e.operand)})`;
    case 'Binary':
      return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case 'Chain':
      return `chain(${e.items.map(show).join(', ')})`;
    case 'Then':
      return `then(${e.items.map(show).join(', ')})`;
    case 'ErrorExpr':
      return '<error>';
  }
}

describe('expressions', () => {
  it.each([
    ['causal & sink(4) | window(1k)', '((causal & sink(4)) | window(1k))'],
    ['causal & (sink(4) | window(1k))', '(causal & paren((sink(4) | window(1k))))'],
    ['a | b & c', '(a | (b & c))'],
    ['a & b & c', '((a & b) & c)'],
    ['!a & b', '((!a) & b)'],
    ['!!a', '(!(!a))'],
    ['a < b & c >= d', '((a < b) & (c >= d))'],
    ['x == 1 | y != 2', '((x == 1) | (y != 2))'],
    ['0..3', '(0..3)'],
    ['-1..1', '((-1)..1)'],
    ['a..b < c', '((a..b) < c)'],
    ['quantile(logprob, 0.1) < -2.5', '(quantile(logprob, 0.1) < (-2.5))'],
    ['a -> b -> c', 'chain(a, b, c)'],
    ['warmup(100) then cosine(to: 10%)', 'then(warmup(100), cosine(to: 10%))'],
    ['a then b -> c then d', 'chain(then(a, b), then(c, d))'],
    ['a | b -> c', 'chain((a | b), c)'],
    ['a.b.c', 'a.b.c'],
    ['a.b(x, name: y).c', 'a.b(x, name: y).c'],
    ['f()', 'f()'],
    ['f(a,)', 'f(a)'],
    ['f(from: 1, to: 2)', 'f(from: 1, to: 2)'],
    ['(a)', 'paren(a)'],
    ['(a, b)', 'tuple(a, b)'],
    ['(a,)', 'tuple(a)'],
    ['[]', '[]'],
    ['[1, 2, 3,]', '[1, 2, 3]'],
    ['{256: 32, 1k: 8}', '{256: 32, 1k: 8}'],
    ['{"a": 1, cpu: 64,}', '{"a": 1, cpu: 64}'],
    ['{}', '{}'],
    ['true & false', '(true & false)'],
    ['"s"', '"s"'],
  ])('%s', (src, want) => {
    expect(show(expr(src))).toBe(want);
  });

  it('keeps the literal text of numbers and strings', () => {
    expect(expr('1_000')).toMatchObject({ kind: 'Number', raw: '1_000', value: 1000 });
    expect(expr('"a\\n"')).toMatchObject({ kind: 'String', raw: '"a\\n"', value: 'a\n' });
  });

  it('reports chained comparisons and ranges', () => {
    expect(diags('attention a { mask a < b < c }')).toEqual(["LMP0101 1:26 expected the end of the comparison, found '<'"]);
    expect(diags('attention a { tile 1..2..3 }')).toEqual(["LMP0101 1:24 expected the end of the range, found '..'"]);
  });
});

describe('declarations', () => {
  it('parses block and value forms, with and without a base', () => {
    const p = ok('tokenizer t = bytes()\ndata d from base { seed 1 }\ncurriculum c = fixed(8k, tokens_per_step: 64k)');
    expect(p.decls.map((d) => [d.declKind, d.name.name, d.base?.name, d.form])).toEqual([
      ['tokenizer', 't', undefined, 'value'],
      ['data', 'd', 'base', 'block'],
      ['curriculum', 'c', undefined, 'value'],
    ]);
    expect(show(p.decls[0]!.value!)).toBe('bytes()');
    expect(p.decls[1]!.clauses).toHaveLength(1);
  });

  it('accepts every declaration kind and an empty block', () => {
    const p = ok(DECL_KINDS.map((k) => `${k} x {}`).join('\n'));
    expect(p.decls.map((d) => d.declKind)).toEqual([...DECL_KINDS]);
  });

  it('rejects the value form where the clause table has none (LMP0108)', () => {
    const kinds = DECL_KINDS.filter((k) => DECL_SPECS[k].valueForm === undefined);
    for (const k of kinds) expect(diags(`${k} x = 1`)).toEqual([`LMP0108 1:${k.length + 4} a ${k} declaration cannot be written as '= expr'`]);
  });

  it('reports an unknown declaration kind (LMP0102) and resumes at the next declaration', () => {
    const r = parse('datum d { a b }\ndata e { seed 1 }', 't.lmp');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['LMP0102']);
    expect(r.diagnostics[0]!.help).toContain('tokenizer, data, curriculum');
    expect(r.program.decls.map((d) => d.name.name)).toEqual(['e']);
  });

  it('allows contextual keywords as names', () => {
    const p = ok('data from { source text(from: "a") }\ntrain data { data from  model data }');
    expect(p.decls[1]!.clauses.map((c) => [c.keyword, show(c.args[0]!)])).toEqual([
      ['data', 'from'],
      ['model', 'data'],
    ]);
  });

  it('separates clauses sharing a line', () => {
    const p = ok('attention a { mask causal  score softmax(temperature: 0.9)  position alibi() }');
    expect(p.decls[0]!.clauses.map((c) => c.keyword)).toEqual(['mask', 'score', 'position']);
    ok('data d { seed 1; seed 2; }');
  });
});

describe('clause shapes', () => {
  it("'one' argument with a valued modifier", () => {
    const c = clause('data', 'source jsonl("c.jsonl", field: "content") weight 0.25');
    expect(c.args.map(show)).toEqual(['jsonl("c.jsonl", field: "content")']);
    expect(c.modifiers.map((m) => [m.keyword, m.value && show(m.value)])).toEqual([['weight', '0.25']]);
  });
  it("a modifier word that is also a clause keyword binds to the clause (holdout 2% seed 7)", () => {
    const d = ok('data d { holdout 2% seed 7  seed 3 }').decls[0]!;
    expect(d.clauses.map((c) => [c.keyword, c.modifiers.map((m) => m.keyword)])).toEqual([
      ['holdout', ['seed']],
      ['seed', []],
    ]);
  });
  it("'list' arguments", () => {
    expect(clause('decode', 'trace entropy, surprise').args.map(show)).toEqual(['entropy', 'surprise']);
    expect(clause('decode', 'stop "\\n\\n", "END"').args.map(show)).toEqual(['"\\n\\n"', '"END"']);
  });
  it("'optional' arguments, a modifier and a body", () => {
    const c = clause('train', 'eval every 200: perplexity(speeches.holdout, by: length)');
    expect(c.args).toEqual([]);
    expect(c.modifiers.map((m) => [m.keyword, show(m.value!)])).toEqual([['every', '200']]);
    expect(show(c.body!)).toBe('perplexity(speeches.holdout, by: length)');
    expect(clause('train', 'eval perplexity(d)').args.map(show)).toEqual(['perplexity(d)']);
  });
  it('a flag modifier (no value)', () => {
    const c = clause('attention', 'cache keep(sink(4) | window(1k)) reposition');
    expect(c.modifiers.map((m) => [m.keyword, m.value])).toEqual([['reposition', undefined]]);
  });
  it('several modifiers, a flag among them, and no arguments', () => {
    const c = clause('decode', 'speculate draft small candidates adaptive(max: 16, stop_when: rejection > 0.3) greedy');
    expect(c.args).toEqual([]);
    expect(c.modifiers.map((m) => [m.keyword, m.value && show(m.value)])).toEqual([
      ['draft', 'small'],
      ['candidates', 'adaptive(max: 16, stop_when: (rejection > 0.3))'],
      ['greedy', undefined],
    ]);
  });
  it('a two-word modifier and a two-word clause keyword', () => {
    const c = clause('decode', 'cascade small -> big defer when quantile(logprob, 0.1) < -2.5');
    expect(show(c.args[0]!)).toBe('chain(small, big)');
    expect(c.modifiers.map((m) => [m.keyword, show(m.value!)])).toEqual([['defer when', '(quantile(logprob, 0.1) < (-2.5))']]);
    const s = clause('optimize', 'subject to latency.p50 < 50ms');
    expect([s.keyword, show(s.args[0]!)]).toEqual(['subject to', '(latency.p50 < 50ms)']);
    expect(s.keywordSpan).toMatchObject({ start: 13, end: 23 });
  });
  it('a required body', () => {
    const c = clause('attention', 'heads 0..3: causal & (sink(64) | window(256))');
    expect([show(c.args[0]!), show(c.body!)]).toEqual(['(0..3)', '(causal & paren((sink(64) | window(256))))']);
    expect(diags('attention a { heads 0..3 }')).toEqual(["LMP0109 1:15 'heads' needs ': expr' after its arguments"]);
  });
  it('a body where none is allowed (LMP0110)', () => {
    expect(diags('attention a { mask causal: x }')).toEqual(["LMP0110 1:26 'mask' takes no ': expr' body"]);
  });
  it('missing arguments (LMP0111)', () => {
    expect(diags('train t { steps }')).toEqual(["LMP0111 1:17 'steps' needs an expression, found '}'"]);
    expect(diags('train t { checkpoint every 5 }')).toEqual(["LMP0111 1:22 'checkpoint' needs an expression, found 'every'"]);
  });
  it('an unknown clause (LMP0103) lists the accepted clauses and suggests a near one', () => {
    const r = parse('data d { sorce text("a")\n  seed 1 }', 't.lmp');
    expect(r.diagnostics).toHaveLength(1);
    const d = r.diagnostics[0]!;
    expect([d.code, d.message, d.help]).toEqual([
      'LMP0103',
      "unknown clause 'sorce' in data 'd'",
      'data accepts: source, tokenizer, filter, holdout, pack, seed',
    ]);
    expect(d.notes.map((n) => n.message)).toEqual(["did you mean 'source'?"]);
    expect(r.program.decls[0]!.clauses.map((c) => c.keyword)).toEqual(['seed']);
  });
});

describe('error recovery', () => {
  it('reports five independent errors on their lines and keeps the good clauses', () => {
    const src = [
      'data d {',
      '  source text("a") weight', // 2: missing modifier value (the next line starts with a clause)
      '  pack decompose(min: 256 max: 8k)', // 3: missing comma
      '  colour red', // 4: unknown clause
      '  seed 7',
      '}',
      'attention a {',
      '  mask causal & & window(4)', // 8: missing operand
      '  position rope(',
      '  cache full', // 10: unclosed paren (found 'cache' on the next line)
      '}',
      'model m { arch llama(dim: 8) }',
    ].join('\n');
    const r = parse(src, 't.lmp');
    expect(r.diagnostics.map((d) => [d.code, d.span.line])).toEqual([
      ['LMP0104', 3],
      ['LMP0101', 3],
      ['LMP0103', 4],
      ['LMP0104', 8],
      ['LMP0101', 10],
    ]);
    expect(r.diagnostics[1]!.message).toBe("expected ',' or ')' to close '(' at 3:17, found 'max'");
    expect(r.diagnostics[4]!.message).toBe("expected ')' to close '(' at 9:16, found 'cache'");
    expect(r.program.decls.map((d) => [d.name.name, d.clauses.map((c) => c.keyword)])).toEqual([
      ['d', ['source', 'pack', 'seed']],
      ['a', ['mask', 'position', 'cache']],
      ['m', ['arch']],
    ]);
  });

  it('puts an ErrorExpr where an expression is missing', () => {
    const r = parse('attention a { mask causal & }', 't.lmp');
    expect(r.diagnostics.map((d) => d.message)).toEqual(["expected an expression after '&', found '}'"]);
    const e = r.program.decls[0]!.clauses[0]!.args[0]!;
    expect(show(e)).toBe('(causal & <error>)');
  });

  it('ends a block that is never closed at the next declaration (LMP0105)', () => {
    const r = parse('data d { seed 1\nattention a { mask causal }', 't.lmp');
    expect(r.diagnostics.map((d) => [d.code, d.message, d.span.line, d.span.col])).toEqual([['LMP0105', "'{' is never closed", 1, 8]]);
    expect(r.program.decls.map((d) => d.name.name)).toEqual(['d', 'a']);
  });

  it('reports an unclosed bracket at end of file at the bracket', () => {
    const r = parse('model m = load("x"', 't.lmp');
    expect(r.diagnostics.map((d) => [d.code, d.message, d.span.col])).toEqual([['LMP0105', "'(' is never closed", 15]]);
  });

  it('names what it expected and what it found', () => {
    expect(diags('data')).toEqual(["LMP0101 1:5 expected a name after 'data', found end of file"]);
    expect(diags('data x y')).toEqual(["LMP0101 1:8 expected '{' or '=' after data 'x', found 'y'"]);
    expect(diags('data x { 42 }')).toEqual(["LMP0101 1:10 expected a clause of data 'x' or '}', found '42'"]);
    expect(diags('}')).toEqual([
      "LMP0101 1:1 expected a declaration (tokenizer, data, curriculum, attention, model, train, decode, eval, optimize), found '}'",
    ]);
    expect(diags('attention a { mask x. }')).toEqual(["LMP0101 1:23 expected a name after '.', found '}'"]);
    expect(diags('attention a { tile {a 1} }')).toEqual(["LMP0101 1:23 expected ':' after the map key 'a', found '1'"]);
  });

  it('stops at 100 errors with LMP0107', () => {
    const r = parse('data d {\n' + '  seed\n'.repeat(150) + '}', 't.lmp');
    expect(r.diagnostics).toHaveLength(101);
    expect(r.diagnostics[100]).toMatchObject({ code: 'LMP0107', severity: 'info', message: 'too many errors; stopped after 100' });
  });

  it('never throws on odd input', () => {
    for (const src of ['', ' ', '{', '}', ')', 'data', 'data x', 'data x {', 'data x = ', '= = =', 'data x { mask ( [ { }', '"', '/*', '\0\u2028\uFEFF']) {
      expect(() => parse(src, 't.lmp')).not.toThrow();
    }
  });
});

describe('nesting limits', () => {
  const mask = (m: string) => `attention a { mask ${m} }`;
  it(`accepts ${MAX_DEPTH} levels and reports one more (LMP0106)`, () => {
    const n = MAX_DEPTH - 1; // parens around an identifier: depth n + 1
    expect(diags(mask(`${'('.repeat(n)}causal${')'.repeat(n)}`))).toEqual([]);
    expect(diags(mask(`${'('.repeat(n + 1)}causal${')'.repeat(n + 1)}`)).map((d) => d.slice(0, 7))).toEqual(['LMP0106']);
    expect(diags(mask(`${'!'.repeat(n)}causal`))).toEqual([]);
    expect(diags(mask(`${'!'.repeat(n + 1)}causal`)).map((d) => d.slice(0, 7))).toEqual(['LMP0106']);
  });

  it.each([
    ['parentheses', '('.repeat(100_000) + 'causal' + ')'.repeat(100_000)],
    ['negations', '!'.repeat(100_000) + 'causal'],
    ['calls', 'f('.repeat(50_000) + 'x' + ')'.repeat(50_000)],
    ['lists', '['.repeat(50_000) + ']'.repeat(50_000)],
    ['maps', '{a: '.repeat(50_000) + '1' + '}'.repeat(50_000)],
    ['an & chain', Array(20_000).fill('causal').join(' & ')],
    ['a member chain', 'a' + '.b'.repeat(20_000)],
    ['unclosed parentheses', '('.repeat(100_000)],
  ])('100k-deep %s: one LMP0106, no crash, the next clause still parses', (_, m) => {
    const r = parse(`attention a { mask ${m}  position alibi() }\nmodel b { seed 1 }`, 't.lmp');
    if (m.endsWith('(')) {
      // Never closed: the block ends at the next declaration (LMP0105), and so does the
      // innermost '(' still open (LMP0101: found 'model').
      expect(r.diagnostics.map((d) => d.code)).toEqual(['LMP0105', 'LMP0106', 'LMP0101']);
    } else {
      expect(r.diagnostics.map((d) => d.code)).toEqual(['LMP0106']);
      expect(r.program.decls[0]!.clauses.map((c) => c.keyword)).toEqual(['mask', 'position']);
    }
    expect(r.program.decls.map((d) => d.name.name)).toContain('b');
    // The tree itself stays shallow: nothing deeper than MAX_DEPTH (plus the clause).
    let deepest = 0;
    visit(r.program, { enter: (_n, parents) => void (deepest = Math.max(deepest, parents.length)) });
    expect(deepest).toBeLessThanOrEqual(MAX_DEPTH + 4);
  });
});

describe('spans', () => {
  const src = [
    '// a comment',
    'data speeches {',
    '  source jsonl("corpus/code.jsonl", field: "content") weight 0.25',
    '  holdout 2% seed 7',
    '}',
    'decode cheap { cascade small -> big defer when quantile(logprob, 0.1) < -2.5 }',
  ].join('\n');
  const r = parse(src, 'spans.lmp');
  const at = (n: { span: { start: number; end: number } }) => src.slice(n.span.start, n.span.end);

  it('cover exactly the text of each node', () => {
    expect(r.diagnostics).toEqual([]);
    const [data, decode] = r.program.decls as [Decl, Decl];
    expect(at(data)).toBe(src.slice(src.indexOf('data'), src.indexOf('}') + 1));
    expect(at({ span: data.keywordSpan })).toBe('data');
    const source = data.clauses[0]!;
    expect(at(source)).toBe('source jsonl("corpus/code.jsonl", field: "content") weight 0.25');
    expect(at(source.args[0]!)).toBe('jsonl("corpus/code.jsonl", field: "content")');
    expect(at(source.modifiers[0]!)).toBe('weight 0.25');
    const call = source.args[0]! as Extract<Expr, { kind: 'Call' }>;
    expect(call.args.map(at)).toEqual(['"corpus/code.jsonl"', 'field: "content"']);
    const cascade = decode.clauses[0]!;
    expect(at({ span: cascade.modifiers[0]!.keywordSpan })).toBe('defer when');
    expect(at(cascade.modifiers[0]!.value!)).toBe('quantile(logprob, 0.1) < -2.5');
    expect(at(r.program.comments[0]!)).toBe('// a comment');
  });

  it('give line and column of the start, matching the offsets, on every node', () => {
    for (const [file, text] of [['spans.lmp', src] as const, ...examples()]) {
      const p = parse(text, file).program;
      visit(p, {
        enter: (n) => {
          const { start, end, line, col } = n.span;
          expect(n.span.file).toBe(file);
          expect(0 <= start && start <= end && end <= text.length).toBe(true);
          const before = text.slice(0, start).split(/\r\n|\r|\n/);
          expect([line, col]).toEqual([before.length, before[before.length - 1]!.length + 1]);
          if (n.kind === 'Ident') expect(text.slice(start, end)).toBe(n.name);
          if (n.kind === 'Number' || n.kind === 'String') expect(text.slice(start, end)).toBe(n.raw);
        },
      });
    }
  });
});

describe('VISITOR_KEYS', () => {
  /** Every node reachable through any property (Program.comments aside: not children). */
  function allNodes(root: Node): Node[] {
    const out: Node[] = [];
    const stack: unknown[] = [root];
    while (stack.length > 0) {
      const v = stack.pop();
      if (Array.isArray(v)) stack.push(...v);
      else if (v && typeof v === 'object' && 'kind' in v && 'span' in v) {
        out.push(v as Node);
        for (const [k, c] of Object.entries(v)) if (!(k === 'comments' && (v as Node).kind === 'Program')) stack.push(c);
      }
    }
    return out;
  }

  it('reach every child node of every example, and every node kind appears', () => {
    const kinds = new Set<NodeKind>();
    const extra = `attention extra { mask ${'!'}(a < b) & [1, (2, 3)] | {k: "v", 1: true} | x.y(n: -1..2) }\ntrain t { schedule a then b  eval every 1: c -> d }`;
    for (const [file, text] of [...examples(), ['extra.lmp', extra] as const, ['error.lmp', 'attention a { mask causal & }'] as const]) {
      const p = parse(text, file).program;
      const visited = new Set<Node>();
      visit(p, { enter: (n) => void visited.add(n) });
      const all = allNodes(p);
      for (const n of all) {
        kinds.add(n.kind);
        expect(visited.has(n), `${file}: ${n.kind} at ${n.span.line}:${n.span.col} is not visited`).toBe(true);
      }
      expect(visited.size).toBe(all.length);
    }
    kinds.add('Comment');
    expect([...kinds].sort()).toEqual(Object.keys(VISITOR_KEYS).sort());
  });

  it('parse the same program the same way twice (the parser instance is reused)', () => {
    const [, text] = examples()[0]!;
    expect(stripSpans(parse(text, 'a').program)).toEqual(stripSpans(parse(text, 'b').program));
  });
});

describe('partial trees', () => {
  const clauseOf = (src: string) => parse(src, 't.lmp').program.decls[0]!.clauses[0]!;
  it('keeps what parsed and puts the ErrorExpr where the error was', () => {
    const a = clauseOf('data d { source text("a") weight f(1 2)\n  seed 1 }');
    expect([a.args.map((e) => e.kind), a.modifiers.map((m) => [m.keyword, m.value?.kind]), a.body]).toEqual([['Call'], [['weight', 'ErrorExpr']], undefined]);
    const b = clauseOf('attention a { heads 0..3: causal & f(1 2) }');
    expect([b.args.map((e) => e.kind), b.body?.kind]).toEqual([['Range'], 'ErrorExpr']);
    const c = clauseOf('decode d { stop "a", f(1 2) }');
    expect(c.args.map((e) => e.kind)).toEqual(['String', 'ErrorExpr']);
  });
});
