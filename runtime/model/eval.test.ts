import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from './config.js';
import { evaluate, formatProgress, lengthBucket } from './eval.js';
import { LlamaModel, type PackedBatch } from './llama.js';
import { Trainer } from './train.js';

const tmp = mkdtempSync(join(tmpdir(), 'lmp-eval-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cfg: ModelConfig = { dim: 16, layers: 1, heads: 2, kvHeads: 1, ffn: 24, vocab: 19, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: true };

function seqs(lens: number[], off = 0): PackedBatch {
  const T = lens.reduce((a, b) => a + b, 0);
  const cu = [0];
  for (const l of lens) cu.push(cu[cu.length - 1]! + l);
  const tokens = Int32Array.from({ length: T }, (_, i) => (i * 5 + off) % 19);
  const docIds = new Int32Array(T), pos = new Int32Array(T);
  lens.forEach((l, s) => { for (let j = 0; j < l; j++) { docIds[cu[s]! + j] = s; pos[cu[s]! + j] = j; } });
  return { tokens, cuSeqlens: Int32Array.from(cu), positionIds: pos, docIds, lossMask: new Uint8Array(T).fill(1) };
}

describe('evaluation and progress', () => {
  it('groups held-out loss by power-of-two sequence length', () => {
    expect([1, 2, 3, 4, 5, 9, 16, 17].map(lengthBucket)).toEqual([1, 2, 4, 4, 8, 16, 16, 32]);
    const m = LlamaModel.init(cfg, 2, { std: 0.5 });
    const b = seqs([3, 9, 10]);
    const r = evaluate(m, [b]);
    expect(r.byLength.map((x) => [x.maxLength, x.sequences, x.tokens])).toEqual([[4, 1, 2], [16, 2, 17]]);
    // each bucket's loss equals the loss of its sequences evaluated alone
    const short = m.loss({ ...b, tokens: b.tokens.slice(0, 3), cuSeqlens: Int32Array.of(0, 3), positionIds: b.positionIds.slice(0, 3), docIds: b.docIds.slice(0, 3), lossMask: b.lossMask.slice(0, 3) });
    expect(r.byLength[0]!.loss).toBeCloseTo(short.lossSum / short.count, 5);
    const all = m.loss(b);
    expect(r.loss).toBeCloseTo(all.lossSum / all.count, 5);
    expect(r.ppl).toBeCloseTo(Math.exp(r.loss), 10);
  });

  it('formats a progress line with ETA (hand-computed)', () => {
    expect(formatProgress(10, 100, 2.34567, 1e-3, 1234.4, 10, 10)).toBe('step 10/100 [#---------] loss 2.3457 lr 1.0e-3 1234 tok/s ETA 1m30s');
    expect(formatProgress(50, 100, 1, 3e-4, 10, 3600, 4)).toBe('step 50/100 [##--] loss 1.0000 lr 3.0e-4 10 tok/s ETA 1h00m');
  });

  it('the trainer logs periodic evals and progress lines', () => {
    const log = join(tmp, 'm.jsonl'), lines: string[] = [];
    const b = seqs([12, 7]);
    const tr = new Trainer(LlamaModel.init(cfg, 3), (function* () { for (;;) yield b; })(), {
      lr: 1e-2, totalSteps: 4, logPath: log, eval: { every: 2, batches: () => [seqs([5, 30], 3)] }, progress: (l) => lines.push(l),
    });
    tr.run();
    const rows = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; eval?: { byLength: unknown[] } });
    expect(rows.map((r) => [r.step, r.eval ? 'eval' : 'train'])).toEqual([[1, 'train'], [2, 'train'], [2, 'eval'], [3, 'train'], [4, 'train'], [4, 'eval']]);
    expect(rows[2]!.eval!.byLength.length).toBe(2);
    expect(lines.length).toBe(4);
    expect(lines[3]).toMatch(/^step 4\/4 \[#+\] loss \d+\.\d{4} .* ETA 0s$/);
  });
});
