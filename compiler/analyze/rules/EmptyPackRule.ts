// LMP0406: data that a train or a perplexity task packs, whose packer provably yields no sequence:
// concat_chunk(L) over fewer than L tokens, decompose(min: m) where no document has m + 1 tokens,
// pad(L, truncate: drop) and prepack(capacity: C) where every document is longer than L (C): both
// drop such documents whole; any packer when no document is left (every file empty, or the
// length filter drops them all). The other packers keep a sequence per document (pad truncates
// or splits; prepack(capacity: longest) fits the longest). The run fails on it
// (LMP_E_CURRICULUM_CONFIG "no bucket of length L", LMP_E_DATA_END).
//
// Token counts are upper bounds from the files (analyze/sources.ts: small files are read and
// measured exactly, larger ones count 3 bytes per byte), for the byte tokenizer (tokens = UTF-8
// bytes) and tiktoken (never more tokens than bytes); hf tokenizers and parquet sources are not
// judged. Hold-out and filters only remove documents, so the bounds hold for either side.
// "Every document is longer than" needs lower bounds: only the byte tokenizer over documents all
// measured exactly gives them (tokens = UTF-8 bytes + EOT, a BOS only adds).
import type { Decl, Expr, Ident, Span } from '../../../grammar/ast.js';
import { diag } from '../../../grammar/diagnostics.js';
import { CLAUSE_DEFAULTS } from '../../lower/index.js';
import type { Rule } from '../context.js';
import { argOf, asBuiltin, numArg } from '../facts.js';
import { clauseArg, clausesOf } from '../inherit.js';
import { docHeldOut, docsBounds, sourceDocs, sourcePath, sourceRoot, tokenizerFacts, type SourceDocs } from '../sources.js';
import { numberValue } from '../values.js';

interface Packed {
  readonly docs: number;
  /** Tokens the mixture can hold (EOT included), bound. */
  readonly tokens: number;
  /** The longest document's tokens (EOT included), bound. */
  readonly longest: number;
  /** The shortest document's tokens (EOT included), a lower bound; undefined when none is known (not exact, not bytes). */
  readonly shortest: number | undefined;
  readonly exact: boolean;
  /** Why no document is left, when none is, and what to do. */
  readonly emptyBecause: string;
  readonly emptyHelp: string;
  /** Whether the data holds documents out (then the message names the side). */
  readonly split: boolean;
}

type Side = 'train' | 'holdout';

