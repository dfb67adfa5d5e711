// Every rule, in the order they run (order does not change results: diagnostics are sorted).
import type { Rule } from '../context.js';
import { ArgumentsRule } from './ArgumentsRule.js';
import { ClauseCountRule } from './ClauseCountRule.js';
import { CurriculumWeightsRule } from './CurriculumWeightsRule.js';
import { DecodeSupportRule } from './DecodeSupportRule.js';
import { DecodeTokensRule } from './DecodeTokensRule.js';
import { DecomposeBoundsRule } from './DecomposeBoundsRule.js';
import { DuplicateDeclRule } from './DuplicateDeclRule.js';
import { DuplicateFilterRule } from './DuplicateFilterRule.js';
import { EmptyPackRule } from './EmptyPackRule.js';
import { EvalLengthRule } from './EvalLengthRule.js';
import { FromBaseRule } from './FromBaseRule.js';
import { HeadGroupsRule } from './HeadGroupsRule.js';
import { HoldoutRule } from './HoldoutRule.js';
import { MaskRowRule } from './MaskRowRule.js';
import { ModelShapeRule } from './ModelShapeRule.js';
import { OptimizeRule } from './OptimizeRule.js';
import { RangeRule } from './RangeRule.js';
import { RedundantMaskRule } from './RedundantMaskRule.js';
import { RepositionRule } from './RepositionRule.js';
import { RunnableRule } from './RunnableRule.js';
import { SamplerChainRule } from './SamplerChainRule.js';
import { SamplerOrderRule } from './SamplerOrderRule.js';
import { SourceMatchRule } from './SourceMatchRule.js';
import { TaskDataRule } from './TaskDataRule.js';
import { TokenizerAgreementRule } from './TokenizerAgreementRule.js';
import { TokenStringRule } from './TokenStringRule.js';
import { TokensPerStepRule } from './TokensPerStepRule.js';
import { TopOneRule } from './TopOneRule.js';
import { TrainCausalRule } from './TrainCausalRule.js';
import { CudaBackendRule } from './CudaBackendRule.js';
import { TypeRule } from './TypeRule.js';
import { UnknownBuiltinRule } from './UnknownBuiltinRule.js';
import { UnresolvedNameRule } from './UnresolvedNameRule.js';

export const ALL_RULES: readonly Rule[] = [
  DuplicateDeclRule,
  UnresolvedNameRule,
  FromBaseRule,
  ClauseCountRule,
  UnknownBuiltinRule,
  ArgumentsRule,
  TypeRule,
  RangeRule,
  DecomposeBoundsRule,
  CurriculumWeightsRule,
  TokenizerAgreementRule,
  TokensPerStepRule,
  MaskRowRule,
  TrainCausalRule,
  CudaBackendRule,
  RedundantMaskRule,
  HeadGroupsRule,
  RepositionRule,
  SamplerChainRule,
  SamplerOrderRule,
  TopOneRule,
  DuplicateFilterRule,
  TokenStringRule,
  DecodeSupportRule,
  RunnableRule,
  DecodeTokensRule,
  ModelShapeRule,
  OptimizeRule,
  HoldoutRule,
  TaskDataRule,
  EvalLengthRule,
  SourceMatchRule,
  EmptyPackRule,
];
