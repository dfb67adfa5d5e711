// The typed sampler chain and its checks (the same rules the compiler applies to a
// `policy a -> b -> terminal` clause). Pure TypeScript: no native code is loaded here.

export type Variant = 'hf' | 'llama_cpp';
/** typical: what happens to the tokens tied at the crossing score. */
export type TypicalTies = 'keep' | 'by_id';

export type SamplerSpec =
  | { readonly name: 'temperature'; readonly t: number }
  | { readonly name: 'top_k'; readonly k: number }
  | { readonly name: 'top_p'; readonly p: number }
  | { readonly name: 'min_p'; readonly p: number }
  /**
   * crossing: 'hf' (default; paper/HF: the crossing token is the one whose mass reaches p, cum >= p),
   * 'llama_cpp' (the first with cum > p). ties: 'keep' (HF's TypicalLogitsWarper keeps every token
   * whose score equals the crossing token's; the default with crossing 'hf') or 'by_id' (a tie group
   * at the crossing is cut by token id, lower ids kept; the default with 'llama_cpp', which cuts
   * inside a tie group in its sort's order).
   */
  | { readonly name: 'typical'; readonly p: number; readonly crossing?: Variant; readonly ties?: TypicalTies }
  | { readonly name: 'epsilon'; readonly epsilon: number }
  | { readonly name: 'eta'; readonly eta: number }
  /** last: window over the token history (-1 = all, 0 = off). repeat: CTRL divisor; frequency/presence: OpenAI form. */
  | { readonly name: 'penalties'; readonly last: number; readonly repeat?: number; readonly frequency?: number; readonly presence?: number }
  | {
      readonly name: 'dry';
      readonly multiplier: number;
      readonly base?: number;
      readonly allowedLength?: number;
      readonly last?: number;
      readonly breakers?: readonly number[];
    }
  | { readonly name: 'logit_bias'; readonly bias: Readonly<Record<number, number>> }
  /**
   * allow / ban: token ids, and token strings (`strings`) that resolveTokenStrings turns into the ids
   * of the decode's tokenizer before the chain runs (lowerSpec refuses a chain with strings left).
   */
  | { readonly name: 'allowed'; readonly tokens: readonly number[]; readonly strings?: readonly string[] }
  | { readonly name: 'banned'; readonly tokens: readonly number[]; readonly strings?: readonly string[] }
  | { readonly name: 'greedy' }
  | { readonly name: 'sample' }
  /**
   * Mirostat v1. variant 'paper' (default, the paper's code): m ratios of the top m + 1 probabilities,
   * k rounded + 1, S from the original p, eta 1; 'llama_cpp': m - 1 ratios of the top m, k floored,
   * S renormalized, eta 0.1. m defaults to 100.
   */
  | { readonly name: 'mirostat'; readonly tau: number; readonly eta?: number; readonly m?: number; readonly variant?: 'paper' | 'llama_cpp' }
  /** Mirostat v2. variant 'paper' (default): S from the original p; 'llama_cpp': S from the renormalized p. */
  | { readonly name: 'mirostat_v2'; readonly tau: number; readonly eta?: number; readonly variant?: 'paper' | 'llama_cpp' };

export type SamplerName = SamplerSpec['name'];

export interface ChainConfig {
  readonly samplers: readonly SamplerSpec[];
  readonly seed?: number | bigint;
}

export interface ChainDiagnostic {
  readonly severity: 'error' | 'warning';
  readonly code: string;
  /** Position of the sampler in the chain (0-based), or -1 for the chain as a whole. */
  readonly index: number;
  readonly message: string;
}

export const TERMINALS: ReadonlySet<SamplerName> = new Set(['greedy', 'sample', 'mirostat', 'mirostat_v2']);

/** Samplers whose kept set always contains the argmax (so they cannot change greedy's pick). */
const KEEPS_ARGMAX: ReadonlySet<SamplerName> = new Set(['temperature', 'top_k', 'top_p', 'min_p', 'epsilon', 'eta']);

