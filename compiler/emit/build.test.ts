import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { main } from '../cli.js';
import { check } from '../index.js';
import { lower } from '../lower/index.js';
import { buildFile, emitAll, GENERATED_HEADER, kernelsSchema, outputNames, sourcesFingerprint, validateSchema } from './index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const EXAMPLES = readdirSync(join(ROOT, 'examples'))
  .filter((f) => f.endsWith('.lmp'))
  .sort();
const SNAP = join(ROOT, 'examples', '__snapshots__');

async function emitExample(name: string) {
  const file = `examples/${name}`;
  const text = readFileSync(join(ROOT, file), 'utf8');
  const r = check(text, file);
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return emitAll(lower(r.program), text, name.replace(/\.lmp$/, ''));
}

const outputs = new Map<string, Awaited<ReturnType<typeof emitExample>>>();
async function outputsOf(name: string) {
  if (!outputs.has(name)) outputs.set(name, await emitExample(name));
  return outputs.get(name)!;
}

async function cli(args: string[]) {
  let out = '', err = '';
  const code = await main(args, { stdout: (s) => (out += s), stderr: (s) => (err += s), env: {} });
  return { code, out, err };
}

describe('lmpc build outputs', () => {
  it('has examples to build', () => {
    expect(EXAMPLES).toContain('quickstart.lmp');
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(5);
  });

  it('pipeline.ts of every example type-checks under strict tsc with lmp/runtime mapped to runtime/index.ts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmp-tc-'));
    const files: string[] = [];
    for (const name of EXAMPLES) {
      const o = await outputsOf(name);
      expect(o.ts.split('\n')[0]).toBe(GENERATED_HEADER);
      const f = join(dir, name.replace(/\.lmp$/, '.ts'));
      writeFileSync(f, o.ts);
      files.push(f);
    }
    // A deliberately broken module proves the check can fail.
    const broken = join(dir, 'broken.ts');
    writeFileSync(broken, `import { type Frozen, type ModelSpec } from 'lmp/runtime';\nexport const m = { kind: 'model' } as const satisfies Frozen<ModelSpec>;\n`);
    const program = ts.createProgram([...files, broken], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules', '@types')],
      skipLibCheck: true,
      noUnusedLocals: true,
      lib: ['lib.es2022.d.ts'],
      exactOptionalPropertyTypes: false,
      baseUrl: ROOT,
      paths: { 'lmp/runtime': ['runtime/index.ts'] },
    });
    // Only the generated modules are judged here (the runtime's own sources are `npm run typecheck`'s):
    // asking for their diagnostics alone spares checking the bodies of every runtime file.
    const judged = program.getSourceFiles().filter((sf) => sf.fileName.startsWith(dir));
    expect(judged.map((sf) => sf.fileName).sort()).toEqual([...files, broken].sort());
    const diags = [
      ...program.getOptionsDiagnostics(),
      ...program.getGlobalDiagnostics(),
      ...judged.flatMap((sf) => [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]),
    ].map((d) => `${d.file ? d.file.fileName.replace(dir, '') : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    const mine = diags.filter((d) => !d.startsWith('/broken.ts'));
    expect(mine).toEqual([]);
    expect(diags.some((d) => d.startsWith('/broken.ts'))).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('kernels.json of every example validates against spec/kernels.schema.json', async () => {
    for (const name of EXAMPLES) {
      const k = JSON.parse((await outputsOf(name)).kernels);
      expect(k.version).toBe(1);
      expect(validateSchema(kernelsSchema(), k)).toEqual([]);
    }
  });

  it('the schema rejects what it must reject', async () => {
    const k = JSON.parse((await outputsOf('long_context.lmp')).kernels);
    const schema = kernelsSchema();
    expect(validateSchema(schema, { ...k, version: 2 }).length).toBeGreaterThan(0);
    const bad = structuredClone(k);
    bad.attentions[0].groups[0].density[0].density = 1.5;
    expect(validateSchema(schema, bad).map((e) => e.message).join()).toMatch(/maximum/);
    const badMask = structuredClone(k);
    badMask.attentions[0].groups[0].mask = { op: 'window' };
    expect(validateSchema(schema, badMask).length).toBeGreaterThan(0);
    const { decodes: _d, ...missing } = k;
    expect(validateSchema(schema, missing).map((e) => e.message)).toContain("missing property 'decodes'");
  });

  it('kernels.json holds hand-checkable facts: strategies, GQA, lengths, densities, explicit chains', async () => {
    const lc = JSON.parse((await outputsOf('long_context.lmp')).kernels);
    const streaming = lc.attentions.find((a: { name: string }) => a.name === 'streaming');
    // Only the position limit (1k) says which length it runs at; causal & (sink(4) | window(1024))
    // at 1024 tokens is plain causal: 1024 * 1025 / 2 visible pairs of 1024^2.
    expect(streaming.lengths).toEqual([1024]);
    expect(streaming.groups[0].density[0].density).toBeCloseTo((1024 * 1025) / 2 / 1024 ** 2, 6);
    // 16 x 16 tiles of 64: 16 diagonal partial, 120 full below, 120 empty above.
    expect(streaming.groups[0].density[0].tiles).toEqual({ size: 64, total: 256, empty: 120, full: 120, partial: 16 });
    expect(streaming.groups[0].classification).toEqual({ strategy: 'closed_form', inputs: ['positions'], shape: 'lambda' });
    expect(streaming.position).toEqual({ kind: 'rope', theta: 10000, scaling: { kind: 'none' }, limit: 1024 });
    const hybrid = lc.attentions.find((a: { name: string }) => a.name === 'hybrid');
    expect(hybrid.groups.map((g: { heads: unknown }) => g.heads)).toEqual([{ from: 0, to: 3 }, { from: 4, to: 7 }]);
    const scaled = lc.attentions.find((a: { name: string }) => a.name === 'scaled');
    expect(scaled.position.scaling).toEqual({ kind: 'linear', factor: 4 });

    const dd = JSON.parse((await outputsOf('dataset_decomposition.lmp')).kernels);
    const doc = dd.attentions[0];
    expect(doc.groups[0].classification.strategy).toBe('document');
    expect(doc.gqa).toEqual([{ model: 'tiny', heads: 8, kvHeads: 4, groupSize: 2, headDim: 32 }]);
    expect(doc.lengths).toEqual([256, 512, 1024, 2048, 4096, 8192]);

    const dec = JSON.parse((await outputsOf('decoding.lmp')).kernels);
    const story = dec.decodes.find((d: { name: string }) => d.name === 'story');
    expect(story.chain).toEqual([
      { name: 'penalties', last: 64, repeat: 1.1, frequency: 0, presence: 0 },
      { name: 'top_k', k: 100 },
      { name: 'mirostat', tau: 3, eta: 0.1, m: 100, variant: 'paper' },
    ]);
    expect(story.seed).toBe(42);
  });

  it('is deterministic and matches the committed snapshots (UPDATE_SNAPSHOTS=1 regenerates them)', async () => {
    const update = process.env['UPDATE_SNAPSHOTS'] === '1';
    if (update) mkdirSync(SNAP, { recursive: true });
    for (const name of EXAMPLES) {
      const a = await outputsOf(name);
      const b = await emitExample(name);
      expect(b).toEqual(a);
      const base = name.replace(/\.lmp$/, '');
      const n = outputNames(base);
      for (const [file, content] of [
        [n.ts, a.ts],
        [n.kernels, a.kernels],
        [n.bundle, a.bundle],
      ] as const) {
        const p = join(SNAP, file);
        if (update) writeFileSync(p, content);
        expect(existsSync(p), `${p} (run with UPDATE_SNAPSHOTS=1)`).toBe(true);
        expect(content).toBe(readFileSync(p, 'utf8'));
      }
    }
  });

  it('the bundle keeps the runtime external and carries the generated header', async () => {
    const b = (await outputsOf('quickstart.lmp')).bundle;
    expect(b).toMatch(/from "lmp\/runtime"/);
    expect(b).toContain('runTrain(train_quick, options)');
  });
});

describe('lmpc build on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmp-build-'));
  const src = `tokenizer b = bytes()\nattention a {\n  mask causal & window(128)\n}\nmodel m {\n  arch llama(dim: 32, layers: 1, heads: 2, ffn: 64)\n  vocab b\n  attention a\n}\ndecode d {\n  model m\n  policy top_k(5)\n  max_tokens 16\n}\n`;
  const file = join(dir, 'p.lmp');
  writeFileSync(file, src);

  it('writes the three outputs and a stamp, then skips an unchanged build', async () => {
    const out = join(dir, 'out');
    const r1 = await buildFile(file, { outDir: out });
    expect(r1.ok && !r1.skipped).toBe(true);
    expect(readdirSync(out).sort()).toEqual(['.p.lmpc-stamp', 'p.kernels.json', 'p.mjs', 'p.ts']);
    const r2 = await buildFile(file, { outDir: out });
    expect(r2.ok && r2.skipped).toBe(true);
    // A damaged output is rebuilt.
    writeFileSync(join(out, 'p.ts'), '// edited\n');
    const r3 = await buildFile(file, { outDir: out });
    expect(r3.ok && !r3.skipped).toBe(true);
    expect(readFileSync(join(out, 'p.ts'), 'utf8').startsWith(GENERATED_HEADER)).toBe(true);
    // A changed source is rebuilt.
    writeFileSync(file, src.replace('window(128)', 'window(256)'));
    const r4 = await buildFile(file, { outDir: out });
    expect(r4.ok && !r4.skipped).toBe(true);
    expect(readFileSync(join(out, 'p.kernels.json'), 'utf8')).toContain('"size": 256');
    writeFileSync(file, src);
  });

  it('the stamp covers every compiler and runtime source (a runtime change rebuilds), not tests', () => {
    const top = mkdtempSync(join(tmpdir(), 'lmp-fp-'));
    mkdirSync(join(top, 'compiler', 'emit'), { recursive: true });
    mkdirSync(join(top, 'runtime', 'model'), { recursive: true });
    writeFileSync(join(top, 'compiler', 'emit', 'a.ts'), 'export const a = 1;\n');
    writeFileSync(join(top, 'runtime', 'model', 'llama.ts'), 'export const l = 1;\n');
    const h0 = sourcesFingerprint(top);
    writeFileSync(join(top, 'runtime', 'model', 'llama.test.ts'), 'test\n');
    writeFileSync(join(top, 'runtime', 'model', 'llama.js.map'), '{}\n');
    expect(sourcesFingerprint(top)).toBe(h0);
    writeFileSync(join(top, 'runtime', 'model', 'llama.ts'), 'export const l = 2;\n');
    const h1 = sourcesFingerprint(top);
    expect(h1).not.toBe(h0);
    writeFileSync(join(top, 'runtime', 'model', 'extra.js'), 'export {};\n');
    expect(sourcesFingerprint(top)).not.toBe(h1);
    rmSync(top, { recursive: true, force: true });
  });

  it('a file with check errors writes nothing (exit 1)', async () => {
    const bad = join(dir, 'bad.lmp');
    writeFileSync(bad, 'model m {\n  arch llama(dim: 30, layers: 1, heads: 4, ffn: 64)\n}\ndecode d { model nope }\n');
    const out = join(dir, 'bad-out');
    const r = await cli(['build', bad, '-o', out]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/LMP0202/);
    expect(existsSync(out)).toBe(false);
  });

  it('an unwritable output folder is LMP0906 (exit 1), nothing half-written', async () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'x');
    const r = await cli(['build', file, '-o', join(blocker, 'out')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/LMP0906/);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  // Node 20's recursive mkdir never returns under /proc; the build must fail with a code instead.
  it.runIf(process.platform === 'linux')('an output folder under /proc is LMP0906 (exit 1), not a hang', async () => {
    const r = await cli(['build', file, '-o', '/proc/lmp-gen']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/LMP0906: cannot write '\/proc\/lmp-gen'/);
  });

  it('reports up to date on the second CLI build and exit 0', async () => {
    const out = join(dir, 'cli-out');
    expect((await cli(['build', file, '-o', out])).code).toBe(0);
    const again = await cli(['build', file, '-o', out, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out).skipped).toBe(true);
  });
});
