// Plain float64 references of the samplers whose definitions leave room for fidelity bugs
// (locally typical, Mirostat v1), written from the definitions with full sorts and no shortcuts.
// Tests check the native chain (native/src/sampling) against these; nothing else imports them.
//
// Typical (Meister et al.; Hugging Face TypicalLogitsWarper): p = softmax(x), H = -sum p ln p,
// score_i = |-ln p_i - H|. In (score asc, id asc) order, the crossing token is the first whose
// running mass reaches the target: cum >= p ('hf') or cum > p ('llama_cpp'). Kept: every token
// scoring below the crossing score s*, plus, of those scoring exactly s*, all ('keep': HF removes
// only `sorted_scores > sorted_scores[last_ind]`) or those up to the crossing token ('by_id').
//
// Mirostat v1 (Basu et al.): over the finite candidates in (value desc, id asc) order,
// s = sum t_i b_i / sum t_i^2, t_i = ln((i+2)/(i+1)), b_i = ln(p_i / p_{i+1}) = x_i - x_{i+1}, over
// i < m ('paper', basusourya/mirostat estimate_s: `for i in range(100)`) or i < m - 1
// ('llama_cpp', llama_sampler_mirostat), fewer when fewer candidates exist;
// k = ((eps 2^mu) / (1 - N^-eps))^(1/s), eps = s - 1; 'paper' takes round(k) + 1, 'llama_cpp'
// max(floor(k), 1); at most the number of candidates. Surprise S = -log2 of the ORIGINAL p
// ('paper') or of the renormalized top-k p ('llama_cpp'); mu -= eta (S - tau).

type Arr = ArrayLike<number>;

/** softmax in float64; -inf gives 0. */
export function softmax64(x: Arr): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > m) m = x[i]!;
  const out = new Float64Array(x.length);
  let z = 0;
  for (let i = 0; i < x.length; i++) {
    const e = x[i] === -Infinity ? 0 : Math.exp(x[i]! - m);
    out[i] = e;
    z += e;
  }
  for (let i = 0; i < x.length; i++) out[i]! /= z;
  return out;
}

/** The renormalized distribution over `kept` (float64, 0 elsewhere). */
export function restrictedSoftmax(x: Arr, kept: readonly number[]): Float64Array {
  const y = new Float64Array(x.length).fill(-Infinity);
  for (const i of kept) y[i] = x[i]!;
  return softmax64(y);
}

export interface TypicalRefOptions {
  readonly crossing?: 'hf' | 'llama_cpp';
  /** Default: 'keep' with crossing 'hf', 'by_id' with 'llama_cpp' (as lowerSpec). */
  readonly ties?: 'keep' | 'by_id';
}

/** Typical's kept ids (ascending). `dp` scales the target mass, `dH` shifts the entropy (rounding probes). */
export function typicalKept(x: Arr, p: number, o: TypicalRefOptions = {}, dp = 1, dH = 0): number[] {
  const strict = o.crossing === 'llama_cpp';
  const byId = (o.ties ?? (strict ? 'by_id' : 'keep')) === 'by_id';
  const pr = softmax64(x);
  let H = 0;
  for (const q of pr) if (q > 0) H -= q * Math.log(q);
  H += dH;
  const ids: number[] = [];
  for (let i = 0; i < x.length; i++) if (x[i]! > -Infinity) ids.push(i);
  const score = new Float64Array(x.length);
  for (const i of ids) score[i] = Math.abs(-Math.log(pr[i]!) - H);
  ids.sort((a, b) => score[a]! - score[b]! || a - b);
  const target = p * dp;
  let c = 0;
  let cum = 0;
  for (; c < ids.length; c++) {
    cum += pr[ids[c]!]!;
    if (strict ? cum > target : cum >= target) break;
  }
  if (c >= ids.length) c = ids.length - 1; // rounding left the total short: keep all
  if (!byId) while (c + 1 < ids.length && score[ids[c + 1]!] === score[ids[c]!]) c++;
  return ids.slice(0, c + 1).sort((a, b) => a - b);
}

/**
 * The kept sets the definition gives under rounding-sized perturbations of the target mass
 * (relative `tol`) and of the entropy (absolute `tol`), those that differ from typicalKept's: a
 * float32 implementation may legitimately land on any of them.
 */
