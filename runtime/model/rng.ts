// A small seeded PRNG whose whole state is one uint32 (so checkpoints can store it).
export class Rng {
  constructor(public state: number) {
    this.state = state >>> 0;
  }
  /** uniform in [0, 1) (mulberry32) */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** standard normal (Box-Muller, one value per call) */
  normal(): number {
    const u = 1 - this.next(), v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