function range(ok: boolean, i: number, name: string, what: string, out: ChainDiagnostic[]): void {
  if (!ok) out.push({ severity: 'error', code: 'LMP_E_CHAIN_ARG', index: i, message: `${name}: ${what}` });
}

/**
 * Checks a chain and returns it with the implicit final `sample` appended when it has no
 * terminal sampler. Errors: a terminal sampler that is not last, more than one terminal,
 * parameters out of range. Warnings: a sampler that provably changes nothing:
 *  - any of temperature / top_k / top_p / min_p / epsilon / eta before `greedy`: each keeps
 *    the argmax and temperature (t > 0) is monotone, so greedy picks the same token;
 *  - `top_k(k2)` after `top_k(k1)` with k2 >= k1 (nothing that adds candidates lies between);
 *  - an identity parameter: temperature(1), top_p(1), min_p(0), typical(1), epsilon(0),
 *    eta(0), dry(multiplier: 0), penalties with last 0 or repeat 1 and no frequency/presence.
 * Not a warning: temperature after a truncation. The kept SET is then the same as without
 * it (truncation already happened), but the probabilities within it change, so it does act;
 * likewise temperature before top_k gives the same result as after it (top_k's set is
 * invariant under a monotone map), which is an equivalence, not a no-op.
 */
