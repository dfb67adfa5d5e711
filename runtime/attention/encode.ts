// The mask IR encoded for the native kernel: prefix order, two int32 per node (op, param), the
// children following; param is the primitive's parameter or the child count of and/or.
import type { MaskIR } from '../mask/ir.js';

export const MASK_OPCODES = {
  full: 0,
  causal: 1,
  window: 2,
  sink: 3,
  prefix: 4,
  chunked: 5,
  same_document: 6,
  and: 7,
  or: 8,
  not: 9,
} as const;

const I32_MAX = 2147483647;

function param(v: number, what: string, min: number): number {
  if (!(typeof v === 'number') || Number.isNaN(v) || v < min) throw new RangeError(`mask: ${what} must be a number >= ${min}, got ${v}`);
  return Math.min(I32_MAX, Math.ceil(v)); // integer distances: x < v  <=>  x < ceil(v)
}

export function encodeMask(mask: MaskIR): Int32Array {
  const out: number[] = [];
  const go = (m: MaskIR): void => {
    switch (m.op) {
      case 'full':
      case 'causal':
      case 'same_document':
        out.push(MASK_OPCODES[m.op], 0);
        return;
      case 'window':
        out.push(MASK_OPCODES.window, param(m.size, 'window size', 0));
        return;
      case 'sink':
        out.push(MASK_OPCODES.sink, param(m.count, 'sink count', 0));
        return;
      case 'prefix':
        out.push(MASK_OPCODES.prefix, param(m.length, 'prefix length', 0));
        return;
      case 'chunked':
        if (!Number.isInteger(m.size)) throw new RangeError(`mask: chunk size must be an integer, got ${m.size}`);
        out.push(MASK_OPCODES.chunked, param(m.size, 'chunk size', 1));
        return;
      case 'and':
      case 'or':
        if (m.args.length === 0) throw new RangeError(`mask: '${m.op}' needs arguments`);
        out.push(MASK_OPCODES[m.op], m.args.length);
        m.args.forEach(go);
        return;
      case 'not':
        out.push(MASK_OPCODES.not, 0);
        go(m.arg);
        return;
    }
  };
  go(mask);
  return Int32Array.from(out);
}
