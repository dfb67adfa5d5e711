// Length control (Ruler, Li et al. 2024, "Ruler: A Model-Agnostic Method to Control Generated
// Length for Large Language Models", Target Length Generation): each prompt once per target word
// count, with the length instruction; Precise Match / Flexible Match = the fraction of outputs
// whose word count falls in the target's PM / FM window.
import { readFileSync } from 'node:fs';
import { EvalTaskError } from './haystack.js';
import type { EvalSample } from './types.js';

/** Ruler's vanilla template: the instruction, then this line. */
export const lengthInstruction = (target: number): string => `The response should have a word count of ${target} words.`;

/** The prompt for one (instruction, target): Ruler's "{instruction}\nThe response should ..." plus "\n" (the model answers on the next line). */
export const targetPrompt = (instruction: string, target: number): string => `${instruction}\n${lengthInstruction(target)}\n`;

/** A (lo, hi] word-count window; hi = Infinity for Ruler's ">800". */
export interface Window {
  readonly lo: number;
  readonly hi: number;
}

/**
 * Ruler's windows (src/utils/config.py, RANGE: a length L is in [lo, hi] when lo < L <= hi), by
 * target: Level 0: 10, 30, 50, 80; Level 1: 150, 300, 500; Level 2: 700, >800.
 */
export const RULER_WINDOWS: ReadonlyMap<number, { readonly pm: Window; readonly fm: Window; readonly level: 0 | 1 | 2 }> = new Map([
  [10, { pm: { lo: 0, hi: 20 }, fm: { lo: 0, hi: 20 }, level: 0 }],
  [30, { pm: { lo: 20, hi: 40 }, fm: { lo: 20, hi: 40 }, level: 0 }],
  [50, { pm: { lo: 40, hi: 60 }, fm: { lo: 40, hi: 60 }, level: 0 }],
  [80, { pm: { lo: 70, hi: 90 }, fm: { lo: 60, hi: 100 }, level: 0 }],
  [150, { pm: { lo: 130, hi: 170 }, fm: { lo: 100, hi: 200 }, level: 1 }],
  [300, { pm: { lo: 280, hi: 320 }, fm: { lo: 200, hi: 400 }, level: 1 }],
  [500, { pm: { lo: 450, hi: 550 }, fm: { lo: 400, hi: 600 }, level: 1 }],
  [700, { pm: { lo: 630, hi: 770 }, fm: { lo: 600, hi: 800 }, level: 2 }],
] as const);

/**
 * The PM and FM windows of a target. Ruler's eight numeric targets use Ruler's table; a target above 800
 * is Ruler's ">800" level (800, inf) for both. Any other target (not in the paper) gets lmp's own
 * windows: PM (T - max(10, T/10), T + max(10, T/10)], FM (T - max(20, T/5), T + max(20, T/5)],
 * the lower bounds clipped at 0.
 */
export function windowsOf(target: number): { pm: Window; fm: Window; source: 'ruler' | 'lmp' } {
  const r = RULER_WINDOWS.get(target);
  if (r) return { pm: r.pm, fm: r.fm, source: 'ruler' };
  if (target > 800) return { pm: { lo: 800, hi: Infinity }, fm: { lo: 800, hi: Infinity }, source: 'ruler' };
  const p = Math.max(10, target / 10), f = Math.max(20, target / 5);
  return { pm: { lo: Math.max(0, target - p), hi: target + p }, fm: { lo: Math.max(0, target - f), hi: target + f }, source: 'lmp' };
}

/** lo < words <= hi (Ruler's cal_level_scores.py). */
export const inWindow = (words: number, w: Window): boolean => words > w.lo && words <= w.hi;

/** Words as Ruler counts them: runs of \w (nltk RegexpTokenizer(r"\w+"); ASCII \w here). */
export const countWords = (text: string): number => (text.match(/\w+/g) ?? []).length;

/**
 * Prompts of a JSONL file: one object per non-empty line with a string "prompt" or
 * "instruction". Errors name the file and line.
 */
export function readPrompts(path: string, label = path): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new EvalTaskError('LMP_E_EVAL_PROMPTS', `cannot read prompts file "${label}" (${code === 'ENOENT' ? 'no such file' : ((e as Error).message ?? code)})`);
  }
  const out: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new EvalTaskError('LMP_E_EVAL_PROMPTS', `${label}:${i + 1}: not a JSON value (${(e as Error).message})`);
    }
    const o = v as { prompt?: unknown; instruction?: unknown } | null;
    const p = o && typeof o === 'object' ? (typeof o.prompt === 'string' ? o.prompt : typeof o.instruction === 'string' ? o.instruction : undefined) : undefined;
    if (p === undefined) throw new EvalTaskError('LMP_E_EVAL_PROMPTS', `${label}:${i + 1}: expected an object with a string "prompt" or "instruction"`);
    out.push(p);
  });
  if (out.length === 0) throw new EvalTaskError('LMP_E_EVAL_PROMPTS', `prompts file "${label}" has no prompts`);
  return out;
}

/** Samples in (target, prompt) order; references = [String(target)]. */
export function targetLengthSamples(prompts: readonly string[], targets: readonly number[]): EvalSample[] {
  const out: EvalSample[] = [];
  for (const target of targets) for (const p of prompts) out.push({ index: out.length, cell: { target }, prompt: targetPrompt(p, target), promptTokens: 0, references: [String(target)] });
  return out;
}