export function validateChain(samplers: readonly SamplerSpec[]): { chain: SamplerSpec[]; diagnostics: ChainDiagnostic[] } {
  const d: ChainDiagnostic[] = [];
  const chain = [...samplers];
  samplers.forEach((s, i) => {
    if (TERMINALS.has(s.name) && i !== samplers.length - 1) {
      d.push({
        severity: 'error',
        code: 'LMP_E_CHAIN_ORDER',
        index: i,
        message: `${s.name} is a terminal sampler and must be the last one (found at position ${i + 1} of ${samplers.length})`,
      });
    }
    switch (s.name) {
      case 'temperature':
        range(s.t > 0 && Number.isFinite(s.t), i, s.name, 'temperature must be > 0 (use greedy for 0)', d);
        break;
      case 'top_k':
        range(Number.isInteger(s.k) && s.k >= 1, i, s.name, 'k must be an integer >= 1', d);
        break;
      case 'top_p':
        range(s.p > 0 && s.p <= 1, i, s.name, 'p must be in (0, 1]', d);
        break;
      case 'min_p':
        range(s.p >= 0 && s.p <= 1, i, s.name, 'p must be in [0, 1]', d);
        break;
      case 'typical':
        range(s.p > 0 && s.p <= 1, i, s.name, 'p must be in (0, 1]', d);
        range(s.crossing === undefined || s.crossing === 'hf' || s.crossing === 'llama_cpp', i, s.name, "crossing must be 'hf' or 'llama_cpp'", d);
        range(s.ties === undefined || s.ties === 'keep' || s.ties === 'by_id', i, s.name, "ties must be 'keep' or 'by_id'", d);
        break;
      case 'epsilon':
        range(s.epsilon >= 0 && s.epsilon < 1, i, s.name, 'epsilon must be in [0, 1)', d);
        break;
      case 'eta':
        range(s.eta >= 0 && s.eta < 1, i, s.name, 'eta must be in [0, 1)', d);
        break;
      case 'penalties':
        range(Number.isInteger(s.last) && s.last >= -1, i, s.name, 'last must be an integer >= -1', d);
        range((s.repeat ?? 1) > 0, i, s.name, 'repeat must be > 0', d);
        break;
      case 'dry':
        range(s.multiplier >= 0 && (s.base ?? 1.75) > 0 && Number.isInteger(s.allowedLength ?? 2) && (s.allowedLength ?? 2) >= 1, i, s.name, 'multiplier >= 0, base > 0, allowedLength >= 1', d);
        break;
      case 'mirostat':
      case 'mirostat_v2':
        range(s.tau > 0 && (s.eta ?? 0.1) > 0, i, s.name, 'tau and eta must be > 0', d);
        if (s.name === 'mirostat') range(Number.isInteger(s.m ?? 100) && (s.m ?? 100) >= 2, i, s.name, 'm must be an integer >= 2', d);
        break;
      default:
        break;
    }
  });
  if (samplers.filter((s) => TERMINALS.has(s.name)).length > 1) {
    d.push({ severity: 'error', code: 'LMP_E_CHAIN_ORDER', index: -1, message: 'a chain has exactly one terminal sampler' });
  }
  const last = samplers[samplers.length - 1];
  if (!last || !TERMINALS.has(last.name)) chain.push({ name: 'sample' });

  // Warnings: provable no-ops.
  const end = chain[chain.length - 1]!;
  if (end.name === 'greedy') {
    chain.slice(0, -1).forEach((s, i) => {
      if (KEEPS_ARGMAX.has(s.name)) {
        d.push({
          severity: 'warning',
          code: 'LMP_W_CHAIN_NOOP',
          index: i,
          message: `${s.name} before greedy does nothing: it keeps the most likely token${s.name === 'temperature' ? ' (a positive temperature does not change which token is most likely)' : ''}`,
        });
      }
    });
  }
  let kBound = Infinity;
  samplers.forEach((s, i) => {
    if (s.name === 'top_k') {
      if (s.k >= kBound) {
        d.push({ severity: 'warning', code: 'LMP_W_CHAIN_NOOP', index: i, message: `top_k(${s.k}) after top_k(${kBound}) does nothing: at most ${kBound} candidates are left` });
      }
      kBound = Math.min(kBound, s.k);
    } else if (s.name === 'allowed') {
      kBound = Infinity;
    }
    const identity =
      (s.name === 'temperature' && s.t === 1) ||
      (s.name === 'top_p' && s.p === 1) ||
      (s.name === 'min_p' && s.p === 0) ||
      (s.name === 'typical' && s.p === 1) ||
      (s.name === 'epsilon' && s.epsilon === 0) ||
      (s.name === 'eta' && s.eta === 0) ||
      (s.name === 'dry' && s.multiplier === 0) ||
      (s.name === 'penalties' && (s.last === 0 || ((s.repeat ?? 1) === 1 && !(s.frequency ?? 0) && !(s.presence ?? 0))));
    if (identity) d.push({ severity: 'warning', code: 'LMP_W_CHAIN_NOOP', index: i, message: `${s.name} with these parameters does nothing` });
  });
  return { chain, diagnostics: d };
}

export class ChainError extends Error {
  readonly code = 'LMP_E_CHAIN';
  constructor(readonly diagnostics: readonly ChainDiagnostic[]) {
    super('invalid sampler chain: ' + diagnostics.filter((x) => x.severity === 'error').map((x) => x.message).join('; '));
    this.name = 'ChainError';
  }
}

/** validateChain, throwing ChainError on any error; returns the chain with its terminal. */
export function checkedChain(samplers: readonly SamplerSpec[]): SamplerSpec[] {
  const { chain, diagnostics } = validateChain(samplers);
  if (diagnostics.some((x) => x.severity === 'error')) throw new ChainError(diagnostics);
  return chain;
}

// ---- lowering to the native spec ------------------------------------------------------

/** Kind numbers: must match `enum class Kind` in native/src/sampling/sampling.h. */
const KIND: Readonly<Record<SamplerName, number>> = {
  temperature: 0,
  top_k: 1,
  top_p: 2,
  min_p: 3,
  typical: 4,
  epsilon: 5,
  eta: 6,
  penalties: 7,
  dry: 8,
  logit_bias: 9,
  allowed: 10,
  banned: 11,
  greedy: 12,
  sample: 13,
  mirostat: 14,
  mirostat_v2: 15,
};

