// pipeline.kernels.json: the fused-kernel configurations of a .lmp file (schema:
// spec/kernels.schema.json, version 1). For each attention and each of its head groups: the mask
// IR, the block-classification strategy, tile sizes per backend, score and position parameters,
// the GQA layout of each model using it, and the expected density at the lengths the file uses
// (runtime/mask stats). For each decode: the validated sampler chain, every parameter explicit.
import { validateChain } from '../../runtime/decode/chain.js';
import { tileStats, density } from '../../runtime/mask/index.js';
import type { MaskIR } from '../../runtime/mask/ir.js';
import { declsOf, type AttentionSpec, type DecodeSpec, type ModelSpec, type ProgramIR } from '../ir/types.js';

export const KERNELS_VERSION = 1;
/** Lengths above this are listed but their density is not computed (cost grows with length^2 / tile^2). */
export const MAX_DENSITY_LENGTH = 16384;
/** Used when nothing in the file says which lengths an attention runs at. */
export const DEFAULT_LENGTHS: readonly number[] = [1024];

const round = (x: number): number => Math.round(x * 1e6) / 1e6;

function primitives(m: MaskIR, out = new Set<string>()): Set<string> {
  if (m.op === 'and' || m.op === 'or') m.args.forEach((a) => primitives(a, out));
  else if (m.op === 'not') {
    out.add('not');
    primitives(m.arg, out);
  } else out.add(m.op);
  return out;
}

/** A name for the mask's shape, for people reading the file. */
export function maskShape(m: MaskIR): string {
  const ps = primitives(m);
  const only = (...names: string[]) => [...ps].every((p) => names.includes(p));
  if (ps.size === 1) return [...ps][0]!;
  if (only('causal', 'sink', 'window') && ps.has('sink') && ps.has('window')) return 'lambda';
  if (only('causal', 'same_document')) return 'document_causal';
  if (only('causal', 'window')) return 'sliding_window';
  return 'composition';
}

/**
 * How the kernel classifies tiles. Every primitive the language has today is classified in
 * closed form from tile bounds (runtime/mask/classify.ts); masks with same_document need the
 * batch's cu_seqlens / document ids for that closed form ('document'). 'data_dependent' is left
 * for selections that depend on scores (the sirllm / infllm caches), reported at the cache.
 */
export function strategyOf(m: MaskIR): { readonly strategy: 'closed_form' | 'document'; readonly inputs: readonly string[]; readonly shape: string } {
  const doc = primitives(m).has('same_document');
  return { strategy: doc ? 'document' : 'closed_form', inputs: doc ? ['positions', 'cu_seqlens'] : ['positions'], shape: maskShape(m) };
}

function modelsUsing(ir: ProgramIR, a: AttentionSpec): ModelSpec[] {
  return declsOf(ir, 'model')
    .map((d) => d.spec)
    .filter((m) => m.attention === a);
}

function decodesUsing(ir: ProgramIR, a: AttentionSpec): DecodeSpec[] {
  return declsOf(ir, 'decode')
    .map((d) => d.spec)
    .filter((d) => d.attention === a);
}

/** Sequence lengths the file runs attention `a` at: train buckets, decode lengths, eval task lengths, the position limit. */
export function lengthsFor(ir: ProgramIR, a: AttentionSpec): number[] {
  const ls = new Set<number>();
  const models = modelsUsing(ir, a);
  for (const t of declsOf(ir, 'train')) if (models.includes(t.spec.model)) t.spec.data.buckets.forEach((b) => ls.add(b));
  const decodes = decodesUsing(ir, a);
  for (const d of decodes) if (d.maxTokens !== null) ls.add(d.maxTokens);
  for (const e of declsOf(ir, 'eval')) {
    if (e.spec.using?.kind !== 'decode' || !decodes.some((d) => d.name === e.spec.using!.name)) continue;
    const l = e.spec.task.params['lengths'];
    if (Array.isArray(l)) for (const x of l) if (typeof x === 'number') ls.add(x);
  }
  if (a.position.limit !== null) ls.add(a.position.limit);
  const out = [...ls].filter((x) => Number.isInteger(x) && x > 0).sort((x, y) => x - y);
  return out.length ? out : [...DEFAULT_LENGTHS];
}

function attentionEntry(ir: ProgramIR, a: AttentionSpec): Record<string, unknown> {
  const lengths = lengthsFor(ir, a);
  const groups = a.mask.groups.length
    ? a.mask.groups.map((g) => ({ heads: { from: g.from, to: g.to }, mask: g.mask }))
    : [{ heads: null, mask: a.mask.default ?? ({ op: 'causal' } as MaskIR) }];
  const tile = a.tile.cpu.q;
  return {
    name: a.name,
    where: a.where,
    groups: groups.map((g) => ({
      heads: g.heads,
      mask: g.mask,
      classification: strategyOf(g.mask),
      density: lengths.map((length) => {
        if (length > MAX_DENSITY_LENGTH) return { length, density: null, tiles: null };
        const s = tileStats(g.mask, length, tile);
        return { length, density: round(density(g.mask, length, undefined, tile)), tiles: { size: tile, total: s.tiles, empty: s.empty, full: s.full, partial: s.partial } };
      }),
    })),
    // with same_document and no batch at hand, densities assume one document spanning the sequence
    densityAssumes: groups.some((g) => strategyOf(g.mask).strategy === 'document') ? 'one document per sequence (an upper bound)' : 'nothing',
    tiles: a.tile,
    score: a.score,
    position: a.position,
    cache: { ...a.cache, selection: a.cache.kind === 'sirllm' || a.cache.kind === 'infllm' ? 'data_dependent' : a.cache.kind === 'keep' ? 'closed_form' : 'none' },
    gqa: modelsUsing(ir, a)
      .filter((m) => m.config !== null)
      .map((m) => ({ model: m.name, heads: m.config!.heads, kvHeads: m.config!.kvHeads, groupSize: m.config!.heads / m.config!.kvHeads, headDim: m.config!.dim / m.config!.heads })),
    lengths,
  };
}

function decodeEntry(d: DecodeSpec): Record<string, unknown> {
  const { diagnostics } = validateChain(d.chain.samplers);
  return {
    name: d.name,
    where: d.where,
    model: d.model?.name ?? null,
    attention: d.attention?.name ?? null,
    chain: d.chain.samplers,
    seed: Number(d.chain.seed ?? 0),
    warnings: diagnostics.filter((x) => x.severity === 'warning').map((x) => ({ code: x.code, index: x.index, message: x.message })),
    maxTokens: d.maxTokens,
    minTokens: d.minTokens,
    stop: d.stop,
    length: d.length,
  };
}

export function kernelsJson(ir: ProgramIR): Record<string, unknown> {
  return {
    version: KERNELS_VERSION,
    source: ir.file,
    attentions: declsOf(ir, 'attention').map((d) => attentionEntry(ir, d.spec)),
    decodes: declsOf(ir, 'decode').map((d) => decodeEntry(d.spec)),
  };
}

export function emitKernels(ir: ProgramIR): string {
  return JSON.stringify(kernelsJson(ir), null, 2) + '\n';
}
