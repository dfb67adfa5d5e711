// Positions: RoPE inverse frequencies with their scaling variants, ALiBi slopes, and position
// ids (restarting per document when sequences are packed). Pure TypeScript.

/** RoPE frequency scaling. `factor` is s, the context extension ratio. */
export type RopeScaling =
  | { readonly kind: 'none' }
  | { readonly kind: 'linear'; readonly factor: number } // positions divided by s (position interpolation)
  | { readonly kind: 'ntk'; readonly factor: number } // base * s^(d/(d-2))
  | {
      readonly kind: 'yarn';
      readonly factor: number;
      /** Pretraining context length L. */
      readonly originalLength: number;
      /** Ramp bounds on r = L / wavelength (paper: alpha = 1, beta = 32; Hugging Face beta_slow, beta_fast). */
      readonly alpha?: number;
      readonly beta?: number;
      /**
       * Where the ramp is linear. 'ratio' (default): in r, the paper's gamma(r). 'index': in the
       * frequency index i, between the (fractional) indices where r = beta and r = alpha, floored and
       * ceiled unless `truncate` is false: the YaRN reference code and Hugging Face's `yarn`.
       */
      readonly ramp?: 'ratio' | 'index';
      /** ramp 'index' only; default true */
      readonly truncate?: boolean;
      /** The multiplier of q and k (Hugging Face attention_factor); default 0.1 ln s + 1. */
      readonly attentionFactor?: number;
    }
  | { readonly kind: 'truncated'; readonly a: number; readonly b: number; readonly rho: number } // Giraffe
  | {
      // Llama 3.1 (Hugging Face `llama3`): wavelengths beyond L / lowFreqFactor divided by s, below
      // L / highFreqFactor kept, smoothly interpolated between
      readonly kind: 'llama3';
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      /** Pretraining context length L. */
      readonly originalLength: number;
    }
  | {
      // dynamic NTK (Hugging Face `dynamic`): for a sequence of length n (largest position + 1)
      // beyond L, base * (s n / L - (s - 1))^(d/(d-2)); plain RoPE up to L
      readonly kind: 'dynamic';
      readonly factor: number;
      /** L: Hugging Face's max_position_embeddings */
      readonly originalLength: number;
    };

export interface RopeSpec {
  readonly base?: number; // default 10000
  readonly scaling?: RopeScaling;
  /** dynamic scaling only: the sequence length n (largest position + 1); default: no scaling */
  readonly length?: number;
}

/**
 * The sequence length dynamic NTK scales for, given the positions of one call: the largest
 * position + 1, as Hugging Face's `dynamic` (torch.max(position_ids) + 1 of each forward).
 */
export function dynamicLength(positions: ArrayLike<number>): number {
  let m = -1;
  for (let i = 0; i < positions.length; i++) if (positions[i]! > m) m = positions[i]!;
  return m + 1;
}

/**
 * Inverse frequencies theta_i (i < d/2) and the multiplier applied to q and k (YaRN's
 * sqrt(1/t) = 0.1 ln s + 1 or its attentionFactor; 1 otherwise). Linear scaling is folded in here
 * as theta_i / s, which is the same rotation as dividing positions by s.
 *   plain:     theta_i = base^(-2i/d)
 *   ntk:       base' = base * s^(d/(d-2))
 *   dynamic:   base' = base * max(1, s n / L - (s - 1))^(d/(d-2)), n = spec.length (default L)
 *   yarn:      gamma_i in [0, 1]; theta'_i = (1 - gamma_i) theta_i / s + gamma_i theta_i, with
 *              ramp 'ratio': r_i = L / (2 pi / theta_i), gamma_i = clamp((r_i - alpha) / (beta - alpha), 0, 1)
 *              ramp 'index': c(r) = d ln(L / (2 pi r)) / (2 ln base) (the index where r_i = r),
 *                lo = max(0, floor c(beta)), hi = min(d - 1, ceil c(alpha)) (no floor/ceil when
 *                truncate is false; hi += 0.001 when equal), gamma_i = 1 - clamp((i - lo) / (hi - lo), 0, 1)
 *   llama3:    w_i = 2 pi / theta_i; theta_i if w_i < L / hi; theta_i / s if w_i > L / lo; else
 *              (1 - m) theta_i / s + m theta_i with m = (L / w_i - lo) / (hi - lo)
 *              (lo, hi = lowFreqFactor, highFreqFactor)
 *   truncated: theta'_i = theta_i if theta_i >= b; rho if a < theta_i < b; 0 if theta_i <= a
 */
