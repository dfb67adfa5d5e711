// The typed configuration that a compiled `curriculum` block lowers to (see README.md).
// Lengths are token counts: for Dataset Decomposition buckets the length is 2^k (the sequence
// holds 2^k + 1 tokens: 2^k inputs plus the next-token target).

export type ScheduleConfig =
  /** One bucket of `length`; endless (a new seeded permutation every epoch). */
  | { kind: 'fixed'; length: number }
  /** Bucket sampling odds per batch; each cycle uses 1/cycles of every bucket's sequences; a bucket
   *  that runs out drops out of the draw for the rest of the cycle. Grow-P2: growP2(). */
  | { kind: 'weights'; weights: { length: number; weight: number }[]; cycles: number }
  /** Weights 1 for every available bucket; otherwise as 'weights'. */
  | { kind: 'uniform'; cycles: number }
  /** Sequence-length growth: at step s the length is the largest available bucket <= g(s), with
   *  g linear or geometric from `from` to `to` over `steps` steps (then constant); endless. */
  | { kind: 'grow'; from: number; to: number; steps: number; shape: 'linear' | 'geometric' };

export interface CurriculumConfig {
  schedule: ScheduleConfig;
  /** Tokens in every optimizer step, over all ranks: the step takes tokensPerStep / length sequences. */
  tokensPerStep: number;
  /** Data-parallel ranks: all draw the same bucket, each takes a disjoint 1/ranks of the batch. */
  ranks: number;
  seed: number;
}

export class CurriculumConfigError extends Error {
  readonly code = 'LMP_E_CURRICULUM_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'CurriculumConfigError';
  }
}

/** Grow-P2 ("power-of-2 curriculum"): odds 2^(n-1) .. 1 from the shortest to the longest bucket
 *  (32, 16, 8, 4, 2, 1 over 256 .. 8192). */
export function growP2(minLength = 256, maxLength = 8192, cycles = 8): ScheduleConfig {
  const weights: { length: number; weight: number }[] = [];
  const n = Math.log2(maxLength) - Math.log2(minLength) + 1;
  for (let i = 0; i < n; i++) weights.push({ length: minLength * 2 ** i, weight: 2 ** (n - 1 - i) });
  return { kind: 'weights', weights, cycles };
}

export function validateCurriculumConfig(c: CurriculumConfig): CurriculumConfig {
  const fail = (path: string, what: string): never => {
    throw new CurriculumConfigError(`curriculum config: ${path} ${what}`);
  };
  const posInt = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x > 0;
  if (!posInt(c.tokensPerStep)) fail('tokensPerStep', 'must be a positive integer');
  if (!posInt(c.ranks)) fail('ranks', 'must be a positive integer');
  if (!(Number.isInteger(c.seed) && c.seed >= 0)) fail('seed', 'must be a non-negative integer');
  const s = c.schedule;
  switch (s.kind) {
    case 'fixed':
      if (!posInt(s.length)) fail('schedule.length', 'must be a positive integer');
      break;
    case 'weights':
      if (!s.weights.length) fail('schedule.weights', 'is empty');
      s.weights.forEach((w, i) => {
        if (!posInt(w.length)) fail(`schedule.weights[${i}].length`, 'must be a positive integer');
        if (!(w.weight >= 0 && Number.isFinite(w.weight))) fail(`schedule.weights[${i}].weight`, 'must be a non-negative number');
      });
      if (!posInt(s.cycles)) fail('schedule.cycles', 'must be a positive integer');
      break;
    case 'uniform':
      if (!posInt(s.cycles)) fail('schedule.cycles', 'must be a positive integer');
      break;
    case 'grow':
      if (!posInt(s.from) || !posInt(s.to) || s.to < s.from) fail('schedule', 'needs positive integers from <= to');
      if (!posInt(s.steps)) fail('schedule.steps', 'must be a positive integer');
      if (s.shape !== 'linear' && s.shape !== 'geometric') fail('schedule.shape', "must be 'linear' or 'geometric'");
      break;
    default:
      fail('schedule.kind', `is unknown: ${(s as { kind: string }).kind}`);
  }
  return c;
}
