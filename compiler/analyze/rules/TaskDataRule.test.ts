import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { TaskDataRule } from './TaskDataRule.js';

describe('TaskDataRule', () => {
  it('reports tsort without a data clause at the eval name', () => {
    const ds = run('eval e {\n  task tsort(lengths: [1k])\n}\n', TaskDataRule);
    expect(at(ds)).toEqual(['LMP0208@1:6']);
    expect(ds[0]!.message).toBe("eval 'e' has no 'data' clause");
    expect(ds[0]!.help).toBe("tsort cuts the text of a data declaration into segments: add 'data D' (or D.holdout / D.train)");
  });
  it('accepts a data clause, own or inherited, and tasks that read none', () => {
    expect(run('data d { source text("a") }\neval e {\n  task tsort(lengths: [1k])\n  data d.holdout\n}\neval f from e {\n  seed 3\n}\n', TaskDataRule)).toEqual([]);
    expect(run('eval e {\n  task passkey(lengths: [1k])\n}\n', TaskDataRule)).toEqual([]);
  });
});
