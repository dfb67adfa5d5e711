import { describe, expect, it } from 'vitest';
import { crc32, crc32Table, fnv1a64Hex } from './hash.js';
import { Rng } from './rng.js';

describe('hashes', () => {
  it('FNV-1a 64 matches the published test vectors', () => {
    // Vectors from the FNV reference (isthe.com/chongo/tech/comp/fnv): "" , "a", "foobar".
    expect(fnv1a64Hex('')).toBe('cbf29ce484222325');
    expect(fnv1a64Hex('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64Hex('foobar')).toBe('85944171f73967e8');
  });
  it('CRC-32 matches the standard check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    // running checksum over two halves equals one pass
    expect(crc32(Buffer.from('56789'), crc32(Buffer.from('1234')))).toBe(0xcbf43926);
    expect(crc32Table(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
  it('CRC-32 (zlib when available) equals the table version on random chunks, chained', () => {
    const rng = new Rng(9);
    const bytes = new Uint8Array(100_003);
    for (let i = 0; i < bytes.length; i++) bytes[i] = rng.u32() & 0xff;
    let a = 0;
    let b = 0;
    for (let at = 0; at < bytes.length; ) {
      const n = Math.min(bytes.length - at, 1 + rng.int(5000));
      a = crc32(bytes.subarray(at, at + n), a);
      b = crc32Table(bytes.subarray(at, at + n), b);
      expect(a).toBe(b);
      at += n;
    }
    expect(crc32(bytes)).toBe(a);
    expect(crc32(new Uint8Array(0), 0x1234)).toBe(0x1234);
  });
});

describe('Rng', () => {
  it('is deterministic per seed and resumes from its state', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const xs = Array.from({ length: 5 }, () => a.u32());
    expect(Array.from({ length: 5 }, () => b.u32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.u32())).not.toEqual(xs);
    const s = a.state();
    const next = a.u32();
    expect(Rng.fromState(s).u32()).toBe(next);
  });
  it('permutation is a permutation and float is in [0, 1) with mean ~ 1/2', () => {
    const p = new Rng(1).permutation(1000);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const r = new Rng(3);
    let sum = 0;
    let bad = 0;
    for (let i = 0; i < 100000; i++) {
      const f = r.float();
      if (!(f >= 0 && f < 1)) bad++;
      sum += f;
    }
    expect(bad).toBe(0);
    expect(Math.abs(sum / 100000 - 0.5)).toBeLessThan(0.01);
  });
});
