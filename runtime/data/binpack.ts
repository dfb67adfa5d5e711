// Bin packing for prepacking (Zhao et al. 2024): best-fit decreasing and first-fit decreasing.
//
// Both sort items by decreasing length with a counting sort (lengths are bounded by the capacity)
// and then walk the sorted items by length bucket, so the hot loop reads no per-item length (the
// bucket gives it) and writes each item's bin sequentially (`binOf` is scattered once at the end).
// BFD keeps bins grouped by remaining capacity (a stack per remaining value) and a
// hierarchical bitset of the non-empty groups, so "the fullest bin the item fits in" is a
// find-next-set-bit from `len`: O(log_32 C) per item. FFD keeps a max segment tree over bins'
// remaining capacities and descends to the leftmost bin with room: O(log bins) per item.
// Per-bin arrays grow with the number of bins instead of being sized for one bin per item.

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

interface Sorted {
  /** Item indices by decreasing length (stable: ties keep index order); items > capacity first. */
  sorted: Int32Array;
  /** Items of length l (<= capacity) are sorted[start[l] .. start[l - 1]) ... see `end`. */
  start: Int32Array;
  oversizeItems: number;
  oversizeTokens: number;
}

function sortDecreasing(lengths: Int32Array, capacity: number): Sorted {
  const n = lengths.length;
  const start = new Int32Array(capacity + 2);
  let oversizeTokens = 0;
  for (let i = 0; i < n; i++) {
    const l = lengths[i]!;
    if (l > capacity) {
      start[capacity + 1]!++;
      oversizeTokens += l;
    } else start[l]!++;
  }
  const oversizeItems = start[capacity + 1]!;
  // start[key] = first position of key, keys in decreasing order
  let acc = 0;
  for (let l = capacity + 1; l >= 0; l--) {
    const c = start[l]!;
    start[l] = acc;
    acc += c;
  }
  const pos = start.slice();
  const sorted = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = lengths[i]!;
    sorted[pos[l > capacity ? capacity + 1 : l]!++] = i;
  }
  return { sorted, start, oversizeItems, oversizeTokens };
}

