// Parser fuzzing: thousands of seeded, deterministic mutations of the examples (token
// deletions, insertions, swaps, duplications, truncations, garbage and random bytes). Every
// parse must return (no exception, bounded time), every diagnostic must lie inside the text
// with a matching line and column, and a parse without diagnostics must be a complete tree
// (no ErrorExpr) that the formatter's fuzz test (compiler/format) can round-trip.
import { describe, expect, it } from 'vitest';
import { parse, visit, type Diagnostic } from './index.js';
import { FUZZ_CASES, fuzzCorpus } from './test-util.js';

/** What is wrong with a diagnostic's span (undefined: nothing). */
function badSpan(d: Diagnostic, text: string): string | undefined {
  const { start, end, line, col } = d.span;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > text.length) {
    return `${d.code} [${start}, ${end}) outside 0..${text.length}`;
  }
  const before = text.slice(0, start).split(/\r\n|\r|\n/);
  const want = [before.length, before[before.length - 1]!.length + 1];
  if (line !== want[0] || col !== want[1]) return `${d.code} at ${line}:${col}, offset ${start} is ${want.join(':')}`;
  return undefined;
}

describe('parser fuzz', () => {
  it(`survives ${FUZZ_CASES} mutations of the examples`, () => {
    // Time-boxed in CPU time, so that a loaded machine does not fail the test.
    const cpu0 = process.cpuUsage();
    const corpus = fuzzCorpus();
    let clean = 0;
    let slowest = 0;
    const codes = new Set<string>();
    const problems: string[] = [];
    for (const { text, ops, from } of corpus) {
      const c0 = performance.now();
      let r: ReturnType<typeof parse>;
      try {
        r = parse(text, 'fuzz.lmp');
      } catch (e) {
        throw new Error(`parse threw on a mutation (${ops.join(', ')}) of ${from}: ${String(e)}\n---\n${text}`);
      }
      slowest = Math.max(slowest, performance.now() - c0);
      for (const d of r.diagnostics) {
        const bad = badSpan(d, text);
        if (bad) problems.push(`${bad} (${ops.join(', ')} of ${from})`);
        codes.add(d.code);
      }
      if (r.diagnostics.length > 101) problems.push(`${r.diagnostics.length} diagnostics`);
      let errorNodes = 0;
      visit(r.program, { ErrorExpr: () => void errorNodes++ });
      if (errorNodes > 0 && !r.diagnostics.some((d) => d.severity === 'error')) {
        problems.push(`an ErrorExpr without an error (${ops.join(', ')} of ${from}):\n${text}`);
      }
      if (r.diagnostics.length === 0) clean++;
    }
    expect(problems).toEqual([]);
    const used = process.cpuUsage(cpu0);
    const cpuMs = (used.user + used.system) / 1000;
    // Every mutation kind produced some invalid text, and some stayed valid (comments,
    // whitespace, or a token that still fits): both halves of the property were exercised.
    expect(clean).toBeGreaterThan(30);
    expect(clean).toBeLessThan(corpus.length / 2);
    for (const code of ['LMP0001', 'LMP0002', 'LMP0101', 'LMP0103', 'LMP0104', 'LMP0105']) expect(codes).toContain(code);
    expect(slowest).toBeLessThan(2000);
    expect(cpuMs).toBeLessThan(20_000);
  });

  it('is deterministic', () => {
    const a = fuzzCorpus(50);
    const b = fuzzCorpus(50);
    expect(a).toEqual(b);
    expect(a.map((c) => parse(c.text, 'f').diagnostics.map((d) => d.code))).toEqual(b.map((c) => parse(c.text, 'f').diagnostics.map((d) => d.code)));
  });
});
