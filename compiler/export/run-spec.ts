// The `run` section of spec.json: what the exported package runs, derived from the IR exactly as
// lmp's runtime derives it (runtime/entry runTrain, the attention of the LlamaModel it builds), so
// the Python side needs no lmp logic beyond the formulas. Pure: no I/O.
import type { LlamaModel } from '../../runtime/model/llama.js';
import { blockLayout, classifyBlocks, flexView, headGroups } from '../../runtime/mask/classify.js';
import { usesDocuments } from '../../runtime/mask/eval.js';
import type { AttentionMaskIR } from '../../runtime/mask/ir.js';
import { thaw } from '../../runtime/entry/common.js';
import { trainCurriculum } from '../../runtime/entry/index.js';
import type { Frozen, TrainSpec } from '../../runtime/entry/spec.js';
import { refuse } from './refusals.js';

/** FlexAttention's default block size; the block tables are computed at this granularity. */
export const FLEX_BLOCK = 128;

export interface RunAttention {
  readonly mask: AttentionMaskIR;
  readonly score: { readonly temperature?: number; readonly softcap?: number; readonly softplus?: { readonly power: number; readonly trainLength: number | null } };
  readonly position: { readonly kind: 'rope' | 'alibi' | 'none'; readonly scaling?: unknown; readonly limit?: number | null };
}

/**
 * What a built LlamaModel attends with (its own mask, score and position, defaults included, and
 * the RoPE scaling in force: the position's, else the model config's, a checkpoint's
 * rope_parameters), in spec.json's form.
 */
export function runAttention(m: Pick<LlamaModel, 'mask' | 'score' | 'position' | 'ropeScaling'>, owner: Frozen<{ kind: string; name: string | null; where: string }>): RunAttention {
  const mask: AttentionMaskIR = 'groups' in m.mask ? m.mask : { default: m.mask, groups: [] };
  const s = m.score;
  const score: RunAttention['score'] = s
    ? {
        ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
        ...(s.softcap ? { softcap: s.softcap } : {}),
        ...(s.softplus ? { softplus: { power: s.softplus.power, trainLength: Number.isFinite(s.softplus.trainLength) ? s.softplus.trainLength : null } } : {}),
      }
    : {};
  const p = m.position;
  if (p.kind === 'rope' && m.ropeScaling?.kind === 'dynamic' && p.limit)
    refuse('LMP_E_EXPORT_UNSUPPORTED', owner, 'dynamic NTK RoPE scaling with a position limit: the package\'s far rotation R(L) would scale for L, not for the call\'s length as lmp does');
  const position: RunAttention['position'] =
    p.kind === 'rope' ? { kind: 'rope', scaling: m.ropeScaling ?? { kind: 'none' }, limit: p.limit ?? null } : p.kind === 'alibi' ? { kind: 'alibi', limit: p.limit ?? null } : { kind: 'none' };
  return { mask, score, position };
}

export interface BlockTables {
  readonly block: number;
  readonly head_group: readonly number[];
  readonly groups: readonly { kv_num_blocks: number[]; kv_indices: number[][]; full_kv_num_blocks: number[]; full_kv_indices: number[][] }[];
}

/**
 * lmpc's block tables for one sequence length T (queries = keys = T): lmp's closed-form
 * classifier (runtime/mask/classify.ts) per head-group mask at the FlexAttention block size, in
 * FlexAttention's layout (kv_num_blocks / kv_indices and their full_ twins). Valid for a batch
 * whose sequences are each one document (or for masks that do not look at documents).
 */
export function blockTables(mask: AttentionMaskIR, heads: number, T: number, block = FLEX_BLOCK): BlockTables {
  const { masks, headGroup } = headGroups(mask, heads);
  const nQ = Math.ceil(T / block), nK = nQ;
  const rows = (a: Int32Array): number[][] => Array.from({ length: nQ }, (_, i) => Array.from(a.subarray(i * nK, (i + 1) * nK)));
  const groups = masks.map((m) => {
    const v = flexView(blockLayout(classifyBlocks(m, { qLen: T, kvLen: T, tileQ: block, tileKV: block }), nQ, nK));
    return { kv_num_blocks: Array.from(v.kvNumBlocks), kv_indices: rows(v.kvIndices), full_kv_num_blocks: Array.from(v.fullKvNumBlocks), full_kv_indices: rows(v.fullKvIndices) };
  });
  return { block, head_group: Array.from(headGroup), groups };
}

/** Whether per-length tables describe every batch: the mask ignores documents, or every sequence is one document (decomposition). */
export function tabulatable(mask: AttentionMaskIR, packer: string): boolean {
  const all = [...(mask.default ? [mask.default] : []), ...mask.groups.map((g) => g.mask)];
  return packer === 'decompose' || !all.some(usesDocuments);
}

export interface TrainRun {
  readonly name: string;
  readonly where: string;
  readonly steps: number;
  readonly accumulate: number;
  readonly clip: number | null;
  readonly optimizer: { readonly lr: number; readonly beta1: number; readonly beta2: number; readonly weightDecay: number; readonly eps: number };
  readonly schedule: TrainSpec['schedule'];
  readonly curriculum: unknown;
  readonly data: string;
  readonly evals: readonly { every: number; data: string; label: string; by: string }[];
  readonly checkpoint: { dir: string; every: number } | null;
  readonly log: string | null;
  /** `resume auto`: continue from the checkpoint folder's latest when there is one */
  readonly resume: 'auto' | null;
}

/**
 * The train section: optimizer, schedule, the curriculum as runTrain runs it (ranks 1, mixed seed;
 * no curriculum over data whose lengths depend on the documents: one sequence of the longest of
 * `bucketLengths` per step), shard folders.
 */
export function trainRun(spec: Frozen<TrainSpec>, dataDir: string, evalDirs: readonly string[], bucketLengths: readonly number[]): TrainRun {
  const o = spec.optimizer;
  if (o.kind !== 'adamw') return refuse('LMP_E_EXPORT_UNSUPPORTED', spec, `optimizer ${o.kind}: lmp trains with adamw only, and so does the export`);
  const evals = spec.evals.map((ev, i) => {
    if (!ev.perplexity) return refuse('LMP_E_EXPORT_EVAL', spec, `periodic eval ${ev.eval ?? ev.task?.task ?? '?'}: only perplexity(D.split, by: ...) is exported`);
    return { every: ev.every, data: evalDirs[i]!, label: `${ev.perplexity.data.name}.${ev.perplexity.split}`, by: ev.perplexity.by };
  });
  return {
    name: spec.name ?? 'train',
    where: spec.where,
    steps: spec.steps,
    accumulate: spec.accumulate,
    clip: spec.clip,
    optimizer: { lr: o.lr, beta1: o.beta1, beta2: o.beta2, weightDecay: o.weightDecay, eps: o.eps },
    schedule: thaw(spec.schedule),
    curriculum: trainCurriculum(spec, bucketLengths).curriculum,
    data: dataDir,
    evals,
    checkpoint: spec.checkpoint ? { dir: spec.checkpoint.dir, every: spec.checkpoint.every } : null,
    log: spec.log,
    resume: spec.resume,
  };
}
