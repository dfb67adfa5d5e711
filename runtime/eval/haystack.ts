// The haystack shared by passkey and needle: the landmark-attention filler, one sentence at a
// time, with inserted sentences (the needles) placed between filler sentences, fitted to a target
// length in tokens of the model's tokenizer.

/** The filler paragraph (landmark attention's passkey test, RULER's "noise" haystack). */
export const FILLER = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.';

/** FILLER split into its five sentences; the haystack is these, cycled. */
export const FILLER_SENTENCES: readonly string[] = FILLER.match(/[^.]+\./g)!.map((s) => s.trim());

/** Token count of a text with the model's tokenizer. */
export type CountTokens = (text: string) => number;

export class EvalTaskError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'EvalTaskError';
  }
}

/** A sentence to insert before filler sentence `at` (0..n; n = after the last one). */
export interface Insert {
  readonly at: number;
  readonly text: string;
}

/**
 * `n` filler sentences (FILLER's five, cycled) joined by single spaces, each insert placed before
 * filler sentence `at` (inserts at the same position keep their order).
 */
export function haystack(n: number, inserts: readonly Insert[] = []): string {
  const out: string[] = [];
  const byPos = [...inserts].map((x, i) => ({ ...x, i })).sort((a, b) => a.at - b.at || a.i - b.i);
  let k = 0;
  for (let s = 0; s <= n; s++) {
    while (k < byPos.length && byPos[k]!.at <= s) out.push(byPos[k++]!.text);
    if (s < n) out.push(FILLER_SENTENCES[s % FILLER_SENTENCES.length]!);
  }
  return out.join(' ');
}

/** Filler sentence index of a depth in [0, 1] with n sentences: round(depth * n). */
export const depthIndex = (depth: number, n: number): number => Math.round(depth * n);

/** Depth i of n spread over 0..100%: i / (n - 1), or 0 when n = 1. */
export function depthsOf(n: number): number[] {
  return Array.from({ length: n }, (_, i) => (n === 1 ? 0 : i / (n - 1)));
}

/**
 * The largest number of filler sentences n such that `build(n)` has at most `length` tokens.
 * Token counts are re-measured on the whole text (a BPE merges across sentence boundaries), so the
 * result holds for the tokenizer exactly; n = 0 that is still too long is an error. `max` bounds n
 * (a finite source of filler).
 */
export function fitFiller(length: number, count: CountTokens, build: (n: number) => string, what: string, max = Infinity): { n: number; text: string; tokens: number } {
  const t0 = count(build(0));
  if (t0 > length) throw new EvalTaskError('LMP_E_EVAL_LENGTH', `${what}: length ${length} is shorter than the task's fixed text (${t0} tokens with no filler)`);
  const probe = Math.min(64, Math.max(1, max));
  const tp = count(build(probe));
  const rate = Math.max(1e-6, (tp - t0) / probe);
  let n = Math.min(max, Math.max(0, Math.floor((length - t0) / rate)));
  let tokens = count(build(n));
  while (n > 0 && tokens > length) tokens = count(build(--n));
  while (n < max) {
    const t = count(build(n + 1));
    if (t > length) break;
    n++;
    tokens = t;
  }
  return { n, text: build(n), tokens };
}
