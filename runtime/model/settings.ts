// The `.lmp` attention block (the compiler's AttentionSpec) as LlamaModel options, and the
// `cache keep(sink(g) | window(w)) reposition` clause as the sinks + window cache. Pure (no
// native code): the compiler's lowering uses cacheKeepPolicy to decide what the runtime runs.
import type { MaskIR } from '../mask/ir.js';
import type { AttentionSpec, CacheSpec } from '../entry/spec.js';
import type { AttentionSettings, PositionSettings, ScoreSettings } from './attention.js';

type Spec = Pick<AttentionSpec, 'mask' | 'score' | 'position'>;

/**
 * LlamaModel options for an attention block. Softplus' length scale uses `trainLength` (the
 * training context; default 2048): lambda_i = max(1, ln(qpos + 1) / ln(trainLength)); without
 * length_scale lambda = 1. RoPE's theta is the model config's ropeTheta (lowering copies it).
 */
export function attentionOptions(spec: Spec, trainLength = 2048): AttentionSettings {
  const s = spec.score;
  const score: ScoreSettings | undefined =
    s.kind === 'softmax' ? (s.temperature !== 1 ? { temperature: s.temperature } : undefined)
    : s.kind === 'softcap' ? { softcap: s.cap }
    : { softplus: { power: s.power, trainLength: s.lengthScale ? trainLength : Infinity } };
  const p = spec.position;
  let position: PositionSettings;
  if (p.kind === 'rope') position = { kind: 'rope', scaling: p.scaling, limit: p.limit };
  else if (p.kind === 'alibi') position = { kind: 'alibi', limit: p.limit };
  else {
    if (p.limit !== null) throw Object.assign(new Error('attention: a distance limit needs a position encoding (rope or alibi), not none'), { code: 'LMP_E_NO_RUNTIME' });
    position = { kind: 'none' };
  }
  const mask = spec.mask.groups.length ? spec.mask : (spec.mask.default ?? { op: 'causal' as const });
  return { mask, position, ...(score ? { score } : {}) };
}

/** `sink(g) | window(w)` (either order, optionally `causal & (...)`) as {sinks, window}, else undefined. */
export function sinksWindowOf(m: MaskIR): { sinks: number; window: number } | undefined {
  if (m.op === 'and' && m.args.length === 2) {
    const i = m.args.findIndex((a) => a.op === 'causal');
    if (i >= 0) return sinksWindowOf(m.args[1 - i]!);
  }
  if (m.op === 'window') return { sinks: 0, window: m.size };
  if (m.op !== 'or' || m.args.length !== 2) return undefined;
  const sink = m.args.find((a) => a.op === 'sink'), win = m.args.find((a) => a.op === 'window');
  if (!sink || !win || sink.op !== 'sink' || win.op !== 'window') return undefined;
  return { sinks: sink.count, window: win.size };
}

/**
 * The session policy of `cache keep(mask) [reposition]`: sinks + window with position shift,
 * or a reason it cannot run (runtime/model's sinks + window cache always repositions).
 */
export function cacheKeepPolicy(c: Extract<CacheSpec, { kind: 'keep' }>): { kind: 'sinks_window'; sinks: number; window: number } | { error: string } {
  const sw = sinksWindowOf(c.mask);
  if (!sw || !(Number.isInteger(sw.sinks) && sw.sinks >= 0 && Number.isInteger(sw.window) && sw.window >= 1))
    return { error: 'cache keep(mask) other than keep(sink(g) | window(w)) (runtime/model evicts to sinks + window only)' };
  if (!c.reposition)
    return { error: 'cache keep(sink(g) | window(w)) without reposition (runtime/model\'s sinks + window cache re-positions kept tokens; add `reposition`)' };
  return { kind: 'sinks_window', ...sw };
}
