// Chevrotain, loaded from the single-file ESM build the package ships (lib/chevrotain.mjs).
// The package's entry (lib/src/api.js) imports lodash-es, which Node loads as ~650 separate
// modules: about three quarters of `lmpc check`'s start-up. The bundle is the same release's
// code in one file; the types are the package's own. lexer.ts and parser.ts import Chevrotain
// only from here, so every class and token type comes from one copy.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type * as Chevrotain from 'chevrotain';

// The package's exports map hides lib/chevrotain.mjs, so find it beside the resolved entry.
const entry = createRequire(import.meta.url).resolve('chevrotain');
const chevrotain = (await import(new URL('../chevrotain.mjs', pathToFileURL(entry)).href)) as typeof Chevrotain;

export const { createToken, EmbeddedActionsParser, EOF, isRecognitionException, Lexer, tokenLabel, tokenMatcher } = chevrotain;
export type { IOrAlt, IParserErrorMessageProvider, IToken, TokenType } from 'chevrotain';
