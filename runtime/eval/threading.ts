// Needle Threading (Roberts et al. 2024, "Needle Threading: Can LLMs Follow Threads through
// Near-Million-Scale Haystacks?"), the single-thread task: a haystack of key -> value pairs of
// random UUIDs, `steps` of which form a thread (each value is the next pair's key); the model is
// given the thread's first key and must return the value at its end.
import { Rng } from '../data/rng.js';
import { EvalTaskError, fitFiller, type CountTokens } from './haystack.js';
import type { EvalSample } from './types.js';

export const THREADING_INTRO = 'Below is a JSON object of key-value pairs. Every key and every value is a UUID. A value may also appear as a key elsewhere in the object.';
export const threadingQuestion = (start: string, steps: number): string =>
  `Start at the key ${start}. Look up its value, then look up that value as a key, and so on: follow the thread for ${steps} ${steps === 1 ? 'step' : 'steps'}. What is the value at the end of the thread? The value at the end of the thread is`;

/** The whole prompt: intro, the object of `"key": "value"` pairs (one per line), the question. */
export const threadingPrompt = (pairs: readonly { readonly k: string; readonly v: string }[], start: string, steps: number): string =>
  `${THREADING_INTRO}\n{\n${pairs.map((x) => `  "${x.k}": "${x.v}"`).join(',\n')}\n}\n${threadingQuestion(start, steps)}`;

/** A random version-4-shaped UUID (lowercase hex) from the Rng. */
export function uuid(rng: Rng): string {
  const hex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[rng.int(16)]).join('');
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[rng.int(4)]}${hex(3)}-${hex(12)}`;
}

export const UUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** Exact match of the first UUID in the output against the thread's end. */
export const threadingCorrect = (output: string, end: string): boolean => (UUID_RE.exec(output)?.[0] ?? '').toLowerCase() === end;

export interface ThreadingParams {
  readonly lengths: readonly number[];
  readonly steps: number;
  readonly samples: number;
}

const STREAM = 0x7ead;

/**
 * Samples in (length, sample) order. The thread is keys t0 -> t1 -> ... -> t_steps (pairs
 * (t_i, t_i+1)); the rest are distractor pairs of fresh UUIDs, as many as fit in `length` tokens.
 * The thread's pairs stand at uniformly drawn positions among the distractors (a draw in [0, 1]
 * scaled by their number, in shuffled order). Prompt: intro, "\n{", one `"key": "value"` pair per
 * line, "}\n", question. Reference: t_steps.
 */
export function threadingSamples(p: ThreadingParams, seed: number, count: CountTokens): EvalSample[] {
  if (p.steps < 1) throw new EvalTaskError('LMP_E_EVAL_PARAMS', 'threading: steps must be at least 1');
  const rng = new Rng(seed, STREAM);
  const out: EvalSample[] = [];
  for (const length of p.lengths) {
    for (let s = 0; s < p.samples; s++) {
      const thread = Array.from({ length: p.steps + 1 }, () => uuid(rng));
      const links = thread.slice(0, -1).map((k, i) => ({ k, v: thread[i + 1]!, pos: 0 }));
      rng.shuffle(links);
      for (const l of links) l.pos = rng.float();
      // distractors from their own stream, drawn as the fit asks for them (the fit takes a prefix)
      const poolRng = new Rng(seed, STREAM, length, s);
      const pool: { k: string; v: string }[] = [];
      const need = (n: number): void => {
        while (pool.length < n) pool.push({ k: uuid(poolRng), v: uuid(poolRng) });
      };
      const build = (n: number): string => {
        need(n);
        const pairs = pool.slice(0, n).map((x) => ({ ...x }));
        const ins = [...links].map((l, i) => ({ ...l, at: Math.floor(l.pos * (n + 1)), i })).sort((a, b) => a.at - b.at || a.i - b.i);
        const all: { k: string; v: string }[] = [];
        let j = 0;
        for (let i = 0; i <= n; i++) {
          while (j < ins.length && ins[j]!.at <= i) all.push(ins[j++]!);
          if (i < n) all.push(pairs[i]!);
        }
        return threadingPrompt(all, thread[0]!, p.steps);
      };
      const fit = fitFiller(length, count, build, `threading length ${length}`);
      out.push({ index: out.length, cell: { length }, prompt: fit.text, promptTokens: fit.tokens, references: [thread[p.steps]!], fillerSentences: fit.n });
    }
  }
  return out;
}
