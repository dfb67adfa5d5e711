// LMP0407: a data source that matches no file: a text glob with no match, a jsonl or parquet path
// that is not a file. Resolved against the checked file's folder, as at run time, and only when
// that file is on disk (analyze/sources.ts). A warning: the run fails with LMP_E_DATA_SOURCE
// unless the files exist by then (generated corpora, downloads).
import { dirname } from 'node:path';
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { sourceFiles, sourcePath, sourceRoot } from '../sources.js';

export const SourceMatchRule: Rule = {
  name: 'SourceMatchRule',
  codes: ['LMP0407'],
  create: (ctx) => {
    let root: string | null | undefined = null; // null: not looked up yet
    return {
      clause(clause, _sem, decl) {
        if (decl.declKind !== 'data' || clause.keyword !== 'source') return;
        const src = sourcePath(clause.args[0]);
        if (!src) return;
        if (root === null) root = sourceRoot(ctx.file);
        if (root === undefined) return;
        const files = sourceFiles(ctx.program, root, src.kind, src.path);
        if (files && files.length === 0) {
          const what = src.kind === 'text' ? `text source glob '${src.path}'` : `${src.kind} source '${src.path}'`;
          ctx.report(diag('LMP0407', src.call.node.span, { source: what, dir: dirname(ctx.file) }));
        }
      },
    };
  },
};
