// random(trials: N): N independent uniform draws (space.ts sampleUniform: a list value with equal
// probability, a uniform integer, a uniform float rounded to 6 significant digits). Bergstra &
// Bengio 2012, "Random search for hyper-parameter optimization". Scores are ignored.
import type { Rng } from '../data/rng.js';
import { sampleUniform, type Knob, type Values } from './space.js';
import type { Proposal, Strategy } from './strategy.js';

export function sampleValues(knobs: readonly Knob[], rng: Rng): Values {
  return Object.fromEntries(knobs.map((k) => [k.path, sampleUniform(k, rng)]));
}

export class RandomSearch implements Strategy {
  readonly kind = 'random';
  private asked = 0;

  constructor(
    private readonly knobs: readonly Knob[],
    readonly total: number,
    private readonly rng: Rng,
  ) {}

  ask(): Proposal | null {
    if (this.asked >= this.total) return null;
    this.asked++;
    return { values: sampleValues(this.knobs, this.rng), budget: 1 };
  }

  tell(): void {}
}
