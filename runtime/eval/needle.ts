// RULER needle-in-a-haystack (Hsieh et al. 2024, niah): needles "One of the special magic
// numbers for {key} is: {value}." in the noise haystack (the landmark filler), keys are
// adjective-noun words, values 7-digit numbers; `keys` keys with `values` values each, `queries`
// of the keys asked for; the references are every value of the queried keys.
import { Rng } from '../data/rng.js';
import { depthIndex, depthsOf, EvalTaskError, fitFiller, haystack, type CountTokens, type Insert } from './haystack.js';
import type { EvalSample } from './types.js';

export const NEEDLE_TYPE = 'numbers';
export const needleSentence = (key: string, value: string): string => `One of the special magic ${NEEDLE_TYPE} for ${key} is: ${value}.`;
export const NEEDLE_INTRO = `Some special magic ${NEEDLE_TYPE} are hidden within the following text. Make sure to memorize it. I will quiz you about the ${NEEDLE_TYPE} afterwards.`;
export const needleQuestion = (query: string): string =>
  `What are all the special magic ${NEEDLE_TYPE} for ${query} mentioned in the provided text? The special magic ${NEEDLE_TYPE} for ${query} mentioned in the provided text are`;

/** "a", "a and b"? RULER: "a, b, and c" for several, "a" for one (and "a, and b" for two). */
export function joinQuery(keys: readonly string[]): string {
  return keys.length === 1 ? keys[0]! : `${keys.slice(0, -1).join(', ')}, and ${keys[keys.length - 1]}`;
}

/** The whole prompt: intro, the haystack (filler with the needles), the question for `query`. */
export const needlePrompt = (hay: string, query: string): string => `${NEEDLE_INTRO}\n${hay}\n${needleQuestion(query)}`;

// Key words (RULER draws adjective-noun pairs from the wonderwords lists; these are ours).
export const ADJECTIVES = 'ancient brave calm curious damp eager fancy gentle hollow icy jolly keen lively mellow nimble odd plain quiet rapid rusty shiny silent tidy upbeat vast wary witty young zesty amber'.split(' ');
export const NOUNS = 'anchor badger candle dolphin engine falcon garden harbor island jacket kettle lantern meadow needle orchard pebble quarry rocket saddle teapot umbrella violin walrus yacht zipper beacon cactus drum ferry glacier'.split(' ');

export interface NeedleParams {
  readonly lengths: readonly number[];
  readonly depths: number;
  readonly samples: number;
  readonly keys: number;
  readonly values: number;
  readonly queries: number;
}

const STREAM = 0x4ee7;

/**
 * Samples in (length, depth, sample) order. Prompt: NEEDLE_INTRO + "\n" + haystack + "\n" +
 * question, at most `length` tokens. Needle 0 (first queried key, first value) stands before
 * filler sentence round(depth * n); every other needle before a uniformly drawn filler sentence
 * (a draw in [0, 1] scaled by n, so the layout is fixed as n varies while fitting).
 */
export function needleSamples(p: NeedleParams, seed: number, count: CountTokens): EvalSample[] {
  if (p.keys < 1 || p.values < 1 || p.queries < 1) throw new EvalTaskError('LMP_E_EVAL_PARAMS', 'needle: keys, values and queries must be at least 1');
  if (p.queries > p.keys) throw new EvalTaskError('LMP_E_EVAL_PARAMS', `needle: queries (${p.queries}) cannot exceed keys (${p.keys})`);
  if (p.keys > ADJECTIVES.length * NOUNS.length) throw new EvalTaskError('LMP_E_EVAL_PARAMS', `needle: at most ${ADJECTIVES.length * NOUNS.length} keys`);
  const rng = new Rng(seed, STREAM);
  const out: EvalSample[] = [];
  for (const length of p.lengths) {
    for (const depth of depthsOf(p.depths)) {
      for (let s = 0; s < p.samples; s++) {
        const keys: string[] = [];
        while (keys.length < p.keys) {
          const k = `${ADJECTIVES[rng.int(ADJECTIVES.length)]}-${NOUNS[rng.int(NOUNS.length)]}`;
          if (!keys.includes(k)) keys.push(k);
        }
        const used = new Set<string>();
        const values = keys.map(() =>
          Array.from({ length: p.values }, () => {
            let v: string;
            do v = String(1000000 + rng.int(9000000));
            while (used.has(v));
            used.add(v);
            return v;
          }),
        );
        // needle 0 first, the rest shuffled, each with its relative position
        const rest: { text: string; pos: number }[] = [];
        keys.forEach((k, i) => values[i]!.forEach((v, j) => (i > 0 || j > 0) && rest.push({ text: needleSentence(k, v), pos: 0 })));
        rng.shuffle(rest);
        for (const r of rest) r.pos = rng.float();
        const first = needleSentence(keys[0]!, values[0]![0]!);
        const query = joinQuery(keys.slice(0, p.queries));
        const build = (n: number): string => {
          const inserts: Insert[] = [{ at: depthIndex(depth, n), text: first }, ...rest.map((r) => ({ at: Math.floor(r.pos * (n + 1)), text: r.text }))];
          return needlePrompt(haystack(n, inserts), query);
        };
        const fit = fitFiller(length, count, build, `needle length ${length}`);
        const references = values.slice(0, p.queries).flat();
        out.push({ index: out.length, cell: { length, depth }, prompt: fit.text, promptTokens: fit.tokens, references, fillerSentences: fit.n });
      }
    }
  }
  return out;
}