export const EmptyPackRule: Rule = {
  name: 'EmptyPackRule',
  codes: ['LMP0406'],
  create: (ctx) => {
    const uses = new Map<string, { data: Decl; side: Side; at: Span }>();
    const use = (e: Expr | undefined, at: Span, side: Side | undefined): void => {
      const id: Ident | undefined = e?.kind === 'Ident' ? e : e?.kind === 'Member' && e.object.kind === 'Ident' ? e.object : undefined;
      const s = side ?? (e?.kind === 'Member' ? (e.property.name as Side) : undefined);
      const d = id ? ctx.lookup(id.name) : undefined;
      if (d?.declKind !== 'data' || (s !== 'train' && s !== 'holdout')) return;
      const key = `${d.name.name}.${s}`;
      if (!uses.has(key)) uses.set(key, { data: d, side: s, at });
    };

    /** Bounds over the documents the packer sees on one side; undefined when a source cannot be bounded. */
    const packed = (eff: ReturnType<typeof ctx.effective>, root: string, side: Side): Packed | undefined => {
      const tok = tokenizerFacts(ctx, clauseArg(eff, 'tokenizer'));
      if (!tok || tok.kind === 'hf') return undefined;
      const eot = tok.appendEot ? 1 : 0;
      const lf = clausesOf(eff, 'filter').map((c) => asBuiltin(c.clause.args[0], 'filter')).filter((f) => f?.def.name === 'length').pop();
      const minLength = (lf && numArg(lf, 'min')) ?? 0;
      const maxE = lf ? argOf(lf, 'max') : undefined;
      const maxLength = maxE ? numberValue(maxE)?.value : undefined;
      const hc = clausesOf(eff, 'holdout')[0]?.clause;
      const fraction = hc?.args[0] ? (numberValue(hc.args[0])?.value ?? NaN) : 0;
      const seedE = hc?.modifiers.find((m) => m.keyword === 'seed')?.value;
      const seed = seedE ? (numberValue(seedE)?.value ?? NaN) : 0;
      if (!Number.isFinite(fraction) || !Number.isFinite(seed)) return undefined;
      const srcs: { docs: SourceDocs; weight: number }[] = [];
      for (const c of clausesOf(eff, 'source')) {
        const src = sourcePath(c.clause.args[0]);
        const docs = src ? sourceDocs(ctx.program, root, src) : undefined;
        if (!docs) return undefined;
        const w = c.clause.modifiers.find((m) => m.keyword === 'weight')?.value;
        srcs.push({ docs, weight: w ? (numberValue(w)?.value ?? 1) : 1 });
      }
      if (srcs.length === 0) return undefined;
      // the side's documents (by the runtime's content hash, when a document's bytes are known),
      // then those the length filter surely drops: fewer tokens than min even at the bound, more
      // than max when the size is exact (the byte tokenizer's count)
      let all = 0, onSide = 0, filtered = 0;
      let shortest: number | undefined = tok.kind === 'bytes' ? Infinity : undefined;
      const kept = srcs.map(({ docs, weight }) => {
        if (!docs.docs || !docs.exact) shortest = undefined;
        if (!docs.docs) return { docs, weight };
        const exactMax = docs.exact && tok.kind === 'bytes' && maxLength !== undefined;
        const mine = docs.docs.filter((d) => !d.bytes || docHeldOut(d.bytes, fraction, seed) === (side === 'holdout'));
        const left = mine.filter((d) => d.size >= minLength && !(exactMax && d.size > maxLength!));
        all += docs.docs.length;
        onSide += mine.length;
        filtered += mine.length - left.length;
        if (shortest !== undefined) for (const d of left) shortest = Math.min(shortest, d.size + eot);
        return { docs: docsBounds(left, docs.exact), weight };
      });
      const D = kept.reduce((a, s) => a + s.docs.count, 0);
      const W = kept.reduce((a, s) => a + s.weight, 0);
      // one source: its documents once; several: source s contributes round(N w_s / W) documents
      // (N <= D kept in all), upsampled by repetition, each at most its longest
      const tokens =
        kept.length === 1
          ? kept[0]!.docs.total + kept[0]!.docs.count * eot
          : kept.reduce((a, s) => a + (s.docs.count > 0 ? Math.ceil((D * s.weight) / W) * (s.docs.max + eot) : 0), 0);
      const longest = kept.reduce((a, s) => (s.docs.count > 0 ? Math.max(a, s.docs.max + eot) : a), 0);
      const exact = kept.length === 1 && kept[0]!.docs.exact && tok.kind === 'bytes';
      const pct = `holdout ${Number((fraction * 100).toPrecision(6))}%`;
      const [emptyBecause, emptyHelp] =
        onSide === 0 && all > 0
          ? side === 'holdout'
            ? [`${pct} holds out none of its ${all} documents (by content hash)`, 'raise the holdout fraction, or try another holdout seed']
            : [`${pct} holds out all ${all} of its documents`, 'lower the holdout fraction']
          : filtered > 0
            ? [`the length filter drops all ${filtered} of its documents${fraction > 0 ? ` on the ${side === 'holdout' ? 'hold-out' : 'training'} side` : ''}`, 'relax the length filter']
            : ['every file it reads is empty', 'give it documents with text'];
      return { docs: D, tokens, longest, shortest: D > 0 ? shortest : undefined, exact, emptyBecause, emptyHelp, split: fraction > 0 };
    };

    return {
      decl(decl, eff) {
        if (decl.declKind === 'train') use(clauseArg(eff, 'data'), clauseArg(eff, 'data')?.span ?? decl.name.span, 'train');
      },
      call(node, name, def, category) {
        if (category === 'task' && name === 'perplexity' && def && node.kind === 'Call') use(argOf({ node, def }, 'data'), node.span, undefined);
      },
      end() {
        if (uses.size === 0) return;
        const root = sourceRoot(ctx.file);
        if (root === undefined) return;
        for (const { data, side, at } of uses.values()) {
          const eff = ctx.effective(data);
          const p = packed(eff, root, side);
          if (!p) continue;
          const packClause = clausesOf(eff, 'pack')[0]?.clause;
          const pk = asBuiltin(packClause?.args[0], 'packer');
          const dflt = CLAUSE_DEFAULTS.pack as { kind: 'concat_chunk'; length: number };
          const kind = pk ? pk.def.name : dflt.kind;
          const upTo = p.exact ? '' : 'at most ';
          let reason: string | undefined;
          let help = '';
          if (p.docs === 0) {
            reason = `no document is left: ${p.emptyBecause}`;
            help = p.emptyHelp;
          } else if (kind === 'concat_chunk') {
            const L = pk ? numArg(pk, 'length') : dflt.length;
            if (L !== undefined && p.tokens < L) {
              reason = `its documents hold ${upTo}${p.tokens} tokens (EOT included), fewer than one sequence of concat_chunk(${L})${pk ? '' : ' (the default packer)'}`;
              help = `use a length of at most ${p.tokens}, or more data`;
            }
          } else if (kind === 'decompose' && pk) {
            const min = numArg(pk, 'min');
            if (min !== undefined && p.longest < min + 1) {
              reason = `its longest document has ${upTo}${p.longest} tokens (EOT included), and decompose(min: ${min}) cuts a piece only from a document of ${min + 1}`;
              help = 'lower min, or add longer documents';
            }
          } else if ((kind === 'pad' || kind === 'prepack') && pk && p.shortest !== undefined) {
            // both drop a document longer than the sequence whole (runtime/data/pack.ts planPad, planPrepack)
            const pad = kind === 'pad';
            const truncate = argOf(pk, 'truncate');
            const drops = !pad || (truncate?.kind === 'Ident' && truncate.name === 'drop');
            const L = pad ? numArg(pk, 'length') : numArg(pk, 'capacity');
            if (drops && L !== undefined && p.shortest > L) {
              const call = pad ? `pad(${L}, truncate: drop)` : `prepack(capacity: ${L})`;
              reason = `every document is longer than ${L} tokens (the shortest has ${p.shortest}, EOT included), and ${call} drops each longer one`;
              help = pad ? `use a length of at least ${p.shortest}, or truncate: right to keep the first ${L} tokens` : `use a capacity of at least ${p.shortest}, or capacity: longest`;
            }
          }
          if (reason === undefined) continue;
          ctx.report(diag('LMP0406', packClause?.span ?? data.name.span, { data: p.split ? `${data.name.name}.${side}` : data.name.name, reason, help }, { notes: [{ message: 'packed here', span: at }] }));
        }
      },
    };
  },
};
