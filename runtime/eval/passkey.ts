// Passkey retrieval (landmark attention, Mohtashami & Jaggi 2023): the filler repeated to the
// target length, "The pass key is {k}. Remember it. {k} is the pass key." inserted at a depth,
// then "What is the pass key? The pass key is"; the answer is the first number the model writes.
import { Rng } from '../data/rng.js';
import { depthIndex, depthsOf, fitFiller, haystack, type CountTokens } from './haystack.js';
import type { EvalSample } from './types.js';

export const PASSKEY_QUESTION = 'What is the pass key? The pass key is';
export const passkeyNeedle = (key: string): string => `The pass key is ${key}. Remember it. ${key} is the pass key.`;

/** The whole prompt: the haystack (filler with the needle), then the question. */
export const passkeyPrompt = (hay: string): string => `${hay}\n${PASSKEY_QUESTION}`;

export interface PasskeyParams {
  readonly lengths: readonly number[];
  readonly depths: number;
  readonly samples: number;
}

/** RNG stream of the passkey task (Rng(seed, stream)). */
const STREAM = 0x9a55;

/**
 * Samples in (length, depth, sample) order. Each prompt is haystack + "\n" + question with at
 * most `length` tokens (the most filler sentences that fit); the needle stands before filler
 * sentence round(depth * n). Keys are uniform 5-digit integers (10000..99999).
 */
export function passkeySamples(p: PasskeyParams, seed: number, count: CountTokens): EvalSample[] {
  const rng = new Rng(seed, STREAM);
  const out: EvalSample[] = [];
  for (const length of p.lengths) {
    for (const depth of depthsOf(p.depths)) {
      for (let s = 0; s < p.samples; s++) {
        const key = String(10000 + rng.int(90000));
        const needle = passkeyNeedle(key);
        const build = (n: number): string => passkeyPrompt(haystack(n, [{ at: depthIndex(depth, n), text: needle }]));
        const fit = fitFiller(length, count, build, `passkey length ${length}`);
        out.push({ index: out.length, cell: { length, depth }, prompt: fit.text, promptTokens: fit.tokens, references: [key], fillerSentences: fit.n });
      }
    }
  }
  return out;
}
