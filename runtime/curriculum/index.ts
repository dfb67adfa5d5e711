// Length curricula over buckets of sequences. A CurriculumIterator yields, step by step, the bucket
// (sequence length) and this rank's sequences of it; tokens per step are constant (the batch has
// tokensPerStep / length sequences over all ranks). The bucket draw uses one RNG seeded by the
// config seed only, so every rank draws the same bucket; rank r takes the r-th contiguous slice of
// the global batch, so ranks see disjoint data. `state()` / `restore()` resume exactly.
import { Rng, type RngState } from '../data/rng.js';
import type { SequencePlan } from '../data/pack.js';
import { validateCurriculumConfig, CurriculumConfigError, type CurriculumConfig } from './config.js';

export * from './config.js';

export interface Bucket {
  /** Sequence length of the bucket (for decompose buckets 2^k; sequences hold 2^k + 1 tokens). */
  length: number;
  /** Number of sequences available. */
  count: number;
}

export interface Step {
  step: number;
  /** Cycle (weights / uniform) or 0. */
  cycle: number;
  length: number;
  /** Index of the bucket in the iterator's bucket list. */
  bucket: number;
  /** Sequences per step over all ranks (tokensPerStep / length). */
  globalSequences: number;
  /** This rank's sequences: indices into the bucket (0 .. count-1). */
  sequences: Int32Array;
}

export interface CurriculumState {
  step: number;
  cycle: number;
  rng: RngState;
  /** Per bucket: sequences consumed in the current cycle / epoch, and the epoch (fixed, grow). */
  cursor: number[];
  epoch: number[];
  /** Per bucket: batches left in this cycle (weights, uniform). */
  left: number[];
  done: boolean;
}

export class CurriculumIterator implements Iterable<Step> {
  private readonly cfg: CurriculumConfig;
  readonly buckets: Bucket[];
  private readonly weights: number[];
  private readonly perStep: number[];
  private readonly perms = new Map<string, Int32Array>();
  private st: CurriculumState;

  constructor(cfg: CurriculumConfig, buckets: Bucket[], readonly rank = 0) {
    this.cfg = validateCurriculumConfig(cfg);
    if (!(Number.isInteger(rank) && rank >= 0 && rank < cfg.ranks)) throw new CurriculumConfigError(`rank ${rank} is outside 0..${cfg.ranks - 1}`);
    this.buckets = [...buckets].sort((a, b) => a.length - b.length);
    const s = cfg.schedule;
    if (s.kind === 'fixed') {
      const b = this.buckets.find((x) => x.length === s.length);
      if (!b) throw new CurriculumConfigError(`fixed(${s.length}): no bucket of that length (have ${this.buckets.map((x) => x.length).join(', ') || 'none'})`);
    }
    this.weights = this.buckets.map((b) => {
      if (s.kind === 'weights') return s.weights.find((w) => w.length === b.length)?.weight ?? 0;
      if (s.kind === 'fixed') return b.length === s.length ? 1 : 0;
      return 1;
    });
    if (s.kind === 'weights') {
      for (const w of s.weights) {
        if (!this.buckets.some((b) => b.length === w.length)) throw new CurriculumConfigError(`weights: no bucket of length ${w.length} (have ${this.buckets.map((x) => x.length).join(', ')})`);
      }
    }
    this.perStep = this.buckets.map((b) => {
      const per = cfg.tokensPerStep / b.length;
      if (this.weights[this.buckets.indexOf(b)] !== 0 && (!Number.isInteger(per) || per % cfg.ranks !== 0)) {
        throw new CurriculumConfigError(`tokensPerStep ${cfg.tokensPerStep} is not a multiple of length ${b.length} x ranks ${cfg.ranks}`);
      }
      return per;
    });
    this.st = { step: 0, cycle: 0, rng: new Rng(cfg.seed, 0x637572).state(), cursor: this.buckets.map(() => 0), epoch: this.buckets.map(() => 0), left: [], done: false };
    this.startCycle();
  }

  private get cycled(): boolean {
    const k = this.cfg.schedule.kind;
    return k === 'weights' || k === 'uniform';
  }

  private get cycles(): number {
    const s = this.cfg.schedule;
    return s.kind === 'weights' || s.kind === 'uniform' ? s.cycles : 1;
  }

  /** Sequences of bucket b per cycle (cycled schedules). */
  private perCycle(b: number): number {
    return Math.floor(this.buckets[b]!.count / this.cycles);
  }

  private startCycle(): void {
    if (!this.cycled) return;
    this.st.left = this.buckets.map((_, b) => (this.weights[b]! > 0 ? Math.floor(this.perCycle(b) / this.perStep[b]!) : 0));
    this.st.cursor = this.buckets.map(() => 0);
  }

