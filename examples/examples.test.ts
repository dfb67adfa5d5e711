import { describe, expect, it } from 'vitest';
import { parse, visit } from '../grammar/index.js';
import { examples } from '../grammar/test-util.js';

describe('examples', () => {
  const files = examples();
  it('exist', () => {
    expect(files.map(([f]) => f)).toEqual(
      expect.arrayContaining(['dataset_decomposition.lmp', 'decoding.lmp', 'eval_optimize.lmp', 'long_context.lmp', 'prepacking.lmp']),
    );
  });
  it.each(files)('%s parses with no diagnostics and no error nodes', (file, text) => {
    const { program, diagnostics } = parse(text, file);
    expect(diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.col} ${d.message}`)).toEqual([]);
    expect(program.decls.length).toBeGreaterThan(0);
    let errors = 0;
    visit(program, { ErrorExpr: () => void errors++ });
    expect(errors).toBe(0);
  });
});
