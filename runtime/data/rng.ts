// Deterministic, serializable PRNG (sfc32: small fast counting generator, 128-bit state).
// Every random choice in data and curricula goes through this so that a seed fixes the output
// and `state()` / `restore()` resume exactly.

export type RngState = [number, number, number, number];

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Seed from an integer and optional extra integers (stream ids: cycle, bucket, rank...). */
  constructor(seed: number, ...streams: number[]) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = 1;
    const words = [seed, ...streams];
    for (const w of words) {
      const x = Math.floor(Math.abs(w));
      this.a ^= x >>> 0;
      this.b ^= Math.floor(x / 4294967296) >>> 0;
      this.c ^= w < 0 ? 0x55555555 : 0;
      for (let i = 0; i < 12; i++) this.u32();
    }
  }

  static fromState(s: RngState): Rng {
    const r = new Rng(0);
    r.restore(s);
    return r;
  }

  state(): RngState {
    return [this.a, this.b, this.c, this.d];
  }

  restore(s: RngState): void {
    [this.a, this.b, this.c, this.d] = s.map((v) => v >>> 0) as RngState;
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1) with 53 bits. */
  float(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}
