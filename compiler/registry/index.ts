// The one registry of built-ins and clause semantics (see README.md).
export * from './types.js';
export * from './builtins.js';
export * from './clauses.js';
export * from './bind.js';
