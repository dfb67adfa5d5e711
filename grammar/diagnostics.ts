// The one catalog of diagnostics: every code the toolchain can report, with its severity,
// message template, and help line. It lives in grammar/ (the lowest layer) because the
// lexer and parser report through it too; compiler/ adds no codes of its own elsewhere.
//
// Codes: LMP + 4 digits, grouped by hundreds:
//   00xx lexical   01xx syntax   02xx names and references   03xx parameters, types, units
//   04xx data and curricula   05xx attention and masks   06xx decoding   07xx model and train
//   08xx eval and optimize   09xx files, I/O and the command line
// A test checks that every code has a conformance case under spec/conformance/.
import type { Span } from './ast.js';

export type Severity = 'error' | 'warning' | 'info';

export interface DiagnosticDef {
  readonly severity: Severity;
  /** Short title for the spec's table. */
  readonly title: string;
  /** Message template; `{name}` placeholders are filled from the params. */
  readonly message: string;
  /** A help line telling the user what to do; may use placeholders too. */
  readonly help?: string;
  /** Why the check exists and why it is an error or a warning (spec/diagnostics.md shows it). */
  readonly doc?: string;
}

export interface DiagnosticNote {
  readonly message: string;
  readonly span?: Span;
}

export interface Diagnostic {
  readonly code: DiagnosticCode;
  readonly severity: Severity;
  readonly message: string;
  readonly span: Span;
  readonly notes: readonly DiagnosticNote[];
  readonly help: string | undefined;
}