export interface NativeSpec {
  kind: number;
  a?: number;
  b?: number;
  c?: number;
  d?: number;
  n?: number;
  variant?: number;
  /** typical: 1 = cut the tie group at the crossing by id; 0 / absent = keep it. */
  ties?: number;
  ids?: Int32Array;
  vals?: Float32Array;
}

/**
 * The chain with allow / ban token strings resolved through `tok` (the decode's tokenizer): each
 * string is the id tokenId gives it (a special token's text, or text that is exactly one token:
 * the byte tokenizer, one UTF-8 byte). A string that is not one token throws LMP_E_CHAIN_TOKEN
 * (lmpc check reports it as LMP0609 where it knows the tokenizer); allow / ban take single tokens,
 * as llama.cpp's logit bias and Hugging Face's suppress_tokens / allowed ids do.
 */
export function resolveTokenStrings(samplers: readonly SamplerSpec[], tok: { tokenId(text: string): number | undefined }, tokenizer = 'the tokenizer'): SamplerSpec[] {
  return samplers.map((s) => {
    if ((s.name !== 'allowed' && s.name !== 'banned') || !s.strings?.length) return s;
    const ids = s.strings.map((t) => {
      const id = tok.tokenId(t);
      if (id === undefined) throw Object.assign(new Error(`${s.name === 'allowed' ? 'allow' : 'ban'}: ${JSON.stringify(t)} is not one token of ${tokenizer} (allow and ban take single tokens: ids, or strings that are one token)`), { code: 'LMP_E_CHAIN_TOKEN' });
      return id;
    });
    return { name: s.name, tokens: [...s.tokens, ...ids] };
  });
}

export function lowerSpec(s: SamplerSpec): NativeSpec {
  const kind = KIND[s.name];
  switch (s.name) {
    case 'temperature':
      return { kind, a: s.t };
    case 'top_k':
      return { kind, n: s.k };
    case 'top_p':
    case 'min_p':
      return { kind, a: s.p };
    case 'typical':
      return { kind, a: s.p, variant: s.crossing === 'llama_cpp' ? 1 : 0, ties: (s.ties ?? (s.crossing === 'llama_cpp' ? 'by_id' : 'keep')) === 'by_id' ? 1 : 0 };
    case 'epsilon':
      return { kind, a: s.epsilon };
    case 'eta':
      return { kind, a: s.eta };
    case 'penalties':
      return { kind, n: s.last, a: s.repeat ?? 1, b: s.frequency ?? 0, c: s.presence ?? 0 };
    case 'dry':
      return {
        kind,
        a: s.multiplier,
        b: s.base ?? 1.75,
        n: s.allowedLength ?? 2,
        d: s.last ?? -1,
        ids: Int32Array.from(s.breakers ?? []),
      };
    case 'logit_bias': {
      const entries = Object.entries(s.bias);
      return { kind, ids: Int32Array.from(entries.map(([k]) => Number(k))), vals: Float32Array.from(entries.map(([, v]) => v)) };
    }
    case 'allowed':
    case 'banned':
      // strings the caller did not resolve would be dropped silently: refuse them
      if (s.strings?.length) throw Object.assign(new Error(`${s.name}: token strings ${JSON.stringify(s.strings)} are not resolved to ids (resolveTokenStrings with the decode's tokenizer)`), { code: 'LMP_E_CHAIN_TOKEN' });
      return { kind, ids: Int32Array.from(s.tokens) };
    case 'greedy':
    case 'sample':
      return { kind };
    case 'mirostat':
      return { kind, a: s.tau, b: s.eta ?? (s.variant === 'llama_cpp' ? 0.1 : 1), n: s.m ?? 100, variant: s.variant === 'llama_cpp' ? 1 : 0 };
    case 'mirostat_v2':
      return { kind, a: s.tau, b: s.eta ?? 0.1, variant: s.variant === 'llama_cpp' ? 1 : 0 };
  }
}
