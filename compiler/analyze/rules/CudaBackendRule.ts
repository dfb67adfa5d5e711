// LMP0708: a train with `backend cuda` whose model the CUDA trainer refuses before any step
// (runtime/model/cuda-llama.ts, LMP_E_CONFIG_UNSUPPORTED): a head dim (dim / heads) other than
// 32, 64 or 128 (the CUDA attention kernels' head dims). (RoPE with an LM-Infinite distance limit
// trains on the device.) `backend auto` trains such a model on the CPU (with a note), so it is not
// reported; a model that loads a checkpoint is judged at run time.
import { diag } from '../../../grammar/diagnostics.js';
import { lowerOnDemand } from '../../lower/index.js';
import type { AnySpec } from '../../../runtime/entry/spec.js';
import type { Decl } from '../../../grammar/ast.js';
import type { Rule } from '../context.js';
import { clausesOf } from '../inherit.js';

export const CUDA_HEAD_DIMS: readonly number[] = [32, 64, 128];

export const CudaBackendRule: Rule = {
  name: 'CudaBackendRule',
  codes: ['LMP0708'],
  create: (ctx) => {
    let spec: ((d: Decl) => AnySpec | undefined) | undefined;
    return {
      decl(decl, eff) {
        if (decl.declKind !== 'train') return;
        const at = clausesOf(eff, 'backend')[0]?.clause;
        if (!at) return;
        const s = (spec ??= lowerOnDemand(ctx.program))(decl);
        if (s?.kind !== 'train' || s.backend !== 'cuda' || !s.model.config || s.model.load) return;
        const c = s.model.config, model = s.model.name ?? 'anonymous';
        const hd = c.dim / c.heads;
        const reasons: string[] = [];
        if (!CUDA_HEAD_DIMS.includes(hd)) reasons.push(`its head dim (dim ${c.dim} / heads ${c.heads} = ${hd}) is not one the CUDA attention kernels have (${CUDA_HEAD_DIMS.join(', ')})`);
        if (reasons.length === 0) return;
        ctx.report(
          diag('LMP0708', at.span, { train: decl.name.name, model, reason: reasons.join('; ') }, { help: `write backend cpu (or auto, which falls back to the CPU), or change model ${model}` }),
        );
      },
    };
  },
};
