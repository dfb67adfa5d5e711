// The IR of a checked .lmp file: what lowering (compiler/lower) produces and what the emitters
// (compiler/emit: pipeline.ts, pipeline.kernels.json) and `lmpc explain` read.
//
// Every declaration is lowered to the runtime's own spec type (runtime/entry/spec.ts): `from`
// flattened, defaults filled from the built-ins registry, units normalized (counts are integers,
// fractions in [0, 1], durations in seconds), references replaced by the referenced
// declaration's spec (the same object, so `train.model === model tiny`'s spec). Readonly; each
// spec carries `where` ("file:line:col") and each DeclIR the full source span.
import type { DeclKind, Span } from '../../grammar/ast.js';
import type {
  AnySpec,
  AttentionSpec,
  CurriculumSpec,
  DataSpec,
  DecodeSpec,
  EvalSpec,
  ModelSpec,
  OptimizeSpec,
  RunnableSpec,
  TokenizerSpec,
  TrainSpec,
} from '../../runtime/entry/spec.js';

export type {
  AnySpec,
  AttentionSpec,
  CacheSpec,
  CurriculumSpec,
  DataSpec,
  DecodeSpec,
  EvalSpec,
  Frozen,
  Json,
  ModelSpec,
  OptimizeSpec,
  OptimizerSpec,
  PositionSpec,
  RunnableSpec,
  ScheduleSpec,
  ScoreSpec,
  TaskSpec,
  TileSpec,
  TokenizerSpec,
  TrainEvalSpec,
  TrainBackend,
  TrainSpec,
} from '../../runtime/entry/spec.js';

/** The spec type of each declaration kind. */
export interface SpecOf {
  readonly tokenizer: TokenizerSpec;
  readonly data: DataSpec;
  readonly curriculum: CurriculumSpec;
  readonly attention: AttentionSpec;
  readonly model: ModelSpec;
  readonly train: TrainSpec;
  readonly decode: DecodeSpec;
  readonly eval: EvalSpec;
  readonly optimize: OptimizeSpec;
}

export interface DeclIR<K extends DeclKind = DeclKind> {
  readonly kind: K;
  readonly name: string;
  /** The declaration's span in the source (file, offsets, 1-based line and column). */
  readonly span: Span;
  readonly spec: SpecOf[K];
}

export const IR_VERSION = 1;

export interface ProgramIR {
  readonly version: typeof IR_VERSION;
  /** The source file as given to the compiler. */
  readonly file: string;
  /** Every declaration, in source order (duplicates never reach lowering: the checker rejects them). */
  readonly decls: readonly DeclIR[];
}

/** The runnable declaration kinds: each becomes one async entry point. */
export const RUNNABLE_KINDS: readonly DeclKind[] = ['train', 'decode', 'eval', 'optimize'];

export function declsOf<K extends DeclKind>(ir: ProgramIR, kind: K): readonly DeclIR<K>[] {
  return ir.decls.filter((d): d is DeclIR<K> => d.kind === kind);
}

export function findDecl(ir: ProgramIR, name: string): DeclIR | undefined {
  return ir.decls.find((d) => d.name === name);
}

export function runnableDecls(ir: ProgramIR): readonly DeclIR<'train' | 'decode' | 'eval' | 'optimize'>[] {
  return ir.decls.filter((d): d is DeclIR<'train' | 'decode' | 'eval' | 'optimize'> => RUNNABLE_KINDS.includes(d.kind));
}

export type { RunnableSpec as RunnableSpecIR };