export function typicalAlternatives(x: Arr, p: number, o: TypicalRefOptions = {}, tol = 1e-5): number[][] {
  const kept = typicalKept(x, p, o);
  const base = new Set(kept);
  const out: number[][] = [];
  for (const [dp, dH] of [[1 - tol, 0], [1 + tol, 0], [1, -tol], [1, tol]] as const) {
    const alt = typicalKept(x, p, o, dp, dH);
    if (alt.length !== kept.length || alt.some((i) => !base.has(i))) out.push(alt);
  }
  return out;
}

/** The ids whose membership differs between typicalKept and one of typicalAlternatives. */
export function typicalAmbiguous(x: Arr, p: number, o: TypicalRefOptions = {}, tol = 1e-5): Set<number> {
  const base = new Set(typicalKept(x, p, o));
  const amb = new Set<number>();
  for (const alt of typicalAlternatives(x, p, o, tol)) {
    const s = new Set(alt);
    for (const i of alt) if (!base.has(i)) amb.add(i);
    for (const i of base) if (!s.has(i)) amb.add(i);
  }
  return amb;
}

export interface MirostatRefOptions {
  readonly m?: number;
  readonly variant?: 'paper' | 'llama_cpp';
}

export interface MirostatStep {
  /** Estimated Zipf exponent, and k before rounding. */
  readonly s: number;
  readonly kRaw: number;
  /** The top-k ids (ascending) the token is drawn from. */
  readonly kept: number[];
  /** Whether k sits within `tol` (relative) of a rounding boundary (round: x.5; floor: an integer). */
  readonly nearBoundary: boolean;
  /** Surprise in bits that accept(token) uses. */
  surprise(token: number): number;
}

/** One Mirostat v1 selection at the given mu over logits x (vocabulary size N = x.length). */
export function mirostatV1Step(x: Arr, mu: number, o: MirostatRefOptions = {}, tol = 1e-9): MirostatStep {
  const m = o.m ?? 100;
  const paper = (o.variant ?? 'paper') === 'paper';
  const ids: number[] = [];
  for (let i = 0; i < x.length; i++) if (x[i]! > -Infinity) ids.push(i);
  ids.sort((a, b) => x[b]! - x[a]! || a - b);
  const ratios = Math.min(paper ? m : m - 1, ids.length - 1);
  let num = 0;
  let den = 0;
  for (let i = 0; i < ratios; i++) {
    const t = Math.log((i + 2) / (i + 1));
    num += t * (x[ids[i]!]! - x[ids[i + 1]!]!);
    den += t * t;
  }
  let s = NaN;
  let kRaw = 1;
  if (ratios >= 1 && den > 0) {
    s = num / den;
    const eps = s - 1;
    const N = x.length;
    const ratio = Math.abs(eps) < 1e-9 ? 1 / Math.log(N) : eps / (1 - Math.pow(N, -eps));
    kRaw = Math.pow(ratio * Math.pow(2, mu), 1 / s);
  }
  let k = paper ? Math.round(kRaw) + 1 : Math.floor(kRaw);
  if (!(k >= 1)) k = Number.isNaN(k) ? ids.length : 1;
  k = Math.min(k, Math.max(ids.length, 1));
  const frac = kRaw - Math.floor(kRaw);
  const nearBoundary = paper ? Math.abs(frac - 0.5) <= tol * Math.max(1, kRaw) : Math.min(frac, 1 - frac) <= tol * Math.max(1, kRaw);
  const kept = ids.slice(0, k).sort((a, b) => a - b);
  const orig = softmax64(x);
  const renorm = restrictedSoftmax(x, kept);
  return { s, kRaw, kept, nearBoundary, surprise: (t) => -Math.log2((paper ? orig : renorm)[t]!) };
}

/** First index where |a - b| > atol + rtol * |ref|, or -1. */
export function firstMismatch(got: Arr, ref: Arr, atol: number, rtol: number): number {
  if (got.length !== ref.length) return 0;
  for (let i = 0; i < ref.length; i++) if (!(Math.abs(got[i]! - ref[i]!) <= atol + rtol * Math.abs(ref[i]!))) return i;
  return -1;
}
