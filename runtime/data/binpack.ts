// Bin packing for prepacking (Zhao et al. 2024): best-fit decreasing and first-fit decreasing.
//
// Both sort items by decreasing length with a counting sort (lengths are bounded by the capacity).
// BFD keeps bins grouped by remaining capacity (a linked list per remaining value) and a
// hierarchical bitset of the non-empty groups, so "the fullest bin the item fits in" is a
// find-next-set-bit from `len`: O(log_32 C) per item. FFD keeps a max segment tree over bins'
// remaining capacities and descends to the leftmost bin with room: O(log n) per item.

export interface Packing {
  /** Number of bins. */
  bins: number;
  /** Bin of each item, -1 for items longer than the capacity (not packed). */
  binOf: Int32Array;
  /** Items of bin b are order[binStart[b] .. binStart[b+1]), in insertion (decreasing) order. */
  binStart: Int32Array;
  order: Int32Array;
  /** Tokens used in each bin. */
  binUsed: Int32Array;
  capacity: number;
  /** Items longer than the capacity (dropped) and their tokens. */
  oversizeItems: number;
  oversizeTokens: number;
  /** packed tokens / (bins * capacity). */
  fill: number;
}

/** Items sorted by decreasing length (stable: ties keep index order). Items > capacity come first and are flagged by the caller. */
function sortDecreasing(lengths: Int32Array, capacity: number): Int32Array {
  const n = lengths.length;
  const count = new Int32Array(capacity + 2);
  for (let i = 0; i < n; i++) {
    const l = lengths[i]!;
    count[l > capacity ? capacity + 1 : l]!++;
  }
  // prefix sums over decreasing keys
  let acc = 0;
  for (let l = capacity + 1; l >= 0; l--) {
    const c = count[l]!;
    count[l] = acc;
    acc += c;
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = lengths[i]!;
    const key = l > capacity ? capacity + 1 : l;
    out[count[key]!++] = i;
  }
  return out;
}

/** A hierarchical bitset over 0..size-1 with find-next-set >= x. */
class LevelBitset {
  private levels: Uint32Array[] = [];
  constructor(size: number) {
    let n = size;
    do {
      const words = Math.ceil(n / 32);
      this.levels.push(new Uint32Array(words));
      n = words;
    } while (n > 1);
  }
  set(i: number): void {
    for (const lv of this.levels) {
      const w = i >>> 5;
      const had = lv[w]! !== 0;
      lv[w]! |= 1 << (i & 31);
      if (had) return;
      i = w;
    }
  }
  clear(i: number): void {
    for (const lv of this.levels) {
      const w = i >>> 5;
      lv[w]! &= ~(1 << (i & 31));
      if (lv[w]! !== 0) return;
      i = w;
    }
  }
  /** Smallest set index >= x, or -1. */
  next(x: number): number {
    const L = this.levels;
    let lvl = 0;
    let i = x;
    for (;;) {
      const lv = L[lvl]!;
      const w = i >>> 5;
      if (w < lv.length) {
        const m = lv[w]! & (~0 << (i & 31));
        if (m !== 0) {
          i = (w << 5) + (31 - Math.clz32(m & -m));
          break;
        }
      }
      if (lvl + 1 >= L.length) return -1;
      i = w + 1; // the next word of this level = the next bit of the level above
      lvl++;
    }
    // descend: take the lowest set bit in each lower level's word
    while (lvl > 0) {
      lvl--;
      const m = L[lvl]![i]!;
      i = (i << 5) + (31 - Math.clz32(m & -m));
    }
    return i;
  }
}

