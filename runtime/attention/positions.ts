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
      /** Ramp bounds on r = L / wavelength (paper: alpha = 1, beta = 32). */
      readonly alpha?: number;
      readonly beta?: number;
    }
  | { readonly kind: 'truncated'; readonly a: number; readonly b: number; readonly rho: number }; // Giraffe

export interface RopeSpec {
  readonly base?: number; // default 10000
  readonly scaling?: RopeScaling;
}

/**
 * Inverse frequencies theta_i (i < d/2) and the multiplier applied to q and k (YaRN's
 * sqrt(1/t) = 0.1 ln s + 1; 1 otherwise). Linear scaling is folded in here as theta_i / s,
 * which is the same rotation as dividing positions by s.
 *   plain:     theta_i = base^(-2i/d)
 *   ntk:       base' = base * s^(d/(d-2))
 *   yarn:      r_i = L / (2 pi / theta_i); gamma = clamp((r_i - alpha) / (beta - alpha), 0, 1);
 *              theta'_i = (1 - gamma) theta_i / s + gamma theta_i
 *   truncated: theta'_i = theta_i if theta_i >= b; rho if a < theta_i < b; 0 if theta_i <= a
 */
export function ropeFrequencies(headDim: number, spec: RopeSpec = {}): { invFreq: Float32Array; mscale: number } {
  const d = headDim;
  const half = Math.floor(d / 2);
  let base = spec.base ?? 10000;
  const sc = spec.scaling ?? { kind: 'none' };
  if (sc.kind === 'ntk') base = base * Math.pow(sc.factor, d / (d - 2));
  const inv = new Float32Array(half);
  let mscale = 1;
  for (let i = 0; i < half; i++) {
    const theta = Math.pow(base, (-2 * i) / d);
    let t = theta;
    if (sc.kind === 'linear') t = theta / sc.factor;
    else if (sc.kind === 'yarn') {
      const alpha = sc.alpha ?? 1, beta = sc.beta ?? 32;
      const r = sc.originalLength / ((2 * Math.PI) / theta);
      const gamma = Math.min(1, Math.max(0, (r - alpha) / (beta - alpha)));
      t = (1 - gamma) * (theta / sc.factor) + gamma * theta;
    } else if (sc.kind === 'truncated') t = theta >= sc.b ? theta : theta > sc.a ? sc.rho : 0;
    inv[i] = t;
  }
  if (sc.kind === 'yarn') mscale = 0.1 * Math.log(sc.factor) + 1;
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
