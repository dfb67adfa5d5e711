// examples/decoding.lmp and examples/prepacking.lmp run through `lmpc run`: every decode block
// (sampler chains, speculative decoding, the cascade, a file of prompts prefilled prepacked) and
// the prepacking example as shipped (Llama 3's tokenizer.json from the dev dependency). Their
// models are untrained, so what is checked is what the runs report, not the text.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cli } from '../compiler/cli.testutil.js';
import { buildFile } from '../compiler/emit/index.js';

const ROOT = resolve(import.meta.dirname, '..');

/** The "prompt" fields of examples/prompts.jsonl, in file order (lines without one are skipped). */
const PROMPTS = readFileSync(join(ROOT, 'examples', 'prompts.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => (JSON.parse(l) as { prompt?: string }).prompt)
  .filter((p): p is string => typeof p === 'string');

describe('examples/decoding.lmp runs every decode block', () => {
  it('story, typical, fast (speculative), cheap (cascade) and batch (prompt file, prepacked)', async () => {
    const sets = ['story', 'typical', 'fast', 'cheap'].flatMap((t) => ['--set', `${t}.max_tokens=6`]);
    const r = await cli(['run', 'examples/decoding.lmp', '--all', ...sets, '--set', 'batch.max_tokens=4', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out).results as Record<string, any>[];
    expect(res.map((x) => x.target)).toEqual(['story', 'typical', 'fast', 'cheap', 'batch']);
    const by = Object.fromEntries(res.map((x) => [x.target, x]));
    // story traces entropy and surprise per token
    expect(by.story.trace).toHaveLength(by.story.tokens.length);
    // fast: speculative decoding with the small draft, its counts consistent
    const s = by.fast.speculation;
    expect(s.draft).toBe('small');
    expect(by.fast.models.map((m: any) => `${m.role} ${m.name}`)).toEqual(['model big', 'draft small']);
    expect(s.emitted).toBe(by.fast.tokens.length + (by.fast.stopReason === 'eos' ? 1 : 0));
    expect(s.acceptanceRate).toBeCloseTo(s.accepted / s.drafted, 12);
    expect(s.meanAccepted).toBeCloseTo(s.accepted / s.rounds, 12);
    // cheap: the cascade says which model answered and why
    const c = by.cheap.cascade;
    expect(c.models).toEqual(['small', 'big']);
    expect(c.prompts).toBe(1);
    const stages = by.cheap.prompts[0].cascade;
    expect(stages[0].model).toBe('small');
    expect(stages[0].deferred).toBe(Number.isNaN(stages[0].statistic) || stages[0].statistic < -2.5);
    expect(by.cheap.prompts[0].producers).toEqual(by.cheap.tokens.map(() => by.cheap.prompts[0].model));
    // batch: one result per prompt of prompts.jsonl, in input order, prefilled prepacked
    expect(by.batch.prompts.map((p: any) => p.prompt)).toEqual(PROMPTS);
    expect(by.batch.prefill.method).toBe('prepack');
    expect(by.batch.prefill.prompts).toBe(PROMPTS.length);
    expect(by.batch.prefill.promptTokens).toBe(PROMPTS.reduce((a, p) => a + Buffer.byteLength(p, 'utf8'), 0));
    expect(by.batch.prefill.tokensRun).toBe(by.batch.prefill.promptTokens);
  }, 120_000);
});

describe('examples/prepacking.lmp runs as shipped', () => {
  it('prefills the prompts of prompts.jsonl prepacked with the Llama 3 tokenizer and decodes each', async () => {
    const r = await cli(['run', 'examples/prepacking.lmp', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const [d] = JSON.parse(r.out).results as Record<string, any>[];
    expect(d.target).toBe('answers');
    expect(d.prompts.map((p: any) => p.prompt)).toEqual(PROMPTS);
    expect(d.prefill.method).toBe('prepack');
    expect(d.prompts.every((p: any) => p.tokens.length === 16 && p.tokens.every((t: number) => t >= 0 && t < 128256))).toBe(true);
    // the text is the tokenizer's decoding (non-empty for 16 tokens of a 128k vocabulary)
    expect(d.prompts.every((p: any) => typeof p.text === 'string' && p.text.length > 0)).toBe(true);
  }, 120_000);
});

describe('a built module of examples/decoding.lmp', () => {
  it("runs the speculative, cascade and prompt-file decodes from its entry points in plain Node", async () => {
    mkdirSync(join(ROOT, '.lmp-cache'), { recursive: true });
    const out = mkdtempSync(join(ROOT, '.lmp-cache', 'decode-bundle-'));
    try {
      const r = await buildFile('examples/decoding.lmp', { outDir: out, force: true });
      expect(r.ok).toBe(true);
      const script = `
        const m = await import(${JSON.stringify(pathToFileURL(join(out, 'decoding.mjs')).href)});
        const o = { baseDir: ${JSON.stringify(join(ROOT, 'examples'))} };
        const fast = await m.targets.fast.run(o), cheap = await m.targets.cheap.run(o), batch = await m.targets.batch.run(o);
        console.log(JSON.stringify({ fast: fast.speculation, cheap: cheap.cascade, batch: batch.prompts.map((p) => p.prompt), prefill: batch.prefill.method }));`;
      const res = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 }).trim().split('\n').at(-1)!);
      expect(res.fast.draft).toBe('small');
      expect(res.fast.emitted).toBeGreaterThan(0);
      expect(res.cheap.models).toEqual(['small', 'big']);
      expect(res.batch).toEqual(PROMPTS);
      expect(res.prefill).toBe('prepack');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);
});
