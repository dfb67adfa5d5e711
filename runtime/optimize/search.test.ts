import { describe, expect, test } from 'vitest';
import { Rng } from '../data/rng.js';
import type { Frozen, OptimizeSpec } from '../entry/spec.js';
import { GridSearch } from './grid.js';
import { halvingRungs, SuccessiveHalving } from './halving.js';
import { RandomSearch } from './random.js';
import { parseOptimizeResult, serializeOptimizeResult } from './result.js';
import { runSearch, strategyOf, type RunTrial } from './search.js';
import { formatValue, gridAxis, knobsOf, OptimizeError, type Values } from './space.js';
import type { Strategy } from './strategy.js';
import { categoricalProbs, ParzenEstimator, TpeSearch } from './tpe.js';

type Vary = OptimizeSpec['vary'];

function spec(over: Partial<Frozen<OptimizeSpec>> = {}): Frozen<OptimizeSpec> {
  return {
    kind: 'optimize',
    name: 'o',
    where: 'x.lmp:1:1',
    unsupported: [],
    vary: [{ path: 'a.b.c', values: { from: 0, to: 1, integer: false } }],
    objective: { direction: 'maximize', metric: 'e.score' },
    constraints: [],
    search: { kind: 'random', params: { trials: 10, seed: 0 } },
    budget: { trials: null, time: null, cost: null },
    save: null,
    seed: 0,
    ...over,
  };
}

/** Every proposal of a strategy whose score comes from f (higher is better). */
function drive(s: Strategy, f: (v: Values) => number | null, max = 10_000): { values: Values; budget: number }[] {
  const out: { values: Values; budget: number }[] = [];
  for (let p = s.ask(); p && out.length < max; p = s.ask()) {
    out.push(p);
    s.tell(p, f(p.values));
  }
  return out;
}

const x = (v: Values, k = 'x'): number => v[k] as number;