  private perm(b: number, epoch: number): Int32Array {
    const key = `${b}:${epoch}`;
    let p = this.perms.get(key);
    if (!p) {
      if (this.perms.size > 64) this.perms.clear();
      p = new Rng(this.cfg.seed, 0x7065726d, this.buckets[b]!.length, epoch).permutation(this.buckets[b]!.count);
      this.perms.set(key, p);
    }
    return p;
  }

  private chooseBucket(): number {
    const s = this.cfg.schedule;
    if (s.kind === 'fixed') return this.weights.indexOf(1);
    if (s.kind === 'grow') {
      const t = Math.min(1, this.st.step / s.steps);
      const g = s.shape === 'linear' ? s.from + (s.to - s.from) * t : s.from * (s.to / s.from) ** t;
      let best = 0;
      for (let b = 0; b < this.buckets.length; b++) if (this.buckets[b]!.length <= g + 1e-9 && this.perStep[b]! >= 1) best = b;
      return best;
    }
    // weighted draw among buckets with batches left (the reference's RandomMix(longest=True))
    for (;;) {
      let total = 0;
      for (let b = 0; b < this.buckets.length; b++) if (this.st.left[b]! > 0) total += this.weights[b]!;
      if (total > 0) {
        const rng = Rng.fromState(this.st.rng);
        let r = rng.float() * total;
        this.st.rng = rng.state();
        let pick = -1;
        for (let b = 0; b < this.buckets.length; b++) {
          if (this.st.left[b]! <= 0) continue;
          pick = b;
          r -= this.weights[b]!;
          if (r < 0) break;
        }
        return pick;
      }
      this.st.cycle++;
      if (this.st.cycle >= this.cycles) return -1;
      this.startCycle();
    }
  }

  /** The next step, or null when a cycled schedule has finished its cycles. */
  next(): Step | null {
    if (this.st.done) return null;
    const b = this.chooseBucket();
    if (b < 0) {
      this.st.done = true;
      return null;
    }
    const per = this.perStep[b]!;
    const count = this.buckets[b]!.count;
    let base: number;
    let epoch: number;
    if (this.cycled) {
      base = this.st.cycle * this.perCycle(b) + this.st.cursor[b]!;
      epoch = 0;
      this.st.left[b]!--;
    } else {
      if (count < per) throw new CurriculumConfigError(`bucket ${this.buckets[b]!.length} has ${count} sequences, fewer than one step (${per})`);
      if (this.st.cursor[b]! + per > count) {
        this.st.epoch[b]!++;
        this.st.cursor[b] = 0;
      }
      base = this.st.cursor[b]!;
      epoch = this.st.epoch[b]!;
    }
    this.st.cursor[b]! += per;
    const perm = this.perm(b, epoch);
    const mine = per / this.cfg.ranks;
    const seqs = perm.slice(base + this.rank * mine, base + (this.rank + 1) * mine);
    const step: Step = { step: this.st.step, cycle: this.st.cycle, length: this.buckets[b]!.length, bucket: b, globalSequences: per, sequences: seqs };
    this.st.step++;
    return step;
  }

  state(): CurriculumState {
    return JSON.parse(JSON.stringify(this.st)) as CurriculumState;
  }

  restore(s: CurriculumState): void {
    if (s.cursor.length !== this.buckets.length) throw new CurriculumConfigError(`restore: state has ${s.cursor.length} buckets, iterator has ${this.buckets.length}`);
    this.st = JSON.parse(JSON.stringify(s)) as CurriculumState;
  }

  *[Symbol.iterator](): Iterator<Step> {
    for (let s = this.next(); s; s = this.next()) yield s;
  }
}

/** Buckets of a sequence plan: decompose buckets have length 2^k; other packers one bucket per length. */
export function planBuckets(plan: SequencePlan): { buckets: Bucket[]; members: Map<number, Int32Array> } {
  const byLen = new Map<number, number[]>();
  for (let s = 0; s < plan.numSeqs; s++) {
    const len = plan.kind === 'decompose' ? 2 ** plan.bucket[s]! : plan.seqLength[s]!;
    let l = byLen.get(len);
    if (!l) byLen.set(len, (l = []));
    l.push(s);
  }
  const members = new Map<number, Int32Array>();
  const buckets: Bucket[] = [];
  for (const [length, seqs] of [...byLen.entries()].sort((a, b) => a[0] - b[0])) {
    members.set(length, Int32Array.from(seqs));
    buckets.push({ length, count: seqs.length });
  }
  return { buckets, members };
}
