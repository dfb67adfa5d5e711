import { describe, expect, it } from 'vitest';
import { parse, tokenize, type Expr, type NumberLit } from './index.js';

const types = (src: string) => tokenize(src, 't.lmp').tokens.map((t) => t.type);
const codes = (src: string) => tokenize(src, 't.lmp').diagnostics.map((d) => d.code);

/** The value expression of `tokenizer t = <src>`. */
function valueOf(src: string): Expr {
  const r = parse(`tokenizer t = ${src}`, 't.lmp');
  expect(r.diagnostics).toEqual([]);
  return r.program.decls[0]!.value!;
}
function num(src: string): NumberLit {
  const e = valueOf(src);
  expect(e.kind).toBe('Number');
  return e as NumberLit;
}

describe('numbers and units', () => {
  it.each([
    ['123', 123, 'count'],
    ['0.25', 0.25, 'count'],
    ['1_000_000', 1_000_000, 'count'],
    ['64_000', 64_000, 'count'],
    ['3e-4', 3e-4, 'count'],
    ['1.5E3', 1500, 'count'],
    ['2^13', 8192, 'count'],
    ['2^10k', 1024 * 1024, 'count'],
    ['4k', 4096, 'count'],
    ['8k', 8192, 'count'],
    ['2M', 2 ** 21, 'count'],
    ['1G', 2 ** 30, 'count'],
    ['2%', 0.02, 'percent'],
    ['10%', 0.1, 'percent'],
    ['50ms', 0.05, 'duration'],
    ['30s', 30, 'duration'],
    ['10min', 600, 'duration'],
    ['2h', 7200, 'duration'],
    ['512B', 512, 'bytes'],
    ['64KiB', 65536, 'bytes'],
    ['8MiB', 8 * 2 ** 20, 'bytes'],
    ['2GiB', 2 * 2 ** 30, 'bytes'],
  ])('%s = %d (%s)', (raw, value, unit) => {
    const n = num(raw);
    expect(n.value).toBe(value);
    expect(n.unit).toBe(unit);
    expect(n.raw).toBe(raw);
  });

  it("rejects 'm' as ambiguous (LMP0006)", () => {
    const d = tokenize('3m', 't.lmp').diagnostics;
    expect(d.map((x) => x.code)).toEqual(['LMP0006']);
    expect(d[0]!.help).toContain('min');
    expect(d[0]!.span).toMatchObject({ start: 0, end: 2 });
  });

  it('rejects unknown units (LMP0005)', () => {
    expect(codes('4x')).toEqual(['LMP0005']);
    expect(codes('3K')).toEqual(['LMP0005']);
    expect(codes('1TiB')).toEqual(['LMP0005']);
    expect(tokenize('7kb', 't').diagnostics[0]!.message).toBe("unknown unit 'kb' on number '7kb'");
  });

  it('rejects misplaced underscores and overflow (LMP0007)', () => {
    expect(codes('1__0')).toEqual(['LMP0007']);
    expect(codes('1_')).toEqual(['LMP0007']);
    expect(codes('1_k')).toEqual(['LMP0007']);
    expect(codes('2^5000')).toEqual(['LMP0007']);
  });

  it('lexes ranges without eating the dots', () => {
    expect(types('2.0..6.0')).toEqual(['Number', 'DotDot', 'Number']);
    expect(types('0..3')).toEqual(['Number', 'DotDot', 'Number']);
    expect(types('256..8k')).toEqual(['Number', 'DotDot', 'Number']);
    const r = valueOf('2.0..6.0');
    expect(r).toMatchObject({ kind: 'Range', from: { value: 2, raw: '2.0' }, to: { value: 6, raw: '6.0' } });
  });
});

describe('strings', () => {
  it('decodes every escape', () => {
    const e = valueOf('"a\\nb\\tc\\rd\\0e\\"f\\\\g\\u{1F600}h\\u{41}"');
    expect(e).toMatchObject({ kind: 'String', value: 'a\nb\tc\rd\0e"f\\g\u{1F600}hA' });
  });
  it('reports invalid escapes at the escape (LMP0003)', () => {
    const d = tokenize('"ab\\qc \\u{110000} \\u12"', 't').diagnostics;
    expect(d.map((x) => x.code)).toEqual(['LMP0003', 'LMP0003', 'LMP0003']);
    expect(d[0]!.span).toMatchObject({ start: 3, end: 5 });
    expect(d[0]!.message).toContain("'\\q'");
    expect(d[1]!.message).toContain('\\u{110000}');
  });
  it('reports unterminated strings (LMP0002) and keeps lexing on the next line', () => {
    const r = tokenize('"abc\n42', 't');
    expect(r.diagnostics.map((x) => x.code)).toEqual(['LMP0002']);
    expect(r.tokens.map((t) => t.type)).toEqual(['UnterminatedString', 'Number']);
    expect(codes('"abc\\"')).toEqual(['LMP0002']);
  });
});

describe('comments, keywords and bad characters', () => {
  it('collects line and block comments with spans', () => {
    const src = 'a // one\n/* two\n three */ b';
    const r = tokenize(src, 't');
    expect(r.tokens.map((t) => t.image)).toEqual(['a', 'b']);
    expect(r.comments.map((c) => [c.text, c.block, c.span.line, c.span.col])).toEqual([
      ['// one', false, 1, 3],
      ['/* two\n three */', true, 2, 1],
    ]);
  });
  it('reports an unterminated block comment (LMP0004)', () => {
    const r = tokenize('a /* never closed', 't');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['LMP0004']);
    expect(r.diagnostics[0]!.span).toMatchObject({ start: 2, end: 4 });
    expect(r.comments).toHaveLength(1);
  });
  it('reserves only true, false and then', () => {
    expect(types('true false then')).toEqual(['True', 'False', 'Then']);
    expect(types('truex thenable from in data mask')).toEqual(Array(6).fill('Ident'));
  });
  it('reports each unexpected character (LMP0001) and drops it', () => {
    const r = tokenize('a @ b\n  # 😀', 't');
    expect(r.tokens.map((t) => t.image)).toEqual(['a', 'b']);
    expect(r.diagnostics.map((d) => [d.code, d.message, d.span.line, d.span.col, d.span.end - d.span.start])).toEqual([
      ['LMP0001', "unexpected character '@'", 1, 3, 1],
      ['LMP0001', "unexpected character '#'", 2, 3, 1],
      ['LMP0001', "unexpected character '😀'", 2, 5, 2],
    ]);
  });
  it('lexes every punctuation token', () => {
    expect(types('{ } ( ) [ ] , : ; = . .. -> & | ! < <= > >= == != -')).toEqual([
      'LBrace', 'RBrace', 'LParen', 'RParen', 'LBracket', 'RBracket', 'Comma', 'Colon', 'Semicolon', 'Eq', 'Dot', 'DotDot',
      'Arrow', 'Amp', 'Pipe', 'Bang', 'LT', 'LE', 'GT', 'GE', 'EqEq', 'NotEq', 'Minus',
    ]);
  });
  it('computes line and column for \\n, \\r\\n and \\r line ends', () => {
    const r = tokenize('a\r\nb\rc\n  d', 't');
    expect(r.tokens.map((t) => [t.image, t.span.line, t.span.col, t.span.start])).toEqual([
      ['a', 1, 1, 0],
      ['b', 2, 1, 3],
      ['c', 3, 1, 5],
      ['d', 4, 3, 9],
    ]);
  });
});
