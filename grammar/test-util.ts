// Helpers shared by the grammar, formatter and example tests (not part of the public API).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
