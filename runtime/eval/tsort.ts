// Ada-LEval TSort (Wang et al. 2024, "Ada-LEval: Evaluating long-context LLMs with
// length-adaptable benchmarks"): consecutive segments of a text, shown shuffled; the model must
// give their original order, and only the exact order scores. The text comes from the eval's
// `data` declaration (its documents, in source order, as one stream of words).
import { Rng } from '../data/rng.js';
import { EvalTaskError, fitFiller, type CountTokens } from './haystack.js';
import type { EvalSample } from './types.js';

export const tsortIntro = (n: number): string =>
  `The ${n} segments below are consecutive parts of one text, given in a random order. Restore the original order of the segments.`;
export const tsortQuestion = (n: number): string =>
  `Give the segment numbers in the order in which the segments appear in the original text, as a list of ${n} numbers. Answer:`;

/** The whole prompt: intro, shown segment j = original piece perm[j] ("Segment j+1: ..."), question. */
export const tsortPrompt = (pieces: readonly string[], perm: ArrayLike<number>): string =>
  `${tsortIntro(pieces.length)}\n\n${Array.from(perm, (piece, j) => `Segment ${j + 1}: ${pieces[piece]}`).join('\n\n')}\n\n${tsortQuestion(pieces.length)}`;

/** The first `n` integers of the output, joined by ", " (or null when it has fewer). */
export function firstOrder(output: string, n: number): string | null {
  const ints = output.match(/\d+/g) ?? [];
  return ints.length >= n ? ints.slice(0, n).map((x) => String(Number(x))).join(', ') : null;
}

/** Only the exact order scores. */
export const tsortCorrect = (output: string, order: string): boolean => firstOrder(output, order.split(', ').length) === order;

export interface TsortParams {
  readonly lengths: readonly number[];
  readonly segments: number;
  readonly samples: number;
}

const STREAM = 0x7507;

/**
 * Samples in (length, sample) order, from `docs` (the data's documents). The words of all
 * documents form one stream; a sample takes the longest window of k consecutive words that keeps
 * the prompt within `length` tokens, from a uniformly drawn start, splits it into `segments`
 * consecutive pieces of floor/ceil(k / segments) words, and shows them as "Segment 1" ... in a
 * random permutation. Reference: the segment numbers in original order ("3, 1, 4, 2").
 */
export function tsortSamples(p: TsortParams, docs: readonly string[], seed: number, count: CountTokens): EvalSample[] {
  const N = p.segments;
  if (N < 2) throw new EvalTaskError('LMP_E_EVAL_PARAMS', 'tsort: segments must be at least 2');
  const words = docs.flatMap((d) => d.split(/\s+/).filter(Boolean));
  if (words.length < N) throw new EvalTaskError('LMP_E_EVAL_PARAMS', `tsort: the data has ${words.length} words, fewer than the ${N} segments`);
  const rng = new Rng(seed, STREAM);
  const out: EvalSample[] = [];
  for (const length of p.lengths) {
    for (let s = 0; s < p.samples; s++) {
      const perm = Array.from(rng.permutation(N)); // shown segment j is original piece perm[j]
      const u = rng.float();
      const build = (extra: number): string => {
        const k = N + extra;
        const start = Math.floor(u * (words.length - k + 1));
        const pieces = Array.from({ length: N }, (_, i) => words.slice(start + Math.floor((i * k) / N), start + Math.floor(((i + 1) * k) / N)).join(' '));
        return tsortPrompt(pieces, perm);
      };
      const fit = fitFiller(length, count, build, `tsort length ${length}`, words.length - N);
      const order = Array.from({ length: N }, (_, i) => perm.indexOf(i) + 1).join(', ');
      out.push({ index: out.length, cell: { length }, prompt: fit.text, promptTokens: fit.tokens, references: [order] });
    }
  }
  return out;
}