/** A hierarchical bitset over 0..size-1 with find-next-set >= x. */
class LevelBitset {
  private readonly levels: Uint32Array[] = [];
  private readonly depth: number;
  constructor(size: number) {
    let n = size;
    do {
      const words = Math.ceil(n / 32);
      this.levels.push(new Uint32Array(words));
      n = words;
    } while (n > 1);
    this.depth = this.levels.length;
  }
  set(i: number): void {
    const L = this.levels;
    for (let d = 0; d < this.depth; d++) {
      const lv = L[d]!;
      const w = i >>> 5;
      const had = lv[w]! !== 0;
      lv[w]! |= 1 << (i & 31);
      if (had) return;
      i = w;
    }
  }
  clear(i: number): void {
    const L = this.levels;
    for (let d = 0; d < this.depth; d++) {
      const lv = L[d]!;
      const w = i >>> 5;
      const v = lv[w]! & ~(1 << (i & 31));
      lv[w] = v;
      if (v !== 0) return;
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
      if (lvl + 1 >= this.depth) return -1;
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

function grow(a: Int32Array<ArrayBuffer>, fill: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}

/** The result; `binOf` (the inverse of `order`) is built on first access: planning reads `order`. */
class PackingResult implements Packing {
  private binOfCache: Int32Array | null = null;
  constructor(
    readonly bins: number,
    readonly binStart: Int32Array,
    readonly order: Int32Array,
    readonly binUsed: Int32Array,
    readonly capacity: number,
    readonly oversizeItems: number,
    readonly oversizeTokens: number,
    readonly fill: number,
    private readonly n: number,
  ) {}
  get binOf(): Int32Array {
    if (this.binOfCache === null) {
      const binOf = new Int32Array(this.n).fill(-1);
      for (let b = 0; b < this.bins; b++) for (let j = this.binStart[b]!; j < this.binStart[b + 1]!; j++) binOf[this.order[j]!] = b;
      this.binOfCache = binOf;
    }
    return this.binOfCache;
  }
}

/** Assemble the result from the bin of each sorted position (a counting sort by bin). */
function finish(n: number, bins: number, binOfSorted: Int32Array, binUsed: Int32Array, capacity: number, s: Sorted): Packing {
  const { sorted, oversizeItems, oversizeTokens } = s;
  const binStart = new Int32Array(bins + 1);
  for (let p = oversizeItems; p < n; p++) binStart[binOfSorted[p]! + 1]!++;
  for (let b = 0; b < bins; b++) binStart[b + 1]! += binStart[b]!;
  const fillPos = binStart.slice(0, bins);
  const order = new Int32Array(n - oversizeItems);
  for (let p = oversizeItems; p < n; p++) order[fillPos[binOfSorted[p]!]!++] = sorted[p]!;
  let packed = 0;
  for (let b = 0; b < bins; b++) packed += binUsed[b]!;
  return new PackingResult(bins, binStart, order, binUsed.slice(0, bins), capacity, oversizeItems, oversizeTokens, bins === 0 ? 1 : packed / (bins * capacity), n);
}

const asInt32 = (a: ArrayLike<number>): Int32Array => (a instanceof Int32Array ? a : Int32Array.from(a));

/** Best-fit decreasing: each item goes to the fullest open bin it fits in, else a new bin. */
export function bestFitDecreasing(lengthsIn: ArrayLike<number>, capacity: number): Packing {
  const lengths = asInt32(lengthsIn);
  const n = lengths.length;
  const s = sortDecreasing(lengths, capacity);
  const start = s.start;
  const binOfSorted = new Int32Array(n);
  // per bin, interleaved: [used, next] — a stack of the bins with the same remaining capacity,
  // headed by head[remaining] (only heads are ever removed, so no back links are needed)
  let room = Math.max(16, Math.min(n, 1024));
  let bin = new Int32Array(2 * room);
  const head = new Int32Array(capacity + 1).fill(-1);
  const nonEmpty = new LevelBitset(capacity + 1);
  let bins = 0;
  let p = s.oversizeItems;
  for (let l = capacity; l >= 0; l--) {
    const end = l > 0 ? start[l - 1]! : n;
    for (; p < end; p++) {
      const r = nonEmpty.next(l);
      let b: number;
      let used: number;
      if (r < 0) {
        b = bins++;
        if (b === room) {
          room *= 2;
          bin = grow(bin, 0);
        }
        used = l;
      } else {
        // unlink the head of list r
        b = head[r]!;
        const nx = bin[2 * b + 1]!;
        head[r] = nx;
        if (nx < 0) nonEmpty.clear(r);
        used = bin[2 * b]! + l;
      }
      binOfSorted[p] = b;
      // link b at the head of list capacity - used
      const r2 = capacity - used;
      const h = head[r2]!;
      bin[2 * b] = used;
      bin[2 * b + 1] = h;
      if (h < 0) nonEmpty.set(r2);
      head[r2] = b;
    }
  }
  const binUsed = new Int32Array(bins);
  for (let i = 0; i < bins; i++) binUsed[i] = bin[2 * i]!;
  return finish(n, bins, binOfSorted, binUsed, capacity, s);
}

/** First-fit decreasing: each item goes to the lowest-numbered open bin it fits in, else a new bin. */
export function firstFitDecreasing(lengthsIn: ArrayLike<number>, capacity: number): Packing {
  const lengths = asInt32(lengthsIn);
  const n = lengths.length;
  const s = sortDecreasing(lengths, capacity);
  const start = s.start;
  const binOfSorted = new Int32Array(n);
  let room = Math.max(16, Math.min(n, 1024));
  let binUsed = new Int32Array(room);
  // max segment tree over bins' remaining capacities; -1 = no bin. Leaves at size..2*size-1.
  let size = 1;
  while (size < room) size <<= 1;
  let tree = new Int32Array(2 * size).fill(-1);
  let bins = 0;
  let p = s.oversizeItems;
  for (let l = capacity; l >= 0; l--) {
    const end = l > 0 ? start[l - 1]! : n;
    for (; p < end; p++) {
      let b: number;
      if (tree[1]! >= l) {
        let node = 1;
        while (node < size) node = tree[2 * node]! >= l ? 2 * node : 2 * node + 1;
        b = node - size;
        binUsed[b]! += l;
      } else {
        b = bins++;
        if (b === size) {
          // double the leaves and rebuild the inner nodes
          const nt = new Int32Array(4 * size).fill(-1);
          nt.set(tree.subarray(size, 2 * size), 2 * size);
          size *= 2;
          for (let v = size - 1; v >= 1; v--) nt[v] = Math.max(nt[2 * v]!, nt[2 * v + 1]!);
          tree = nt;
        }
        if (b === room) {
          room *= 2;
          binUsed = grow(binUsed, 0);
        }
        binUsed[b] = l;
      }
      binOfSorted[p] = b;
      let node = b + size;
      tree[node] = capacity - binUsed[b]!;
      for (node >>= 1; node >= 1; node >>= 1) {
        const m = Math.max(tree[2 * node]!, tree[2 * node + 1]!);
        if (tree[node] === m) break;
        tree[node] = m;
      }
    }
  }
  return finish(n, bins, binOfSorted, binUsed, capacity, s);
}