describe('space', () => {
  test('knobs, grid axes and value text', () => {
    const knobs = knobsOf([
      { path: 'w', values: { list: [256, 512] } },
      { path: 's', values: { from: 0, to: 3, integer: true } },
      { path: 't', values: { from: 2, to: 6, integer: false } },
    ]);
    expect(knobs.map(gridAxis)).toEqual([[256, 512], [0, 1, 2, 3], [2, 3, 4, 5, 6]]);
    expect(formatValue(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(formatValue(1024)).toBe('1024');
    expect(() => knobsOf([])).toThrow(OptimizeError);
    expect(() => knobsOf([{ path: 'w', values: { list: [] } }])).toThrow(/empty/);
  });
});

describe('grid', () => {
  test('enumerates exactly the product, last knob fastest', () => {
    const g = new GridSearch(
      knobsOf([
        { path: 'w', values: { list: [1, 2] } },
        { path: 's', values: { from: 0, to: 2, integer: true } },
      ]),
    );
    expect(g.total).toBe(6);
    const seen = drive(g, () => 0).map((p) => [p.values['w'], p.values['s']]);
    expect(seen).toEqual([
      [1, 0],
      [1, 1],
      [1, 2],
      [2, 0],
      [2, 1],
      [2, 2],
    ]);
  });
  test('a huge integer range is enumerated lazily', () => {
    const g = new GridSearch(knobsOf([{ path: 'n', values: { from: 0, to: 1e9, integer: true } }]));
    expect(g.total).toBe(1e9 + 1);
    expect(g.ask()!.values).toEqual({ n: 0 });
    expect(g.at(1e9)).toEqual({ n: 1e9 });
  });
  test('float range: 5 evenly spaced points with both ends', () => {
    const g = new GridSearch(knobsOf([{ path: 't', values: { from: 2, to: 6, integer: false } }]));
    expect(drive(g, () => 0).map((p) => p.values['t'])).toEqual([2, 3, 4, 5, 6]);
  });
});

const space2: Vary = [
  { path: 'x', values: { from: 0, to: 1, integer: false } },
  { path: 'n', values: { from: 0, to: 16, integer: true } },
  { path: 'w', values: { list: [256, 512, 1024] } },
];

describe('random and tpe are seeded', () => {
  for (const kind of ['random', 'tpe'] as const) {
    test(`${kind}: same seed same proposals, other seed other proposals`, () => {
      const run = (seed: number) => {
        const knobs = knobsOf(space2);
        const s = kind === 'random' ? new RandomSearch(knobs, 30, new Rng(seed)) : new TpeSearch(knobs, 30, new Rng(seed));
        return drive(s, (v) => -((x(v) - 0.3) ** 2) - Math.abs(x(v, 'n') - 5)).map((p) => p.values);
      };
      const a = run(1);
      expect(a).toHaveLength(30);
      expect(run(1)).toEqual(a);
      expect(run(2)).not.toEqual(a);
      for (const v of a) {
        expect(x(v)).toBeGreaterThanOrEqual(0);
        expect(x(v)).toBeLessThanOrEqual(1);
        expect(Number.isInteger(x(v, 'n')) && x(v, 'n') >= 0 && x(v, 'n') <= 16).toBe(true);
        expect([256, 512, 1024]).toContain(v['w']);
      }
    });
  }
  test('the spec seed and the search seed both change the sequence', () => {
    const first = (s: Frozen<OptimizeSpec>) => strategyOf(s).ask()!.values;
    const base = spec({ vary: space2 });
    expect(first(base)).toEqual(first(base));
    expect(first(spec({ vary: space2, seed: 3 }))).not.toEqual(first(base));
    expect(first(spec({ vary: space2, search: { kind: 'random', params: { trials: 10, seed: 5 } } }))).not.toEqual(first(base));
  });
});

describe('tpe', () => {
  test('parzen estimator: a density over [lo, hi] (integrates to 1) peaked at the observations', () => {
    const pe = new ParzenEstimator([0.3, 0.31, 0.29], 0, 1);
    let area = 0;
    const n = 2000;
    for (let i = 0; i < n; i++) area += Math.exp(pe.logPdf((i + 0.5) / n)) / n;
    expect(area).toBeCloseTo(1, 2);
    expect(pe.logPdf(0.3)).toBeGreaterThan(pe.logPdf(0.8));
    const rng = new Rng(4);
    for (let i = 0; i < 100; i++) {
      const s = pe.sample(rng);
      expect(s >= 0 && s <= 1).toBe(true);
    }
  });
  test('categorical: smoothed counts', () => {
    expect(categoricalProbs([1, 1, 2], [1, 2, 3, 4])).toEqual([2.25 / 4, 1.25 / 4, 0.25 / 4, 0.25 / 4]);
  });

  /** Trials until the objective first reaches `target` (cap when never). */
  function trialsToReach(make: (seed: number) => Strategy, f: (v: Values) => number, target: number, seed: number, cap: number): number {
    const s = make(seed);
    let n = 0;
    for (let p = s.ask(); p && n < cap; p = s.ask()) {
      n++;
      const y = f(p.values);
      if (y >= target) return n;
      s.tell(p, y);
    }
    return cap;
  }
  const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

  test('1-D: reaches the optimum of -(x-0.3)^2 in fewer trials than random on average', () => {
    const knobs = knobsOf([{ path: 'x', values: { from: 0, to: 1, integer: false } }]);
    const f = (v: Values) => -((x(v) - 0.3) ** 2);
    const target = -(0.005 ** 2); // |x - 0.3| <= 0.005: random needs 100 trials on average
    const cap = 400;
    const tpe = seeds.map((s) => trialsToReach((seed) => new TpeSearch(knobs, cap, new Rng(seed)), f, target, s, cap));
    const rnd = seeds.map((s) => trialsToReach((seed) => new RandomSearch(knobs, cap, new Rng(seed)), f, target, s, cap));
    expect(mean(tpe)).toBeLessThan(mean(rnd) / 2);
  });

  test('2-D: reaches the optimum of -(x-0.3)^2-(y-0.7)^2 in fewer trials than random on average', () => {
    const knobs = knobsOf([
      { path: 'x', values: { from: 0, to: 1, integer: false } },
      { path: 'y', values: { from: 0, to: 1, integer: false } },
    ]);
    const f = (v: Values) => -((x(v) - 0.3) ** 2) - (x(v, 'y') - 0.7) ** 2;
    const target = -(0.03 ** 2); // a disc of radius 0.03: random needs ~350 trials on average
    const cap = 600;
    const tpe = seeds.map((s) => trialsToReach((seed) => new TpeSearch(knobs, cap, new Rng(seed)), f, target, s, cap));
    const rnd = seeds.map((s) => trialsToReach((seed) => new RandomSearch(knobs, cap, new Rng(seed)), f, target, s, cap));
    expect(mean(tpe)).toBeLessThan(mean(rnd) / 2);
  });

  test('with a constraint: infeasible trials (told as null) are never best and the search still closes in on the boundary', async () => {
    // maximize x subject to x <= 0.5: the best is the largest feasible x
    for (const seed of [1, 2, 3]) {
      const s = spec({ search: { kind: 'tpe', params: { trials: 60, seed } }, constraints: [{ metric: 'e.x', op: '<=', value: 0.5 }] });
      const r = await runSearch(s, async (v) => ({ metrics: { 'e.score': x(v, 'a.b.c'), 'e.x': x(v, 'a.b.c') }, seconds: 0 }));
      expect(r.trials.some((t) => !t.feasible)).toBe(true);
      expect(r.best!.objective).toBeLessThanOrEqual(0.5);
      expect(r.best!.objective).toBeGreaterThan(0.45);
    }
  });
});

describe('halving', () => {
  test('rung plan', () => {
    expect(halvingRungs(9, 3)).toEqual([
      { count: 9, budget: 1 / 9 },
      { count: 3, budget: 1 / 3 },
      { count: 1, budget: 1 },
    ]);
    expect(halvingRungs(10, 2).map((r) => r.count)).toEqual([10, 5, 2, 1]);
    expect(halvingRungs(1, 3)).toEqual([{ count: 1, budget: 1 }]);
  });
  test('keeps the top 1/eta of each rung (ties to the earlier trial), in their original order', () => {
    const s = new SuccessiveHalving(knobsOf([{ path: 'x', values: { list: [0, 1, 2, 3, 4, 5, 6, 7, 8] } }]), 9, 3, new Rng(0));
    // score: a fixed table by configuration position, so the hand case does not depend on the draws
    const firstRung: Values[] = [];
    const order = new Map<Values, number>();
    const scores = [5, 9, 1, 9, 3, 7, 2, 0, 8]; // rung 0: the best three are #1 (9), #3 (9), #8 (8)
    const late = [4, 6, 5]; // rung 1 scores of #1, #3, #8: #3 wins
    const seen: { pos: number; budget: number }[] = [];
    let rungPos = 0;
    let rung = 0;
    for (let p = s.ask(); p; p = s.ask()) {
      if (p.budget !== (rung === 0 ? 1 / 9 : rung === 1 ? 1 / 3 : 1)) {
        rung++;
        rungPos = 0;
      }
      if (rung === 0) {
        order.set(p.values, firstRung.length);
        firstRung.push(p.values);
      }
      const pos = order.get(p.values)!;
      seen.push({ pos, budget: p.budget });
      s.tell(p, rung === 0 ? scores[pos]! : rung === 1 ? late[rungPos]! : 1);
      rungPos++;
    }
    expect(seen.map((t) => t.pos)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 8, 3]);
    expect(seen.map((t) => t.budget)).toEqual([...Array(9).fill(1 / 9), 1 / 3, 1 / 3, 1 / 3, 1]);
  });
  test('infeasible configurations are not promoted', () => {
    const s = new SuccessiveHalving(knobsOf([{ path: 'x', values: { from: 0, to: 1, integer: false } }]), 3, 3, new Rng(0));
    const props = drive(s, () => null);
    expect(props).toHaveLength(3);
  });
});

describe('runSearch', () => {
  const fake =
    (f: (v: Values) => Record<string, number>, seconds = 1): RunTrial =>
    async (v) => ({ metrics: f(v), seconds });

  test('budget trials stops at the right trial', async () => {
    const r = await runSearch(spec({ budget: { trials: 4, time: null, cost: null } }), fake((v) => ({ 'e.score': x(v, 'a.b.c') })));
    expect(r.trials).toHaveLength(4);
    expect(r.stopped).toBe('trials');
  });
  test('done when the strategy ends first; trials when both coincide is done', async () => {
    const r = await runSearch(spec({ budget: { trials: 10, time: null, cost: null } }), fake(() => ({ 'e.score': 1 })));
    expect(r.trials).toHaveLength(10);
    expect(r.stopped).toBe('done');
  });
  test('time budget with a fake clock (never sleeps)', async () => {
    let now = 100;
    const clock = () => now;
    // each trial takes 7 fake seconds; time 20 s: trials start at 0, 7, 14 and the 4th (at 21) does not
    const run: RunTrial = async () => {
      now += 7;
      return { metrics: { 'e.score': 1 }, seconds: 7 };
    };
    const r = await runSearch(spec({ budget: { trials: null, time: 20, cost: null } }), run, { clock });
    expect(r.trials).toHaveLength(3);
    expect(r.stopped).toBe('time');
    expect(r.seconds).toBe(21);
  });
  test('cost budget: summed trial cost (seconds when the runner reports no cost)', async () => {
    const r = await runSearch(spec({ budget: { trials: null, time: null, cost: 5 } }), fake(() => ({ 'e.score': 1 }), 2), { clock: () => 0 });
    expect(r.trials).toHaveLength(3); // 0, 2, 4 < 5 start; 6 >= 5 stops
    expect(r.stopped).toBe('cost');
    expect(r.cost).toBe(6);
  });
  test('constraints exclude infeasible trials from best; constraint metrics resolve under the objective eval', async () => {
    const s = spec({
      vary: [{ path: 'k', values: { list: [1, 2, 3, 4] } }],
      search: { kind: 'grid', params: {} },
      constraints: [{ metric: 'latency.p50', op: '<', value: 0.05 }],
    });
    // score grows with k, latency too: k = 3 and 4 violate the constraint
    const r = await runSearch(s, fake((v) => ({ 'e.score': x(v, 'k'), 'e.latency.p50': 0.02 * x(v, 'k') })));
    expect(r.trials.map((t) => t.feasible)).toEqual([true, true, false, false]);
    expect(r.trials[2]!.violated).toEqual(['latency.p50 < 0.05']);
    expect(r.best?.values).toEqual({ k: 2 });
    expect(r.best?.trial).toBe(1);
  });
  test('minimize; ties go to the earlier trial', async () => {
    const s = spec({ vary: [{ path: 'k', values: { list: [3, 1, 2, 1] } }], search: { kind: 'grid', params: {} }, objective: { direction: 'minimize', metric: 'e.loss' } });
    const r = await runSearch(s, fake((v) => ({ 'e.loss': x(v, 'k') })));
    expect(r.best).toMatchObject({ trial: 1, objective: 1 });
  });
  test('no feasible trial: best is null', async () => {
    const s = spec({ constraints: [{ metric: 'e.score', op: '>', value: 5 }] });
    const r = await runSearch(s, fake(() => ({ 'e.score': 1 })));
    expect(r.best).toBeNull();
    expect(r.trials.every((t) => !t.feasible)).toBe(true);
  });
  test('a failing trial is recorded (not the first); a fatal error or a first-trial error propagates', async () => {
    let n = 0;
    const flaky: RunTrial = async () => {
      if (n++ === 2) throw Object.assign(new Error('boom'), { code: 'LMP_E_X' });
      return { metrics: { 'e.score': n }, seconds: 1 };
    };
    const r = await runSearch(spec({ budget: { trials: 5, time: null, cost: null } }), flaky);
    let k = 0;
    const odd: RunTrial = async () => {
      if (k++ === 1) throw 'a string';
      return { metrics: { 'e.score': 1 }, seconds: 1 };
    };
    expect((await runSearch(spec({ budget: { trials: 3, time: null, cost: null } }), odd)).trials[1]!.error).toBe('LMP_E_RUNTIME: a string');
    expect(r.trials[2]).toMatchObject({ feasible: false, error: 'LMP_E_X: boom', objective: null });
    expect(r.trials).toHaveLength(5);
    await expect(runSearch(spec(), async () => Promise.reject(new Error('first')))).rejects.toThrow('first');
    let m = 0;
    const fatal: RunTrial = async () => {
      if (m++ === 1) throw new OptimizeError('LMP_E_SET_VALUE', 'bad value');
      return { metrics: { 'e.score': 1 }, seconds: 1 };
    };
    await expect(runSearch(spec(), fatal)).rejects.toMatchObject({ code: 'LMP_E_SET_VALUE' });
    await expect(runSearch(spec(), fake(() => ({ other: 1 })))).rejects.toMatchObject({ code: 'LMP_E_OPT_METRIC' });
  });
  test('halving: trials carry their budget; best is taken at the full budget', async () => {
    const s = spec({ search: { kind: 'halving', params: { trials: 9, eta: 3, seed: 0 } } });
    // at low budgets the score is noisy-high, at budget 1 it is the true value
    const run: RunTrial = async (v, { budget }) => ({ metrics: { 'e.score': budget < 1 ? 100 - budget : x(v, 'a.b.c') }, seconds: budget });
    const r = await runSearch(s, run);
    expect(r.trials.map((t) => t.budget)).toEqual([...Array(9).fill(1 / 9), 1 / 3, 1 / 3, 1 / 3, 1]);
    expect(r.best?.trial).toBe(12);
  });
  test('bad spec: no objective, unknown op, unknown strategy, missing trials', async () => {
    const run = fake(() => ({ 'e.score': 1 }));
    await expect(runSearch(spec({ objective: null }), run)).rejects.toMatchObject({ code: 'LMP_E_OPT_OBJECTIVE' });
    await expect(runSearch(spec({ constraints: [{ metric: 'e.score', op: '~', value: 1 }] }), run)).rejects.toMatchObject({ code: 'LMP_E_OPT_CONSTRAINT' });
    await expect(runSearch(spec({ search: { kind: 'anneal', params: {} } }), run)).rejects.toMatchObject({ code: 'LMP_E_OPT_SEARCH' });
    await expect(runSearch(spec({ search: { kind: 'tpe', params: {} } }), run)).rejects.toMatchObject({ code: 'LMP_E_OPT_SEARCH' });
  });
  test('the result round-trips through its JSON text', async () => {
    const r = await runSearch(spec({ file: undefined } as never), fake((v) => ({ 'e.score': x(v, 'a.b.c') })), { file: 'x.lmp', clock: () => 0 });
    const back = parseOptimizeResult(serializeOptimizeResult(r), 'r.json');
    expect(back).toEqual(r);
    expect(() => parseOptimizeResult('{', 'r.json')).toThrow(/LMP_E_OPT_RESULT|not JSON/);
    expect(() => parseOptimizeResult('{"version": 2}', 'r.json')).toThrow(OptimizeError);
  });
});
