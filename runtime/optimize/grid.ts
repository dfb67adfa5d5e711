// grid(): every combination of the knobs' grid values (space.ts gridAxis: a list's values, every
// integer of an integer range, GRID_FLOAT_POINTS = 5 evenly spaced points of a float range, both
// ends included), in odometer order: the first knob varies slowest, the last fastest
// (itertools.product). Enumerated lazily by a mixed-radix index; scores are ignored.
import type { Json } from '../entry/spec.js';
import { axisLength, axisValue, type Knob, type Values } from './space.js';
import type { Proposal, Strategy } from './strategy.js';

export class GridSearch implements Strategy {
  readonly kind = 'grid';
  readonly total: number;
  private readonly lengths: number[];
  private next = 0;

  constructor(private readonly knobs: readonly Knob[]) {
    this.lengths = knobs.map(axisLength);
    this.total = this.lengths.reduce((n, a) => n * a, 1);
  }

  /** The i-th combination (0 <= i < total). */
  at(i: number): Values {
    const out: Record<string, Json> = {};
    let rest = i;
    for (let k = this.knobs.length - 1; k >= 0; k--) {
      const n = this.lengths[k]!;
      out[this.knobs[k]!.path] = axisValue(this.knobs[k]!, rest % n);
      rest = Math.floor(rest / n);
    }
    // keep the knobs' source order in the object
    return Object.fromEntries(this.knobs.map((k) => [k.path, out[k.path]!]));
  }

  ask(): Proposal | null {
    if (this.next >= this.total) return null;
    return { values: this.at(this.next++), budget: 1 };
  }

  tell(): void {}
}
