// LMP0301: a call (or bare name) that is not a built-in of the category its position takes.
import { diag } from '../../../grammar/diagnostics.js';
import { builtinsOf, type Category } from '../../registry/index.js';
import type { Rule } from '../context.js';
import { closest } from '../suggest.js';

export const CATEGORY_NOUN: Record<Category, string> = {
  mask: 'mask primitive',
  packer: 'packer',
  source: 'source',
  filter: 'filter',
  tokenizer: 'tokenizer',
  curriculum: 'curriculum',
  weights: 'weights scheme',
  growth: 'growth schedule',
  position: 'position encoding',
  rope_scale: 'RoPE scaling',
  score: 'score transform',
  cache: 'cache policy',
  arch: 'architecture',
  checkpoint: 'checkpoint loader',
  optimizer: 'optimizer',
  schedule: 'schedule',
  sampler: 'sampler',
  length_control: 'length control',
  speculation: 'speculation strategy',
  statistic: 'statistic',
  task: 'task',
  metric: 'metric',
  search: 'search strategy',
};

export const UnknownBuiltinRule: Rule = {
  name: 'UnknownBuiltinRule',
  codes: ['LMP0301'],
  create: (ctx) => ({
    call(node, name, def, category) {
      if (def !== undefined) return;
      const names = builtinsOf(category).map((d) => d.name);
      const near = closest(name, names);
      const suggestion = near !== undefined ? `did you mean '${near}'?` : `${CATEGORY_NOUN[category]}s: ${names.join(', ')}`;
      const span = node.kind === 'Call' ? node.callee.span : node.span;
      ctx.report(diag('LMP0301', span, { category: CATEGORY_NOUN[category], name, suggestion }));
    },
  }),
};