export function ropeFrequencies(headDim: number, spec: RopeSpec = {}): { invFreq: Float32Array; mscale: number } {
  const d = headDim;
  const half = Math.floor(d / 2);
  let base = spec.base ?? 10000;
  const sc = spec.scaling ?? { kind: 'none' };
  if (sc.kind === 'ntk') base = base * Math.pow(sc.factor, d / (d - 2));
  else if (sc.kind === 'dynamic') {
    const n = Math.max(spec.length ?? sc.originalLength, sc.originalLength);
    base = base * Math.pow((sc.factor * n) / sc.originalLength - (sc.factor - 1), d / (d - 2));
  }
  let lo = 0, hi = 0;
  if (sc.kind === 'yarn' && sc.ramp === 'index') {
    const c = (r: number): number => (d * Math.log(sc.originalLength / (2 * Math.PI * r))) / (2 * Math.log(base));
    lo = c(sc.beta ?? 32);
    hi = c(sc.alpha ?? 1);
    if (sc.truncate ?? true) {
      lo = Math.floor(lo);
      hi = Math.ceil(hi);
    }
    lo = Math.max(lo, 0);
    hi = Math.min(hi, d - 1);
    if (lo === hi) hi += 0.001;
  }
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const theta = Math.pow(base, (-2 * i) / d);
    let t = theta;
    if (sc.kind === 'linear') t = theta / sc.factor;
    else if (sc.kind === 'yarn') {
      let gamma: number;
      if (sc.ramp === 'index') gamma = 1 - Math.min(1, Math.max(0, (i - lo) / (hi - lo)));
      else {
        const alpha = sc.alpha ?? 1, beta = sc.beta ?? 32;
        const r = sc.originalLength / ((2 * Math.PI) / theta);
        gamma = Math.min(1, Math.max(0, (r - alpha) / (beta - alpha)));
      }
      t = (1 - gamma) * (theta / sc.factor) + gamma * theta;
    } else if (sc.kind === 'llama3') {
      const w = (2 * Math.PI) / theta;
      if (w > sc.originalLength / sc.lowFreqFactor) t = theta / sc.factor;
      else if (!(w < sc.originalLength / sc.highFreqFactor)) {
        const m = (sc.originalLength / w - sc.lowFreqFactor) / (sc.highFreqFactor - sc.lowFreqFactor);
        t = (1 - m) * (theta / sc.factor) + m * theta;
      }
    } else if (sc.kind === 'truncated') t = theta >= sc.b ? theta : theta > sc.a ? sc.rho : 0;
    inv[i] = t;
  }
  const mscale = sc.kind === 'yarn' ? (sc.attentionFactor ?? 0.1 * Math.log(sc.factor) + 1) : 1;
  return { invFreq: inv, mscale };
}

/**
 * ALiBi slopes for H heads: 2^(-8h/H), h = 1..H for power-of-two H; otherwise the standard
 * interpolation: the slopes of the closest smaller power of two n, then every other slope of 2n.
 */
export function alibiSlopes(heads: number): Float32Array {
  const pow2 = (n: number) => Array.from({ length: n }, (_, i) => Math.pow(2, (-8 * (i + 1)) / n));
  let s: number[];
  if ((heads & (heads - 1)) === 0) s = pow2(heads);
  else {
    const n = Math.pow(2, Math.floor(Math.log2(heads)));
    s = pow2(n).concat(pow2(2 * n).filter((_, i) => i % 2 === 0).slice(0, heads - n));
  }
  return Float32Array.from(s);
}

/**
 * Position ids of packed tokens: the index within the sequence (cuSeqlens), or, with docIds
 * and restartPerDocument, within the document (prepacking). The last `lenQ` key positions are the
 * query positions, so for queries pass the key layout and take the tail.
 */
export function positionIds(cuSeqlens: Int32Array, docIds?: Int32Array, restartPerDocument = false): Float32Array {
  const T = cuSeqlens[cuSeqlens.length - 1]!;
  const pos = new Float32Array(T);
  for (let s = 0; s + 1 < cuSeqlens.length; s++) {
    let start = cuSeqlens[s]!;
    for (let t = cuSeqlens[s]!; t < cuSeqlens[s + 1]!; t++) {
      if (restartPerDocument && docIds && t > cuSeqlens[s]! && docIds[t] !== docIds[t - 1]) start = t;
      pos[t] = t - start;
    }
  }
  return pos;
}