function finish(n: number, bins: number, binOf: Int32Array, binUsed: Int32Array, capacity: number, sorted: Int32Array, lengths: Int32Array): Packing {
  const binStart = new Int32Array(bins + 1);
  let oversizeItems = 0;
  let oversizeTokens = 0;
  let packed = 0;
  for (let i = 0; i < n; i++) {
    const b = binOf[i]!;
    if (b < 0) {
      oversizeItems++;
      oversizeTokens += lengths[i]!;
    } else {
      binStart[b + 1]!++;
      packed += lengths[i]!;
    }
  }
  for (let b = 0; b < bins; b++) binStart[b + 1]! += binStart[b]!;
  const fillPos = binStart.slice(0, bins);
  const order = new Int32Array(n - oversizeItems);
  for (let s = 0; s < n; s++) {
    const i = sorted[s]!;
    const b = binOf[i]!;
    if (b >= 0) order[fillPos[b]!++] = i;
  }
  return { bins, binOf, binStart, order, binUsed: binUsed.subarray(0, bins), capacity, oversizeItems, oversizeTokens, fill: bins === 0 ? 1 : packed / (bins * capacity) };
}

/** Best-fit decreasing: each item goes to the fullest open bin it fits in, else a new bin. */
export function bestFitDecreasing(lengthsIn: ArrayLike<number>, capacity: number): Packing {
  const lengths = lengthsIn instanceof Int32Array ? lengthsIn : Int32Array.from(lengthsIn);
  const n = lengths.length;
  const sorted = sortDecreasing(lengths, capacity);
  const binOf = new Int32Array(n).fill(-1);
  const binUsed = new Int32Array(Math.max(1, n));
  const head = new Int32Array(capacity + 1).fill(-1); // bins with remaining r
  const next = new Int32Array(Math.max(1, n)); // linked list through bins
  const prev = new Int32Array(Math.max(1, n));
  const nonEmpty = new LevelBitset(capacity + 1);
  let bins = 0;
  const unlink = (b: number, r: number): void => {
    const p = prev[b]!;
    const nx = next[b]!;
    if (p >= 0) next[p] = nx;
    else {
      head[r] = nx;
      if (nx < 0) nonEmpty.clear(r);
    }
    if (nx >= 0) prev[nx] = p;
  };
  const link = (b: number, r: number): void => {
    const h = head[r]!;
    next[b] = h;
    prev[b] = -1;
    if (h >= 0) prev[h] = b;
    else nonEmpty.set(r);
    head[r] = b;
  };
  for (let s = 0; s < n; s++) {
    const i = sorted[s]!;
    const l = lengths[i]!;
    if (l > capacity) continue;
    const r = nonEmpty.next(l);
    let b: number;
    if (r < 0) {
      b = bins++;
      binUsed[b] = l;
    } else {
      b = head[r]!;
      unlink(b, r);
      binUsed[b]! += l;
    }
    binOf[i] = b;
    link(b, capacity - binUsed[b]!);
  }
  return finish(n, bins, binOf, binUsed, capacity, sorted, lengths);
}

/** First-fit decreasing: each item goes to the lowest-numbered open bin it fits in, else a new bin. */
export function firstFitDecreasing(lengthsIn: ArrayLike<number>, capacity: number): Packing {
  const lengths = lengthsIn instanceof Int32Array ? lengthsIn : Int32Array.from(lengthsIn);
  const n = lengths.length;
  const sorted = sortDecreasing(lengths, capacity);
  const binOf = new Int32Array(n).fill(-1);
  const binUsed = new Int32Array(Math.max(1, n));
  let size = 1;
  while (size < Math.max(1, n)) size <<= 1;
  const tree = new Int32Array(2 * size).fill(-1); // max remaining capacity; -1 = no bin
  let bins = 0;
  for (let s = 0; s < n; s++) {
    const i = sorted[s]!;
    const l = lengths[i]!;
    if (l > capacity) continue;
    let b: number;
    if (tree[1]! >= l) {
      let node = 1;
      while (node < size) node = tree[2 * node]! >= l ? 2 * node : 2 * node + 1;
      b = node - size;
      binUsed[b]! += l;
    } else {
      b = bins++;
      binUsed[b] = l;
    }
    binOf[i] = b;
    let node = b + size;
    tree[node] = capacity - binUsed[b]!;
    for (node >>= 1; node >= 1; node >>= 1) {
      const m = Math.max(tree[2 * node]!, tree[2 * node + 1]!);
      if (tree[node] === m) break;
      tree[node] = m;
    }
  }
  return finish(n, bins, binOf, binUsed, capacity, sorted, lengths);
}