export const CATALOG = {
  // --- 00xx lexical -------------------------------------------------------------------
  LMP0001: { severity: 'error', title: 'unexpected character', message: "unexpected character '{char}'", help: 'remove it, or put it inside a string' },
  LMP0002: { severity: 'error', title: 'unterminated string', message: 'unterminated string literal', help: 'close the string with " on the same line' },
  LMP0003: { severity: 'error', title: 'invalid escape', message: "invalid escape sequence '{escape}' in string", help: 'valid escapes: \\n \\t \\r \\0 \\" \\\\ \\u{hex}' },
  LMP0004: { severity: 'error', title: 'unterminated comment', message: 'unterminated block comment', help: 'close it with */' },
  LMP0005: { severity: 'error', title: 'unknown unit', message: "unknown unit '{unit}' on number '{raw}'", help: 'units: k M G (powers of 1024), %, ms s min h, B KiB MiB GiB' },
  LMP0006: { severity: 'error', title: 'ambiguous unit', message: "ambiguous unit 'm' on '{raw}'", help: "write 'min' for minutes or 'M' for 2^20" },
  LMP0007: { severity: 'error', title: 'malformed number', message: "malformed number '{raw}': {reason}" },

  // --- 01xx syntax --------------------------------------------------------------------
  LMP0101: { severity: 'error', title: 'unexpected token', message: "expected {expected}, found {found}" },
  LMP0102: { severity: 'error', title: 'unknown declaration kind', message: "unknown declaration kind '{name}'", help: 'a declaration starts with one of: {kinds}' },
  LMP0103: { severity: 'error', title: 'unknown clause', message: "unknown clause '{name}' in {declKind} '{decl}'", help: '{declKind} accepts: {clauses}' },
  LMP0104: { severity: 'error', title: 'missing expression', message: 'expected an expression after {after}, found {found}' },
  LMP0105: { severity: 'error', title: 'unclosed bracket', message: "'{open}' is never closed", help: "add the matching '{close}'" },
  LMP0106: { severity: 'error', title: 'nesting too deep', message: 'expressions nest deeper than {max} levels', help: 'split the expression' },
  LMP0107: { severity: 'info', title: 'too many errors', message: 'too many errors; stopped after {max}' },
  LMP0108: { severity: 'error', title: 'no value form', message: "a {declKind} declaration cannot be written as '= expr'", help: 'use a block: {declKind} {decl} { ... }' },
  LMP0109: { severity: 'error', title: 'missing clause body', message: "'{clause}' needs ': expr' after its arguments" },
  LMP0110: { severity: 'error', title: 'unexpected clause body', message: "'{clause}' takes no ': expr' body" },
  LMP0111: { severity: 'error', title: 'missing clause arguments', message: "'{clause}' needs {expected}, found {found}" },

  // --- 02xx names, references and declaration structure ------------------------------
  LMP0201: { severity: 'error', title: 'duplicate declaration', message: "'{name}' is declared more than once", help: 'rename one of the declarations' },
  LMP0202: { severity: 'error', title: 'unresolved name', message: "cannot find {expected} '{name}'", help: '{suggestion}' },
  LMP0203: { severity: 'error', title: 'wrong kind of declaration', message: "'{name}' is a {found} declaration, but {expected} is expected here" },
  LMP0204: { severity: 'error', title: 'unknown base', message: "'{decl}' inherits from '{base}', which is not declared" },
  LMP0205: { severity: 'error', title: 'base of another kind', message: "{declKind} '{decl}' cannot inherit from {baseKind} '{base}'", help: 'a declaration inherits only from a declaration of the same kind' },
  LMP0206: { severity: 'error', title: 'inheritance cycle', message: "'from' inheritance forms a cycle: {cycle}" },
  LMP0207: { severity: 'error', title: 'clause repeated', message: "clause '{clause}' appears more than once in {declKind} '{decl}'", help: 'keep one; only repeatable clauses (such as source, heads, vary) may appear several times' },
  LMP0208: { severity: 'error', title: 'missing clause', message: "{declKind} '{decl}' has no '{clause}' clause", help: "add '{clause} ...' (or inherit it with 'from')" },

  // --- 03xx built-ins, parameters, types and units ---------------------------------------
  LMP0301: { severity: 'error', title: 'unknown built-in', message: "unknown {category} '{name}'", help: '{suggestion}' },
  LMP0302: { severity: 'error', title: 'unknown parameter', message: "{callee}() has no parameter '{name}'", help: 'parameters: {params}' },
  LMP0303: { severity: 'error', title: 'missing parameter', message: "{callee}() needs parameter '{name}'", help: '{doc}' },
  LMP0304: { severity: 'error', title: 'positional after named', message: 'a positional argument cannot follow a named argument', help: 'name this argument, or move it before the named ones' },
  LMP0305: { severity: 'error', title: 'too many arguments', message: '{callee}() takes at most {max} positional argument(s), found {found}' },
  LMP0306: { severity: 'error', title: 'parameter given twice', message: "parameter '{name}' of {callee}() is given more than once" },
  LMP0307: { severity: 'error', title: 'wrong type', message: 'expected {expected}, found {found}' },
  LMP0308: { severity: 'error', title: 'wrong unit', message: 'expected {expected}, found {found} ({raw})', help: '{help}' },
  LMP0309: { severity: 'error', title: 'out of range', message: '{what} must be {range}, found {value}' },
  LMP0310: { severity: 'error', title: 'not an integer', message: '{what} must be a whole number, found {value}' },
  LMP0311: { severity: 'error', title: 'not a power of two', message: '{what} must be a power of two, found {value}', help: 'nearest powers of two: {lower} and {upper}' },
  LMP0312: { severity: 'error', title: 'clause argument not read', message: "'{clause}' takes no argument before its modifiers: {found} would be ignored", help: '{help}',
    doc: "A clause such as `speculate` is written with keywords only (`speculate draft small candidates 4`); an expression right after the keyword is read by nothing, so `speculate big candidates 4` would decode without speculating (and a train's `eval X every N: TASK` would ignore X). An error, never a silent no-op." },
  LMP0313: { severity: 'error', title: 'cannot run yet', message: '{what} cannot run yet: {reason}', help: '{help}',
    doc: 'What lmpc check accepts runs under lmpc run (compiler/coverage.test.ts runs a program for every built-in and clause); the combinations the runtime has no code for are rejected here, at the clause, instead of failing at run time with LMP_E_NO_RUNTIME. spec/reference.md lists them under their clause ("not supported yet"): speculate without a draft, with a cascade or with traces; prompts prefilled (prepack, pad) under an evicting cache or a non-causal mask; keep(MASK) other than keep(sink(g) | window(w)) reposition; a limit with position none; pad(truncate: left); a tiktoken encoding js-tiktoken does not ship; template tokenizer without a chat template; inline periodic evals other than perplexity(D.side); a periodic eval declaration whose using runs another model than the trained one, or a cascade; optimizer sgd; allow/ban with token strings.' },
  LMP0314: { severity: 'warning', title: 'setting has no effect', message: '{what} has no effect: {reason}', help: '{help}',
    doc: 'It runs, but the setting changes nothing: a hold-out split, a source weight, a seed or a training packer (concat_chunk, decompose) on a data declaration used only as prompts (every document is a prompt, in input order), a `model` clause beside a cascade, which decodes with the models it lists, or the `tile` of an attention (the tiles of the CPU kernels are fixed at 64x64; it sizes only kernels.json and lmpc explain). A warning, so that nothing written is silently ignored.' },

  // --- 04xx data and curricula ------------------------------------------------------------
  LMP0401: { severity: 'error', title: 'decompose bounds reversed', message: 'decompose min ({min}) is greater than max ({max})' },
  LMP0402: { severity: 'error', title: 'weight for impossible bucket', message: "bucket {bucket} cannot be produced by the packer of data '{data}' ({packer})", help: 'buckets it produces: {buckets}' },
  LMP0403: { severity: 'error', title: 'tokens_per_step not divisible', message: 'tokens_per_step ({tokens}) is not divisible by bucket length {bucket}', help: 'use a multiple of {lcm}' },
  LMP0404: { severity: 'warning', title: 'zero weight', message: 'bucket {bucket} has weight 0: it is never sampled', help: 'remove the entry' },
  LMP0405: { severity: 'warning', title: 'bucket without weight', message: "bucket {bucket} produced by data '{data}' has no weight: its sequences are never used", help: 'add {bucket}: WEIGHT to weights' },
  LMP0406: { severity: 'error', title: 'data packs to no sequence', message: "data '{data}' packs to no sequence: {reason}", help: '{help}',
    doc: "Only for data a train or a perplexity task packs, with a byte or tiktoken tokenizer and text or jsonl sources (parquet and hf tokenizers are not bounded). Token counts come from the files: a file of at most 1 MiB (16 MiB in all per check) is read and its decoded text measured in UTF-8 bytes (the byte tokenizer's count exactly; tiktoken never has more tokens than bytes); a larger one counts as 3 x its size (an invalid byte decodes to U+FFFD, 3 bytes). The side packed is the one the use names (a train: the training side; perplexity(D.holdout): the hold-out side), split by the runtime\'s content hash of each document read; a document counted by its size may be on either side. Several weighted sources are bounded by the mixture\'s upsampling. Reported: concat_chunk(L) over fewer than L tokens, decompose(min: m) without a document of m + 1 tokens, pad(L, truncate: drop) and prepack(capacity: C) where every document is longer than L (C), which they drop whole (judged only with the byte tokenizer over documents all read: it needs the shortest document\'s exact count), and any packer when no document is left; pad without drop and prepack(capacity: longest) keep a sequence per document. An error: the run fails (LMP_E_CURRICULUM_CONFIG, LMP_E_DATA_END, or a periodic eval: has no sequences)." },
  LMP0407: { severity: 'warning', title: 'source matches no file', message: "{source} matches no file (resolved against '{dir}')", help: 'the run fails until it does (LMP_E_DATA_SOURCE): check the path, or create the files first',
    doc: 'Checked when the .lmp file is on disk (paths resolve against its folder, as at run time), walking at most 20000 directory entries per glob (a larger walk is not judged). A warning, not an error: the files may be made before the run (npm run corpus).' },

  // --- 05xx attention and masks -----------------------------------------------------------
  LMP0501: { severity: 'error', title: 'empty mask row', message: 'query row {row} sees no key: {reason}', help: 'every query must see at least one key (add causal diagonal, a sink or a window)' },
  LMP0502: { severity: 'error', title: 'non-causal mask in training', message: "train '{train}' uses attention '{attention}', whose mask lets a query see a later key", help: "intersect the mask with causal: 'causal & (...)'" },
  LMP0503: { severity: 'warning', title: 'redundant mask term', message: '{term} adds nothing here: {reason}', help: 'remove it' },
  LMP0504: { severity: 'error', title: 'overlapping head groups', message: 'heads {a} and heads {b} overlap' },
  LMP0505: { severity: 'warning', title: 'reposition without eviction', message: "'reposition' has no effect: cache policy {cache} never evicts", help: 'use an evicting cache such as keep(sink(4) | window(1k)), or drop reposition' },
  LMP0506: { severity: 'warning', title: 'mask overridden', message: "the 'mask' clause is unused: heads groups cover every head ({heads})" },

  // --- 06xx decoding ----------------------------------------------------------------------
  LMP0601: { severity: 'error', title: 'terminal sampler not last', message: "terminal sampler '{name}' must be last in the chain, but '{next}' follows it", help: 'move {name} to the end of the chain' },
  LMP0602: { severity: 'error', title: 'two terminal samplers', message: "the chain has two terminal samplers, '{first}' and '{second}'", help: 'keep one terminal sampler' },
  LMP0603: { severity: 'warning', title: 'ineffective sampler', message: "'{name}' changes nothing here: {reason}", help: 'remove it, or move it where it shapes the distribution that is sampled' },
  LMP0604: { severity: 'error', title: 'policy not supported', message: "{feature} cannot run sampler '{name}': {reason}" },
  LMP0605: { severity: 'error', title: 'min_tokens above max_tokens', message: 'min_tokens ({min}) is greater than max_tokens ({max})' },
  LMP0606: { severity: 'warning', title: 'penalty after a filter', message: "'{penalty}' after '{filter}' only reweights the tokens {filter} kept: {filter} chose them from logits without the penalty", help: "move '{penalty}' before the filters (llama.cpp's order: penalties first)",
    doc: 'It runs, but not as the usual order does: a repeated token that the penalty would push out of the top-k (top-p, min-p, ...) stays a candidate. allow and ban do not depend on the logits, so a penalty after them is not reported.' },
  LMP0607: { severity: 'error', title: 'filter can leave no candidate', message: "'{name}' can leave no candidate: {reason}", help: '{help}',
    doc: 'allow or ban after top_k(1) removes the single candidate whenever the most probable token is not allowed (is banned), and two allow lists with no token in common always leave none: decoding fails with LMP_E_NO_CANDIDATES, so this is an error. Other filters after top_k(1) change nothing (LMP0603, a warning).' },
  LMP0608: { severity: 'warning', title: 'duplicate filter', message: "'{name}' appears twice in the chain: {reason}", help: 'keep one {name}',
    doc: 'It runs, but the pair is not what one filter does: top_k twice is the smaller k; min_p twice the larger p; a second top_p, typical, epsilon or eta cuts what the first kept, renormalized; two allow lists keep only their common tokens (none in common: LMP0607). A repeated ban is one ban of both lists and is not reported.' },

  LMP0609: { severity: 'error', title: 'token string is not one token', message: "{name}: {text} is not one token of model {model}'s tokenizer {tokenizer} ({count} tokens)", help: 'write one token: its id, or a string that is exactly one token (with bytes(): one UTF-8 byte)',
    doc: 'allow and ban take single tokens: ids, or strings resolved through the tokenizer the decode\'s model reads before the chain runs (its special token names, or text that encodes to exactly one token). Judged here with the byte tokenizer (a `vocab` naming bytes(), or a model the runtime decodes with bytes); with tiktoken and Hugging Face tokenizers a string that is not one token stops the run with LMP_E_CHAIN_TOKEN, naming it.' },

  // --- 07xx model and train ---------------------------------------------------------------
  LMP0701: { severity: 'error', title: 'heads not divisible', message: 'heads ({heads}) must be a multiple of kv_heads ({kv_heads})' },
  LMP0702: { severity: 'error', title: 'dim not divisible', message: 'dim ({dim}) must be a multiple of heads ({heads})' },
  LMP0703: { severity: 'warning', title: 'arch ignored', message: "model '{model}' has both 'arch' and 'load': the checkpoint's config.json decides the architecture", help: 'remove arch' },
  LMP0704: { severity: 'error', title: 'model without architecture', message: "model '{model}' has neither 'arch' nor 'load'" },
  LMP0705: { severity: 'error', title: 'head group out of range', message: 'heads {range} exceed the {heads} heads of model {model}' },
  LMP0706: { severity: 'error', title: 'tokenizers disagree', message: '{what} uses {a}, but {other} reads {b}: {reason}', help: '{help}',
    doc: 'A train whose model reads `vocab T` while its data is tokenized with another tokenizer, a decode whose prompt data is tokenized with another tokenizer than its model reads, or the models of a cascade or a draft and its target reading different tokenizers: the runtime stops before anything runs (LMP_E_TOKENIZER). Reported only where the tokenizers are certain to differ (a model that loads a checkpoint, or that a train of the file trains, decodes with the tokenizer recorded with its weights; two Hugging Face tokenizers are compared by content at run time).' },
  LMP0707: { severity: 'error', title: 'vocabulary size mismatch', message: "model '{model}' has vocab {vocab}, but {tokenizer} has {size} tokens ({meets})", help: '{help}',
    doc: 'A numeric `vocab N` smaller than the tokenizer the model meets (its train data, or the byte tokenizer, 257 tokens, that a model without `vocab T` decodes with), or a draft whose vocabulary size differs from its target: the runtime stops before anything runs (LMP_E_TOKENIZER, LMP_E_SHAPE). `vocab T` (the tokenizer declaration) always fits.' },
  LMP0708: { severity: 'error', title: 'not on CUDA', message: "train '{train}' runs on backend cuda, but model '{model}' cannot: {reason}", help: '{help}',
    doc: 'The CUDA trainer (runtime/model/cuda-llama.ts) runs head dims of 32, 64 and 128 (its fused attention kernels; RoPE with an LM-Infinite distance limit runs there as two kernel calls, the mask split at the limit). `backend cuda` with another head dim would stop before its first step (LMP_E_CONFIG_UNSUPPORTED); `backend auto` trains it on the CPU instead, with a note, and is not reported. A model that loads a checkpoint is judged at run time.' },

  // --- 08xx eval and optimize -------------------------------------------------------------
  LMP0801: { severity: 'error', title: 'unknown knob', message: "'{path}' does not name a tunable setting: {reason}" },
  LMP0802: { severity: 'error', title: 'unknown objective metric', message: "eval '{eval}' does not report metric '{metric}'", help: 'it reports: {metrics}' },
  LMP0803: { severity: 'error', title: 'objective count', message: "optimize '{decl}' needs exactly one of 'maximize' or 'minimize', found {count}" },
  LMP0804: { severity: 'error', title: 'bad vary values', message: 'vary values for {path}: {reason}' },
  LMP0805: { severity: 'error', title: 'empty hold-out', message: "'{data}.holdout' is empty: data '{data}' holds nothing out", help: "add 'holdout 2%' (a non-zero fraction) to data {data}" },
  LMP0806: { severity: 'error', title: 'length below the task minimum', message: "{task} length {length} is shorter than the task's fixed text: {need}", help: 'the prompt without filler must fit: use lengths of at least {min}',
    doc: 'The fixed text is the prompt with no filler (runtime/eval/minimum.ts builds it with the generators\' own prompt functions). Needle keys vary in length: every draw fits from the size with the longest keys, which is the minimum reported. tsort\'s words come from the data: its minimum takes one-byte words. The minima with the default parameters are in each task\'s `lengths` doc (spec/builtins.md). Checked when the model of the eval\'s `using` has the byte tokenizer (a tokenizer declaration of bytes(); or none, no checkpoint loaded, whose saved tokenizer would decide, and no train of the file training it on other data: a trained model reads its train data\'s tokenizer); other tokenizers count differently and are checked at run time (LMP_E_EVAL_LENGTH).' },

  // --- 09xx files, I/O and the command line ---------------------------------------------
  LMP0901: { severity: 'error', title: 'file not found', message: "cannot read '{path}': no such file" },
  LMP0902: { severity: 'error', title: 'is a directory', message: "'{path}' is a directory, not a .lmp file" },
  LMP0903: { severity: 'error', title: 'invalid UTF-8', message: "'{path}' is not valid UTF-8 (first bad byte at offset {offset})" },
  LMP0904: { severity: 'error', title: 'file too large', message: "'{path}' is {size} bytes; the limit is {max}" },
  LMP0905: { severity: 'warning', title: 'empty file', message: "'{path}' declares nothing" },
  LMP0906: { severity: 'error', title: 'cannot write', message: "cannot write '{path}': {reason}" },
  LMP0907: { severity: 'error', title: 'cannot read', message: "cannot read '{path}': {reason}" },
  LMP0908: { severity: 'error', title: 'not formatted: syntax errors', message: "'{path}' has syntax errors; fmt leaves it unchanged", help: 'fix the errors reported by lmpc check first' },
  LMP0909: { severity: 'error', title: 'not formatted', message: "'{path}' is not formatted", help: "run 'lmpc fmt --write {path}'" },
  LMP0910: { severity: 'error', title: 'not a train log', message: "'{path}' is not a train metrics log: {reason}", help: "plot reads the JSONL a train's 'log' clause writes" },
} as const satisfies Record<string, DiagnosticDef>;

export type DiagnosticCode = keyof typeof CATALOG;

function fill(template: string, params: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in params ? String(params[key]) : whole));
}

/** Build a diagnostic from the catalog. Every diagnostic in the toolchain goes through here. */
export function diag(
  code: DiagnosticCode,
  span: Span,
  params: Readonly<Record<string, string | number>> = {},
  extra: { notes?: readonly DiagnosticNote[]; help?: string } = {},
): Diagnostic {
  const def: DiagnosticDef = CATALOG[code];
  const help = extra.help ?? (def.help !== undefined ? fill(def.help, params) : undefined);
  return { code, severity: def.severity, message: fill(def.message, params), span, notes: extra.notes ?? [], help };
}
