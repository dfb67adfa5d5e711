// Helpers shared by this folder's tests: a seeded RNG, closeness checks, finite differences.

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randF32(n: number, r: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale;
  return a;
}

/** First index where |a - b| > atol + rtol * |b| (b is the reference), or -1. */
export function firstMismatch(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= atol + rtol * Math.abs(b[i]!))) return i;
  }
  return -1;
}

export function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number, what = ''): void {
  const i = firstMismatch(a, b, atol, rtol);
  if (i !== -1) {
    const detail = i === -2 ? `length ${a.length} vs ${b.length}` : `at ${i}: got ${a[i]}, reference ${b[i]}`;
    throw new Error(`${what} mismatch ${detail} (atol ${atol}, rtol ${rtol})`);
  }
}

/** Central finite difference of f at x[i] (x is modified and restored). */
export function fd(f: () => number, x: Float64Array, i: number, h = 1e-6): number {
  const x0 = x[i]!;
  x[i] = x0 + h;
  const a = f();
  x[i] = x0 - h;
  const b = f();
  x[i] = x0;
  return (a - b) / (2 * h);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
