// Hashes used by the data pipeline: FNV-1a 64 (document identity, hold-out split, cache keys) and
// CRC-32 (IEEE 802.3, shard integrity). FNV is computed with 32-bit arithmetic on plain numbers;
// CRC-32 uses zlib's (node:zlib crc32, Node >= 20.15 / 22.2; SIMD in Node's zlib) with a table
// fallback for older Node.
import * as zlib from 'node:zlib';

/** Incremental FNV-1a 64-bit hash; the value is kept as two 32-bit halves. */
export class Fnv1a64 {
  hi = 0xcbf29ce4;
  lo = 0x84222325;

  update(bytes: Uint8Array): this {
    let hi = this.hi;
    let lo = this.lo;
    for (let i = 0; i < bytes.length; i++) {
      lo = (lo ^ bytes[i]!) >>> 0;
      // h * 0x100000001b3 = h * 0x1b3 + (h << 40)  (mod 2^64)
      const a = lo * 0x1b3; // < 2^41: exact
      const carry = Math.floor(a / 4294967296);
      hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
      lo = a >>> 0;
    }
    this.hi = hi;
    this.lo = lo;
    return this;
  }

  updateString(s: string): this {
    return this.update(Buffer.from(s, 'utf8'));
  }

  /** 16 lowercase hex digits. */
  hex(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }

  /** The hash as a fraction in [0, 1) (53 bits). FNV-1a's top bits barely depend on the last
   *  bytes, so the halves are first mixed with murmur3's fmix32 finalizer. */
  unit(): number {
    const a = fmix32(this.lo ^ 0x9e3779b9);
    const b = fmix32(this.hi ^ a);
    const c = fmix32(a ^ ((b << 16) | (b >>> 16)));
    return (b * 2097152 + (c >>> 11)) / 9007199254740992;
  }
}

/** murmur3's 32-bit finalizer (avalanche). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function fnv1a64Hex(data: Uint8Array | string): string {
  const h = new Fnv1a64();
  return (typeof data === 'string' ? h.updateString(data) : h.update(data)).hex();
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 (IEEE) with the byte-at-a-time table (the fallback, and a reference for tests). */
export function crc32Table(bytes: Uint8Array, prev = 0): number {
  let c = ~prev;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 (IEEE). Pass the previous value to continue a running checksum. */
export const crc32: (bytes: Uint8Array, prev?: number) => number =
  typeof zlibCrc32 === 'function' ? (bytes, prev = 0) => zlibCrc32(bytes, prev) >>> 0 : crc32Table;
