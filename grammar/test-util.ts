// Helpers shared by the grammar, formatter and example tests (not part of the public API).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tokenize } from './lexer.js';

export const EXAMPLES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'examples');

/** Every examples/*.lmp file: [name, text]. */
export function examples(): [string, string][] {
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.lmp'))
    .sort()
    .map((f) => [f, readFileSync(join(EXAMPLES_DIR, f), 'utf8')]);
}

/** A deep copy of an AST without spans (for comparing trees of different texts). */
export function stripSpans(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripSpans);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'span' || k === 'keywordSpan') continue;
    out[k] = stripSpans(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Fuzzing: deterministic random mutations of the examples.

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence everywhere. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Token texts worth inserting: punctuation, keywords, literals, and lexical troublemakers. */
const INSERTS = [
  '{', '}', '(', ')', '[', ']', ',', ':', ';', '=', '.', '..', '->', '&', '|', '!', '<', '<=', '>', '>=', '==', '!=', '-',
  'then', 'true', 'false', 'from', 'data', 'attention', 'model', 'train', 'decode', 'eval', 'optimize', 'tokenizer',
  'curriculum', 'mask', 'heads', 'source', 'weight', 'seed', 'every', 'defer', 'when', 'subject', 'to', 'in', 'reposition',
  'x', 'causal', 'window(1k)', '0', '8k', '2^13', '3e-4', '2%', '30min', '2.0..6.0', '4m', '1__0', '7zz', '"s"', '"\\q"',
  '"open', '/*', '*/', '//', '@', '#', '\u00a0', '\uFFFD', '😀', '\\', '\0', '\n', '\r', '\t',
];

export type Mutation = 'delete' | 'insert' | 'swap' | 'duplicate' | 'truncate' | 'garbage' | 'bytes';
export const MUTATIONS: readonly Mutation[] = ['delete', 'insert', 'swap', 'duplicate', 'truncate', 'garbage', 'bytes'];

/** [start, end) of every token and comment of `text`: where token-level mutations cut. */
function tokenSpans(text: string): [number, number][] {
  const r = tokenize(text, 'fuzz.lmp');
  return [...r.tokens, ...r.comments].map((t) => [t.span.start, t.span.end]);
}

/** Apply 1-3 random mutations to `text`, most of them on whole tokens. */
export function mutate(text: string, rand: () => number): { text: string; ops: Mutation[] } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const ops: Mutation[] = [];
  let t = text;
  const n = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < n; i++) {
    const op = pick(MUTATIONS);
    const spans = tokenSpans(t);
    ops.push(op);
    const [s, e] = spans.length > 0 ? pick(spans) : [0, 0];
    switch (op) {
      case 'delete':
        t = t.slice(0, s) + t.slice(e);
        break;
      case 'insert':
        t = t.slice(0, s) + pick(INSERTS) + (rand() < 0.5 ? ' ' : '') + t.slice(s);
        break;
      case 'swap': {
        const [s2, e2] = spans.length > 0 ? pick(spans) : [0, 0];
        if (e <= s2) t = t.slice(0, s) + t.slice(s2, e2) + t.slice(e, s2) + t.slice(s, e) + t.slice(e2);
        break;
      }
      case 'duplicate': {
        const [s2, e2] = spans.length > 0 ? pick(spans) : [0, 0];
        const [a, b] = s <= e2 ? [s, e2] : [s2, e];
        if (b - a < 400) t = t.slice(0, b) + ' ' + t.slice(a, b) + t.slice(b);
        break;
      }
      case 'truncate':
        t = t.slice(0, Math.floor(rand() * t.length));
        break;
      case 'garbage': {
        let g = '';
        const len = 1 + Math.floor(rand() * 8);
        for (let k = 0; k < len; k++) g += pick(INSERTS);
        const at = Math.floor(rand() * (t.length + 1));
        t = t.slice(0, at) + g + t.slice(at);
        break;
      }
      case 'bytes': {
        let g = '';
        const len = 1 + Math.floor(rand() * 6);
        for (let k = 0; k < len; k++) g += String.fromCharCode(Math.floor(rand() * (rand() < 0.8 ? 128 : 0x10000)));
        const at = Math.floor(rand() * (t.length + 1));
        t = t.slice(0, at) + g + t.slice(at);
        break;
      }
    }
  }
  return { text: t, ops };
}

export const FUZZ_CASES = 3000;
export const FUZZ_SEED = 0x1b3d;

/** The fuzz corpus: deterministic for a given seed and set of examples. */
export function fuzzCorpus(cases = FUZZ_CASES, seed = FUZZ_SEED): { text: string; ops: string[]; from: string }[] {
  const rand = rng(seed);
  const ex = examples();
  const out: { text: string; ops: string[]; from: string }[] = [];
  for (let i = 0; i < cases; i++) {
    const [from, text] = ex[i % ex.length]!;
    const m = mutate(text, rand);
    out.push({ text: m.text, ops: m.ops, from });
  }
  return out;
}

