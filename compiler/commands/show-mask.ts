// `lmpc show-mask FILE --attention NAME --length N [--docs 100,300,...] [--tile 64] [--head H]
//  [-o mask.svg|mask.png]`: the mask of an attention declaration as a picture, with the tile grid
// and the block classifier's empty/full/partial classes. Terminal blocks by default.
// Exit 0 on success, 1 when the file has syntax errors or the mask does not lower, 2 on usage.
import type { Command } from 'commander';
import { parse } from '../../grammar/index.js';
import type { Decl, Expr } from '../../grammar/ast.js';
import { lowerMask } from '../lower/mask.js';
import { readSource } from '../io/read.js';
import { writeFileAtomic } from '../io/write.js';
import type { AttentionMaskIR, HeadGroupIR, MaskIR } from '../../runtime/mask/ir.js';
import { docIdsFromLengths } from '../../runtime/mask/eval.js';
import { maskForHead } from '../../runtime/mask/classify.js';
import { renderPng, renderSvg, renderTerminal } from '../../runtime/mask/render.js';
import { contextOf, setExit } from './context.js';

const intArg = (e: Expr | undefined): number | undefined => (e && e.kind === 'Number' ? e.value : undefined);

/** The attention's masks, lowered; or the problems as messages. */
export function attentionMasks(decl: Decl): { ok: true; masks: AttentionMaskIR } | { ok: false; errors: string[] } {
  let def: MaskIR | undefined;
  const groups: HeadGroupIR[] = [];
  const errors: string[] = [];
  for (const c of decl.clauses) {
    if (c.keyword === 'mask') {
      const e = c.body ?? c.args[0];
      if (!e) continue;
      const r = lowerMask(e);
      if (r.ok) def = r.mask;
      else errors.push(...r.problems.map((p) => p.message));
    } else if (c.keyword === 'heads') {
      const range = c.args[0];
      const from = range?.kind === 'Range' ? intArg(range.from) : intArg(range);
      const to = range?.kind === 'Range' ? intArg(range.to) : from;
      if (from === undefined || to === undefined || !c.body) {
        errors.push('heads clause needs `heads A..B: MASK`');
        continue;
      }
      const r = lowerMask(c.body);
      if (r.ok) groups.push({ from, to, mask: r.mask });
      else errors.push(...r.problems.map((p) => p.message));
    }
  }
  if (errors.length) return { ok: false, errors };
  return { ok: true, masks: { default: def, groups } };
}

export function register(program: Command): void {
  program
    .command('show-mask')
    .description('draw the mask of an attention declaration with its tile classes (terminal, SVG or PNG)')
    .argument('<file>', '.lmp file')
    .requiredOption('--attention <name>', 'the attention declaration')
    .requiredOption('--length <n>', 'sequence length in tokens')
    .option('--docs <lengths>', 'document lengths, comma-separated (the rest is one more document)')
    .option('--tile <n>', 'tile size', '64')
    .option('--head <h>', 'which head, when the attention has per-head groups', '0')
    .option('-o, --output <file>', 'write mask.svg or mask.png instead of printing')
    .action(function (this: Command, file: string, opts: { attention: string; length: string; docs?: string; tile: string; head: string; output?: string }) {
      const ctx = contextOf(this);
      const usage = (msg: string) => {
        ctx.io.stderr(`lmpc show-mask: ${msg}\n`);
        setExit(ctx, 2);
      };
      const length = Number(opts.length), tile = Number(opts.tile), head = Number(opts.head);
      if (!Number.isInteger(length) || length < 1) return usage('--length must be a positive integer');
      if (!Number.isInteger(tile) || tile < 1) return usage('--tile must be a positive integer');
      if (!Number.isInteger(head) || head < 0) return usage('--head must be a non-negative integer');
      let docIds: Int32Array | undefined;
      if (opts.docs !== undefined) {
        const lens = opts.docs.split(',').map((s) => Number(s.trim()));
        if (lens.some((l) => !Number.isInteger(l) || l < 1)) return usage('--docs must be positive integers separated by commas');
        docIds = docIdsFromLengths(lens, length);
      }
      const src = readSource(file);
      if (!src.ok) {
        ctx.io.stderr(`lmpc show-mask: cannot read ${file}\n`);
        return setExit(ctx, 1);
      }
      const parsed = parse(src.text, file);
      if (parsed.diagnostics.some((d) => d.severity === 'error')) {
        ctx.io.stderr(`lmpc show-mask: ${file} has syntax errors; run \`lmpc check ${file}\`\n`);
        return setExit(ctx, 1);
      }
      const decl = parsed.program.decls.find((d) => d.declKind === 'attention' && d.name.name === opts.attention);
      if (!decl) {
        const names = parsed.program.decls.filter((d) => d.declKind === 'attention').map((d) => d.name.name);
        return usage(`no attention '${opts.attention}' in ${file}${names.length ? ` (attentions: ${names.join(', ')})` : ''}`);
      }
      const lowered = attentionMasks(decl);
      if (!lowered.ok) {
        ctx.io.stderr(lowered.errors.map((e) => `lmpc show-mask: ${e}\n`).join(''));
        return setExit(ctx, 1);
      }
      const mask = maskForHead(lowered.masks, head);
      const ropts = { length, tile, docIds };
      if (opts.output) {
        const out = opts.output.toLowerCase();
        if (!out.endsWith('.png') && !out.endsWith('.svg')) return usage('-o must end in .svg or .png');
        try {
          writeFileAtomic(opts.output, out.endsWith('.png') ? renderPng(mask, ropts) : renderSvg(mask, ropts));
        } catch (e) {
          ctx.io.stderr(`lmpc show-mask: cannot write ${opts.output}: ${e instanceof Error ? e.message : String(e)}\n`);
          return setExit(ctx, 2);
        }
        ctx.io.stdout(`wrote ${opts.output}\n`);
      } else {
        ctx.io.stdout(renderTerminal(mask, ropts));
      }
    });
}
