// The shortest length each generated task can run at: the size of its prompt with no filler
// (no haystack sentences, no distractor pairs, one word per tsort segment), built with the same
// prompt functions the generators use. A length below it is LMP_E_EVAL_LENGTH at run time
// (fitFiller); `lmpc check` reports it before (LMP0806) with these numbers.
//
// Sizes are in UTF-8 bytes, which is the token count of the byte tokenizer exactly (every prompt
// here is ASCII). The random parts make the fixed text vary from sample to sample:
//   - passkey: the key is always 5 digits: one size.
//   - needle: keys are adjective-noun words of different lengths (values are always 7 digits);
//     `min` uses the shortest keys the draws can pick, `max` the longest, with the asked keys
//     (which the question repeats twice) the longest (or shortest) of them. Every sample fits
//     from `max` on; below `min` none does.
//   - threading: UUIDs are always 36 characters: one size.
//   - tsort: the words come from the data; `min` takes one-byte words, `max` is unknown (null).
import { haystack } from './haystack.js';
import { ADJECTIVES, joinQuery, needlePrompt, needleSentence, NOUNS } from './needle.js';
import { passkeyNeedle, passkeyPrompt } from './passkey.js';
import { threadingPrompt } from './threading.js';
import { tsortPrompt } from './tsort.js';

export interface FixedText {
  /** Bytes of the smallest prompt without filler over all random draws (no sample fits below). */
  readonly min: number;
  /** Bytes of the largest one (every sample fits from here on); null when the data decides. */
  readonly max: number | null;
}

const encoder = new TextEncoder();
const bytes = (s: string): number => encoder.encode(s).length;

export function passkeyFixedText(): FixedText {
  const n = bytes(passkeyPrompt(haystack(0, [{ at: 0, text: passkeyNeedle('10000') }])));
  return { min: n, max: n };
}

let keysByLength: string[] | undefined;

/** undefined when the parameters are invalid (the generator rejects them with LMP_E_EVAL_PARAMS). */
export function needleFixedText(p: { readonly keys: number; readonly values: number; readonly queries: number }): FixedText | undefined {
  const all = (keysByLength ??= ADJECTIVES.flatMap((a) => NOUNS.map((n) => `${a}-${n}`)).sort((x, y) => x.length - y.length || (x < y ? -1 : 1)));
  if (!(p.keys >= 1 && p.values >= 1 && p.queries >= 1 && p.queries <= p.keys && p.keys <= all.length)) return undefined;
  const prompt = (keys: readonly string[]): number => {
    const needles = keys.flatMap((k) => Array.from({ length: p.values }, () => needleSentence(k, '1000000')));
    return bytes(needlePrompt(haystack(0, needles.map((text) => ({ at: 0, text }))), joinQuery(keys.slice(0, p.queries))));
  };
  // the asked keys are the first `queries`: give them the extreme lengths (they appear twice more)
  return { min: prompt(all.slice(0, p.keys)), max: prompt(all.slice(all.length - p.keys).reverse()) };
}

export function threadingFixedText(p: { readonly steps: number }): FixedText | undefined {
  if (!(p.steps >= 1)) return undefined;
  const uuid = '00000000-0000-4000-8000-000000000000';
  const n = bytes(threadingPrompt(Array.from({ length: p.steps }, () => ({ k: uuid, v: uuid })), uuid, p.steps));
  return { min: n, max: n };
}

export function tsortFixedText(p: { readonly segments: number }): FixedText | undefined {
  if (!(p.segments >= 2)) return undefined;
  const perm = Array.from({ length: p.segments }, (_, i) => i);
  return { min: bytes(tsortPrompt(perm.map(() => 'x'), perm)), max: null };
}

/** The fixed text of a generated task with these (complete) parameters, if it has one. */
export function fixedText(task: string, params: Readonly<Record<string, number>>): FixedText | undefined {
  switch (task) {
    case 'passkey':
      return passkeyFixedText();
    case 'needle':
      return needleFixedText({ keys: params['keys'] ?? NaN, values: params['values'] ?? NaN, queries: params['queries'] ?? NaN });
    case 'threading':
      return threadingFixedText({ steps: params['steps'] ?? NaN });
    case 'tsort':
      return tsortFixedText({ segments: params['segments'] ?? NaN });
    default:
      return undefined;
  }
}
