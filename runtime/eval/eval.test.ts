// Generators against their definitions, scorers on hand-computed cases.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tiktokenTokenizer } from '../data/tokenizers.js';
import {
  countWords,
  depthsOf,
  FILLER,
  FILLER_SENTENCES,
  firstNumber,
  inWindow,
  latencyStats,
  metricNames,
  needleSamples,
  needleSentence,
  passkeyCorrect,
  passkeyNeedle,
  passkeySamples,
  PASSKEY_QUESTION,
  readPrompts,
  scoreSample,
  stringMatchAll,
  summarize,
  taskSamples,
  windowsOf,
  type EvalSample,
} from './index.js';

const bytes = (t: string): number => Buffer.byteLength(t, 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'lmp-eval-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const occurrences = (hay: string, needle: string): number => hay.split(needle).length - 1;
const FILLER_RE = new RegExp(FILLER_SENTENCES.map((s) => s.replace(/\./g, '\\.')).join('|'), 'g');
const fillerCount = (text: string): number => (text.match(FILLER_RE) ?? []).length;
const LONGEST_SENTENCE = Math.max(...FILLER_SENTENCES.map(bytes)) + 1;

describe('passkey', () => {
  const P = { lengths: [256, 1024], depths: 5, samples: 3 };
  const samples = passkeySamples(P, 7, bytes);

  it('uses the landmark strings exactly', () => {
    expect(FILLER).toBe('The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.');
    expect(FILLER_SENTENCES).toEqual(['The grass is green.', 'The sky is blue.', 'The sun is yellow.', 'Here we go.', 'There and back again.']);
    expect(passkeyNeedle('12345')).toBe('The pass key is 12345. Remember it. 12345 is the pass key.');
    expect(PASSKEY_QUESTION).toBe('What is the pass key? The pass key is');
    expect(depthsOf(5)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(depthsOf(1)).toEqual([0]);
  });

  it('one sample per (length, depth, sample), 5-digit keys, cells in order', () => {
    expect(samples).toHaveLength(2 * 5 * 3);
    expect(samples.map((s) => s.index)).toEqual(samples.map((_, i) => i));
    expect(samples[0]!.cell).toEqual({ length: 256, depth: 0 });
    expect(samples[29]!.cell).toEqual({ length: 1024, depth: 1 });
    for (const s of samples) expect(s.references[0]).toMatch(/^[1-9]\d{4}$/);
  });

  it('the needle stands once, at round(depth * n) filler sentences, and the prompt ends with the question', () => {
    for (const s of samples) {
      const needle = passkeyNeedle(s.references[0]!);
      expect(occurrences(s.prompt, needle)).toBe(1);
      expect(s.prompt.endsWith(`\n${PASSKEY_QUESTION}`)).toBe(true);
      const n = s.fillerSentences!;
      const before = fillerCount(s.prompt.slice(0, s.prompt.indexOf(needle)));
      expect(fillerCount(s.prompt)).toBe(n);
      expect(before).toBe(Math.round(s.cell.depth! * n));
      expect(Math.abs(before - s.cell.depth! * n)).toBeLessThanOrEqual(0.5); // within one filler sentence of the exact depth
      // the haystack is the filler, cycled from its first sentence
      const hay = s.prompt.slice(0, s.prompt.lastIndexOf('\n')).replace(needle, '').replace(/\s+/g, ' ').trim();
      expect(`${FILLER} `.repeat(Math.ceil(n / 5) + 1).startsWith(hay)).toBe(true);
    }
  });

  it('prompts fill the target length in tokens: at most the length, short of it by less than one filler sentence', () => {
    for (const s of samples) {
      expect(s.promptTokens).toBe(bytes(s.prompt));
      expect(s.promptTokens).toBeLessThanOrEqual(s.cell.length!);
      expect(s.promptTokens).toBeGreaterThan(s.cell.length! - LONGEST_SENTENCE);
    }
  });

  it('counts in the model tokenizer (tiktoken cl100k): within the length, short of it by a few tokens', async () => {
    const tok = await tiktokenTokenizer('cl100k_base', '<|endoftext|>');
    const count = (t: string): number => tok.encode(t).length;
    for (const s of passkeySamples({ lengths: [300, 2000], depths: 3, samples: 1 }, 1, count)) {
      expect(s.promptTokens).toBe(count(s.prompt));
      expect(s.promptTokens).toBeLessThanOrEqual(s.cell.length!);
      expect(s.promptTokens).toBeGreaterThan(s.cell.length! - 8);
    }
  });

  it('same seed, same prompts; another seed, other keys', () => {
    expect(passkeySamples(P, 7, bytes)).toEqual(samples);
    const other = passkeySamples(P, 8, bytes);
    expect(other.map((s) => s.references[0])).not.toEqual(samples.map((s) => s.references[0]));
    expect(other.map((s) => s.prompt)).not.toEqual(samples.map((s) => s.prompt));
  });

  it('a length shorter than the fixed text is a coded error', () => {
    expect(() => passkeySamples({ lengths: [64], depths: 1, samples: 1 }, 0, bytes)).toThrow(expect.objectContaining({ code: 'LMP_E_EVAL_LENGTH', message: expect.stringMatching(/length 64 is shorter than the task's fixed text \(96 tokens/) }));
  });
});

describe('needle (RULER niah)', () => {
  const P = { lengths: [1024, 2048], depths: 3, samples: 2, keys: 3, values: 2, queries: 2 };
  const samples = needleSamples(P, 3, bytes);

  it('every needle sentence once, the first at the cell depth; references are the queried keys\' values', () => {
    expect(samples).toHaveLength(12);
    for (const s of samples) {
      expect(s.references).toHaveLength(4);
      for (const v of s.references) expect(v).toMatch(/^\d{7}$/);
      const needles = [...s.prompt.matchAll(/One of the special magic numbers for ([a-z]+-[a-z]+) is: (\d{7})\./g)];
      expect(needles).toHaveLength(6); // 3 keys x 2 values
      const keys = [...new Set(needles.map((m) => m[1]))];
      expect(keys).toHaveLength(3);
      for (const v of s.references) expect(occurrences(s.prompt, v)).toBe(1);
      const q = /What are all the special magic numbers for (.+?) mentioned in the provided text\? The special magic numbers for \1 mentioned in the provided text are$/.exec(s.prompt);
      expect(q).not.toBeNull();
      const asked = q![1]!.split(/, and |, /);
      expect(asked).toHaveLength(2);
      // the values of the asked keys are exactly the references
      expect(needles.filter((m) => asked.includes(m[1]!)).map((m) => m[2]).sort()).toEqual([...s.references].sort());
      // needle 0: the first asked key with the first reference, at round(depth * n) filler sentences
      const first = needleSentence(asked[0]!, s.references[0]!);
      expect(occurrences(s.prompt, first)).toBe(1);
      const before = fillerCount(s.prompt.slice(0, s.prompt.indexOf(first)));
      expect(before).toBe(Math.round(s.cell.depth! * s.fillerSentences!));
      expect(s.promptTokens).toBeLessThanOrEqual(s.cell.length!);
      expect(s.promptTokens).toBeGreaterThan(s.cell.length! - LONGEST_SENTENCE);
    }
  });

  it('is seeded', () => {
    expect(needleSamples(P, 3, bytes)).toEqual(samples);
    expect(needleSamples(P, 4, bytes).map((s) => s.prompt)).not.toEqual(samples.map((s) => s.prompt));
  });

  it('queries beyond the keys is a coded error', () => {
    expect(() => needleSamples({ ...P, keys: 1, queries: 2 }, 0, bytes)).toThrow(expect.objectContaining({ code: 'LMP_E_EVAL_PARAMS' }));
  });
});

describe('scorers', () => {
  it('passkey: exact match of the first number', () => {
    expect(firstNumber(' 12345. Remember')).toBe('12345');
    expect(passkeyCorrect(' 12345.', '12345')).toBe(true);
    expect(passkeyCorrect('12345 67890', '12345')).toBe(true);
    expect(passkeyCorrect(' 67890 12345', '12345')).toBe(false); // only the first number counts
    expect(passkeyCorrect(' 123456', '12345')).toBe(false); // a longer number is not the key
    expect(passkeyCorrect(' 1234', '12345')).toBe(false);
    expect(passkeyCorrect('no digits', '12345')).toBe(false);
  });

  it('string_match_all: fraction of references found, case-insensitive', () => {
    expect(stringMatchAll('The numbers are 1234567 and 7654321.', ['1234567', '7654321', '1111111'])).toBeCloseTo(2 / 3, 12);
    expect(stringMatchAll('ANSWER: Calm-Anchor', ['calm-anchor'])).toBe(1);
    expect(stringMatchAll('calm-anchor', ['CALM-ANCHOR', 'x'])).toBe(0.5);
    expect(stringMatchAll('', ['1'])).toBe(0);
  });

  it('Ruler windows: (lo, hi], at their boundaries', () => {
    const w150 = windowsOf(150);
    expect(w150).toEqual({ pm: { lo: 130, hi: 170 }, fm: { lo: 100, hi: 200 }, source: 'ruler' });
    expect([130, 131, 170, 171].map((n) => inWindow(n, w150.pm))).toEqual([false, true, true, false]);
    expect([100, 101, 200, 201].map((n) => inWindow(n, w150.fm))).toEqual([false, true, true, false]);
    expect(windowsOf(10).pm).toEqual({ lo: 0, hi: 20 });
    expect(inWindow(0, windowsOf(10).pm)).toBe(false);
    expect(windowsOf(80)).toMatchObject({ pm: { lo: 70, hi: 90 }, fm: { lo: 60, hi: 100 } });
    expect(windowsOf(300)).toMatchObject({ pm: { lo: 280, hi: 320 }, fm: { lo: 200, hi: 400 } });
    expect(windowsOf(700)).toMatchObject({ pm: { lo: 630, hi: 770 }, fm: { lo: 600, hi: 800 } });
    const big = windowsOf(1000);
    expect([800, 801, 5000].map((n) => inWindow(n, big.pm))).toEqual([false, true, true]);
    // not a Ruler target: lmp's windows
    expect(windowsOf(100)).toEqual({ pm: { lo: 90, hi: 110 }, fm: { lo: 80, hi: 120 }, source: 'lmp' });
    expect(windowsOf(20)).toEqual({ pm: { lo: 10, hi: 30 }, fm: { lo: 0, hi: 40 }, source: 'lmp' });
  });

  it('target_length: words as \\w+ runs; precise and flexible per sample and averaged', () => {
    expect(countWords("It's a well-known fact, isn't it?")).toBe(9);
    const s = (target: number, i: number): EvalSample => ({ index: i, cell: { target }, prompt: '', promptTokens: 0, references: [String(target)] });
    const words = (n: number): string => Array.from({ length: n }, () => 'w').join(' ');
    const scored = [scoreSample('target_length', s(150, 0), words(150), 0, 1), scoreSample('target_length', s(150, 1), words(190), 0, 2), scoreSample('target_length', s(150, 2), words(100), 0, 3)];
    expect(scored.map((x) => [x.words, x.correct, x.flexible])).toEqual([
      [150, true, true],
      [190, false, true],
      [100, false, false],
    ]);
    const { metrics, cells } = summarize(scored, ['precise_match', 'flexible_match', 'latency']);
    expect(metrics.precise_match).toBeCloseTo(1 / 3, 12);
    expect(metrics.flexible_match).toBeCloseTo(2 / 3, 12);
    expect(metrics.latency).toEqual({ p50: 2, p90: 2.8, p99: 2.98, mean: 2 });
    expect(cells).toHaveLength(1);
  });

  it('latency: type-7 quantiles and the mean', () => {
    const l = latencyStats([4, 1, 3, 2]);
    expect(l.p50).toBe(2.5);
    expect(l.p90).toBeCloseTo(3.7, 12);
    expect(l.p99).toBeCloseTo(3.97, 12);
    expect(l.mean).toBe(2.5);
  });

  it('metric names: the block\'s list (latency.p50 is latency), else what the task reports; others refused', () => {
    expect(metricNames('passkey', [])).toEqual(['accuracy', 'latency']);
    expect(metricNames('needle', ['string_match_all', 'latency.p50'])).toEqual(['string_match_all', 'latency']);
    expect(() => metricNames('passkey', ['precise_match'])).toThrow(/does not report metric precise_match/);
  });
});

describe('target_length prompts', () => {
  it('reads "prompt" or "instruction" per line and appends Ruler\'s length instruction per target', () => {
    writeFileSync(join(dir, 'p.jsonl'), '{"prompt": "Describe the sea."}\n\n{"instruction": "Explain rain."}\n');
    const s = taskSamples('target_length', { prompts: 'p.jsonl', targets: [50, 150] }, 0, bytes, dir);
    expect(s.map((x) => [x.cell.target, x.prompt])).toEqual([
      [50, 'Describe the sea.\nThe response should have a word count of 50 words.\n'],
      [50, 'Explain rain.\nThe response should have a word count of 50 words.\n'],
      [150, 'Describe the sea.\nThe response should have a word count of 150 words.\n'],
      [150, 'Explain rain.\nThe response should have a word count of 150 words.\n'],
    ]);
    expect(s[0]!.promptTokens).toBe(bytes(s[0]!.prompt));
  });

  it('a missing file, a bad line and a line without a prompt are coded errors naming file and line', () => {
    expect(() => readPrompts(join(dir, 'none.jsonl'), 'none.jsonl')).toThrow(expect.objectContaining({ code: 'LMP_E_EVAL_PROMPTS', message: 'cannot read prompts file "none.jsonl" (no such file)' }));
    writeFileSync(join(dir, 'bad.jsonl'), '{"prompt": "ok"}\n{"prompt": \n');
    expect(() => readPrompts(join(dir, 'bad.jsonl'), 'bad.jsonl')).toThrow(expect.objectContaining({ code: 'LMP_E_EVAL_PROMPTS', message: expect.stringMatching(/^bad\.jsonl:2: not a JSON value/) }));
    writeFileSync(join(dir, 'nofield.jsonl'), '{"text": "x"}\n');
    expect(() => readPrompts(join(dir, 'nofield.jsonl'), 'nofield.jsonl')).toThrow(/nofield\.jsonl:1: expected an object with a string "prompt" or "instruction"/);
  });

  it('tasks without a runtime say so by name; tsort without a text asks for a data clause', () => {
    expect(() => taskSamples('lv_eval', { lengths: [1024] }, 0, bytes, dir)).toThrow(expect.objectContaining({ code: 'LMP_E_NO_RUNTIME', message: expect.stringMatching(/eval task lv_eval has no runtime yet/) }));
    expect(() => taskSamples('tsort', { lengths: [1024], segments: 4, samples: 1 }, 0, bytes, dir)).toThrow(expect.objectContaining({ code: 'LMP_E_EVAL_PARAMS', message: expect.stringMatching(/`data D`/) }));
  });
});
