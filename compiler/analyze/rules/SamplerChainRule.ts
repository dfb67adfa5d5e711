// LMP0601 / LMP0602 / LMP0603: the sampler chain (llama.cpp's model: filters and penalties over
// one candidate array, one terminal sampler last; without one, an implicit `sample` ends it).
// A terminal followed by anything, two terminals, and a temperature that provably changes
// nothing: before `greedy` (argmax is invariant under positive scaling) or after `top_k(1)`
// (one candidate left).
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { policySamplers, topOneIndex } from '../facts.js';

export const SamplerChainRule: Rule = {
  name: 'SamplerChainRule',
  codes: ['LMP0601', 'LMP0602', 'LMP0603'],
  create: (ctx) => ({
    clause(clause, _sem, decl) {
      const samplers = policySamplers(clause, decl);
      if (!samplers) return;
      const terminals = samplers.filter((x) => x.s.def.role === 'terminal');
      if (terminals.length >= 2) ctx.report(diag('LMP0602', terminals[1]!.e.span, { first: terminals[0]!.s.def.name, second: terminals[1]!.s.def.name }, { notes: [{ message: 'the first terminal', span: terminals[0]!.e.span }] }));
      const firstTerminal = terminals[0];
      if (firstTerminal) {
        const i = samplers.indexOf(firstTerminal);
        const next = samplers[i + 1];
        if (next && terminals.length < 2) ctx.report(diag('LMP0601', firstTerminal.e.span, { name: firstTerminal.s.def.name, next: next.s.def.name }));
      }
      const one = topOneIndex(samplers);
      for (let i = 0; i < samplers.length; i++) {
        const { e, s } = samplers[i]!;
        if (s.def.name !== 'temperature') continue;
        if (one >= 0 && i > one) ctx.report(diag('LMP0603', e.span, { name: 'temperature', reason: 'top_k(1) before it leaves a single candidate' }));
        else if (samplers.slice(i + 1).some((x) => x.s.def.name === 'greedy') && !samplers.slice(i + 1).some((x) => x.s.def.role === 'penalty'))
          ctx.report(diag('LMP0603', e.span, { name: 'temperature', reason: 'greedy picks the most probable token, and dividing logits by a positive t keeps the same one on top' }));
      }
    },
  }),
};
