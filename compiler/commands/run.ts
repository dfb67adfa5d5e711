// `lmpc run [FILE] [--target NAME | --all] [--set PATH=VALUE ...] [--apply RESULT.json] [--steps N] [--resume] [--backend cpu|cuda|auto] [--json]`
//
// Checks FILE, applies the --set overrides, builds it into a cache folder (.lmp-cache/ beside
// the file, or the OS temp folder when that is not writable), and runs entry points through the
// runtime's entry functions (runtime/entry) with the very specs the generated module exports.
// Without FILE (or with --default) it runs the bundled examples/quickstart.lmp: every runnable
// block in order (train, then decode with the trained model).
//
// Results go to stdout (--json: one JSON document and nothing else); progress goes to stderr,
// only when stderr is a terminal and neither --json nor CI is set. Exit codes: 0 ran, 1 the file
// has check errors, 2 usage errors (unknown target, bad --set) and run-time failures, including
// a block whose runtime is missing (LMP_E_NO_RUNTIME). Optimize blocks run through
// compiler/commands/optimize.ts (every trial patches the source like --set); `--apply FILE`
// applies a saved optimize result's best values before any --set. The
// runtime gets every declaration's spec by name (RunOptions.specs), the fallback where an eval finds
// the decode or model its `using` names.
//
// Trains: SIGINT/SIGTERM during a train finish the step in progress, write a checkpoint (the
// train's checkpoint folder, else .lmp-cache/checkpoints/NAME beside the build), print where it
// is and the command that resumes it, and exit 130 (SIGINT) or 143 (SIGTERM); a second signal
// quits at once. `--resume` continues every train of the run from its checkpoint's `latest`.
// The TTY progress line of a train shows step/total, loss, tokens/s and the ETA; the summary
// line its tokens/s.
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import type { BuildResult } from '../emit/index.js';
import { readSource } from '../io/read.js';
import { runnableDecls, type DeclIR, type ProgramIR } from '../ir/types.js';
import type { DecodeRunResult, EvalRunResult, Progress, RunResult } from '../../runtime/entry/index.js';
import type { OptimizeRunResult } from './optimize.js';
import { printReports } from './check.js';
import { contextOf, setExit, useColor, type CliContext } from './context.js';
import { applySets, SetError } from './set.js';
import { formatRankBalance } from '../../runtime/entry/ranks.js';
import { cellLabel, evalBreakdown, formatEvalBlock, metricsLine } from '../../runtime/entry/format.js';

// Loaded on use, so that registering the command (every lmpc start) does not load the emitter
// (ts-morph, esbuild) or the runtime.
const loadEmit = () => import('../emit/index.js');
const loadEntry = () => import('../../runtime/entry/index.js');
const loadOptimize = () => import('./optimize.js');

export const DEFAULT_EXAMPLE = 'examples/quickstart.lmp';

export interface RunOptionsCli {
  readonly target?: string;
  readonly all?: boolean;
  readonly default?: boolean;
  readonly set?: string[];
  readonly apply?: string;
  readonly steps?: string;
  readonly resume?: boolean;
  readonly backend?: string;
  readonly decodeBatch?: string;
  readonly json?: boolean;
  readonly cacheDir?: string;
}

function usage(ctx: CliContext, code: string, message: string): void {
  ctx.io.stderr(`lmpc: error ${code}: ${message}\n`);
  setExit(ctx, 2);
}

async function buildCached(text: string, label: string, absFile: string, cacheDir: string | undefined): Promise<BuildResult> {
  const dirs = cacheDir ? [cacheDir] : [join(dirname(absFile), '.lmp-cache'), join(tmpdir(), `lmp-cache-${createHash('sha256').update(absFile).digest('hex').slice(0, 12)}`)];
  const { buildText } = await loadEmit();
  let last: BuildResult | undefined;
  for (const outDir of dirs) {
    last = await buildText(text, label, { outDir, force: false });
    if (last.ok || !last.diagnostics.some((d) => d.code === 'LMP0906')) return last;
  }
  return last!;
}

function pickTargets(ir: ProgramIR, opts: RunOptionsCli, runAll: boolean): DeclIR<'train' | 'decode' | 'eval' | 'optimize'>[] | string {
  const runnable = runnableDecls(ir);
  const list = runnable.map((d) => `${d.kind} ${d.name}`).join(', ') || 'none';
  if (opts.target !== undefined) {
    const t = runnable.find((d) => d.name === opts.target);
    return t ? [t] : `no runnable block '${opts.target}' (runnable: ${list})`;
  }
  if (runnable.length === 0) return 'the file has no train, decode, eval or optimize block';
  if (runAll || runnable.length === 1) return [...runnable];
  return `the file has ${runnable.length} runnable blocks; pick one with --target NAME or run all with --all (runnable: ${list})`;
}

function describe(r: RunResult): string {
  if (r.kind === 'train') {
    const ran = r.steps - r.resumedFrom;
    const span = ran === 0 && r.resumedFrom > 0 ? `already at step ${r.steps} of ${r.totalSteps}` : r.resumedFrom > 0 ? `steps ${r.resumedFrom + 1}-${r.steps} of ${r.totalSteps} (resumed from step ${r.resumedFrom})` : r.steps < r.totalSteps ? `${r.steps} of ${r.totalSteps} steps` : `${r.steps} steps`;
    const loss = ran > 0 ? `, loss ${r.firstLoss.toFixed(4)} -> ${r.finalLoss.toFixed(4)}` : '';
    const rate = ran > 0 ? `, ${formatRate(r.tokensPerSec)} tokens/s` : '';
    const head = `train ${r.target} (run ${r.run}${r.backend === 'cuda' ? ', on cuda' : ''}): ${span}${r.interrupted ? ' (interrupted)' : ''}, ${r.tokens} tokens${rate}, ${r.params} parameters${loss} (${r.seconds.toFixed(1)} s)\n`;
    // Held-out evals: one line each (the same figures --json reports under `evals`).
    const evals = r.evals.map((e) => {
      return `  eval perplexity ${e.data} step ${e.step}: loss ${e.overall.loss.toFixed(4)} ppl ${e.overall.ppl.toFixed(2)}${evalBreakdown(e)}\n`;
    });
    const blocks = r.evalBlocks.map((e) => `  ${formatEvalBlock(e)}\n`);
    const ranks = r.ranks ? `  ${formatRankBalance(r.ranks)}\n` : '';
    const ck = r.checkpoint ? `  checkpoint ${relative(process.cwd(), r.checkpoint) || r.checkpoint}\n` : '';
    return head + evals.join('') + blocks.join('') + ranks + ck;
  }
  if (r.kind === 'eval') return describeEval(r);
  return describeDecode(r);
}

const weightsOf = (m: { trained: boolean; loaded: string | null }): string => (m.trained ? 'trained' : m.loaded ? `weights from ${m.loaded}` : 'untrained weights');

/**
 * Head line (models, tokens, stop), the speculation / cascade / prefill figures, then each
 * prompt with its continuation (a prompt file: one block per prompt, in input order).
 */
function describeDecode(r: DecodeRunResult): string {
  const models = r.models.length > 1 ? ` [${r.models.map((m) => `${m.role} ${m.name} (${weightsOf(m)}, cache ${m.cache})`).join(', ')}]` : r.trained ? '' : ` (${weightsOf(r)})`;
  const n = r.prompts.reduce((a, p) => a + p.tokens.length, 0);
  const what = r.prompts.length > 1 ? `${r.prompts.length} prompts, ${n} tokens` : `${r.tokens.length} tokens, stop: ${r.stopReason}`;
  let out = `decode ${r.target}${models}${r.backend === 'cuda' ? ' on cuda' : ''}: ${what} (${r.seconds.toFixed(1)} s)\n`;
  const s = r.speculation;
  if (s) out += `  speculative decoding (draft ${s.draft}): ${s.rounds} rounds, acceptance rate ${s.acceptanceRate.toFixed(3)} (${s.accepted}/${s.drafted} drafted), mean accepted length ${s.meanAccepted.toFixed(2)}, ${s.tokensPerRound.toFixed(2)} tokens per round\n`;
  const c = r.cascade;
  if (c) out += `  cascade ${c.models.join(' -> ')} defer when ${c.rule}: deferred ${c.deferred} of ${c.prompts} (rate ${c.rate.toFixed(3)}); answered by ${Object.entries(c.answeredBy).map(([m, k]) => `${m} ${k}`).join(', ')}\n`;
  const f = r.prefill;
  if (f) out += `  prefill ${f.method}: ${f.prompts} prompts, ${f.promptTokens} prompt tokens${f.method !== 'alone' ? `, ${f.tokensRun} tokens run in ${f.sequences} sequences, ${(f.seconds * 1000).toFixed(1)} ms` : ''}${f.skipped ? `, ${f.skipped} documents skipped` : ''}\n`;
  const b = r.batched;
  if (b && b.forwards > 0) out += `  batched decoding: up to ${b.size} prompts at once, ${b.steps} steps in ${b.forwards} forwards (mean batch ${(b.steps / b.forwards).toFixed(2)})\n`;
  for (const p of r.prompts) {
    const stages = p.cascade ? ` [${p.cascade.map((st) => `${st.model} ${Number.isNaN(st.statistic) ? 'no tokens' : st.statistic.toFixed(3)}${st.deferred ? ' -> defer' : ''}`).join('; ')}] answered by ${p.model}` : '';
    if (r.prompts.length > 1) out += `--- prompt ${p.index} (${p.tokens.length} tokens, stop: ${p.stopReason})${stages}\n${p.prompt}${p.text}\n`;
    else out += `${stages ? `  ${stages.trim()}\n` : ''}${p.prompt}${p.text}\n`;
  }
  return out;
}

/** 1234 -> "1234", 12345 -> "12.3k", 1.2e6 -> "1.20M". */
export function formatRate(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  return Math.round(x).toString();
}

/** Seconds as "42s", "3m05s", "2h07m". */
export function formatEta(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The TTY progress line: "train quick 17/60 [#####...............] loss 3.2145  12.3k tok/s  ETA 42s". */
export function progressLine(p: Progress, width = 20): string {
  const items = p.total > 0 ? ` ${p.step}/${p.total}` : '';
  const bar = p.total > 0 && p.phase !== 'data' ? ` [${'#'.repeat(Math.round(Math.min(1, p.step / p.total) * width)).padEnd(width, '.')}]` : '';
  const loss = p.loss !== undefined ? ` loss ${p.loss.toFixed(4)}` : '';
  const rate = p.tokensPerSec !== undefined ? `  ${formatRate(p.tokensPerSec)} tok/s` : '';
  const eta = p.etaSec !== undefined && p.step < p.total ? `  ETA ${formatEta(p.etaSec)}` : '';
  return `${p.phase} ${p.target}${items}${bar}${loss}${rate}${eta}`;
}

/** Progress on stderr, one line redrawn (at most every 100 ms, the last item always). */
function progressRenderer(write: (s: string) => void): { update: (p: Progress) => void; end: () => void } {
  let last = 0, drawn = false;
  const end = (): void => {
    if (drawn) write('\r\x1b[K');
    drawn = false;
  };
  return {
    update(p) {
      if (p.phase === 'eval' && p.message !== undefined) {
        end();
        write(`${p.message}\n`);
        return;
      }
      const now = Date.now();
      if (now - last < 100 && p.step !== p.total) return;
      last = now;
      drawn = true;
      write(`\r${progressLine(p)}\x1b[K`);
    },
    end,
  };
}

/** One shell word (quoted when it needs it). */
const shellWord = (w: string): string => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/** The command line that reruns this invocation with --resume. */
function resumeCommand(fileArg: string | undefined, opts: RunOptionsCli): string {
  const args = ['lmpc', 'run'];
  if (fileArg !== undefined) args.push(fileArg);
  else if (opts.default) args.push('--default');
  if (opts.target !== undefined) args.push('--target', opts.target);
  if (opts.all) args.push('--all');
  for (const s of opts.set ?? []) args.push('--set', s);
  if (opts.apply !== undefined) args.push('--apply', opts.apply);
  if (opts.steps !== undefined) args.push('--steps', opts.steps);
  if (opts.backend !== undefined) args.push('--backend', opts.backend);
  if (opts.decodeBatch !== undefined) args.push('--decode-batch', opts.decodeBatch);
  if (opts.cacheDir !== undefined) args.push('--cache-dir', opts.cacheDir);
  args.push('--resume');
  return args.map(shellWord).join(' ');
}

/** Head line with the overall metrics, then one line per cell (the same figures --json reports). */
function describeEval(r: EvalRunResult): string {
  const weights = r.trained ? 'trained weights' : r.loaded ? `weights from ${r.loaded}` : 'untrained weights';
  const n = r.task === 'perplexity' ? '' : `${r.samples.length} requests, `;
  const head = `eval ${r.target}: ${r.task} using ${r.using.kind} ${r.using.name} (${weights}): ${metricsLine(r.metrics)} (${n}${r.seconds.toFixed(1)} s)\n`;
  const cells = r.cells.map((c) => {
    const at = cellLabel(c);
    const count = c.tokens !== undefined ? `${c.tokens} tokens` : `${c.samples} samples`;
    return `  ${at}: ${metricsLine(c.metrics)} (${count})\n`;
  });
  return head + cells.join('');
}

export function register(program: Command): void {
  program
    .command('run')
    .description('build a .lmp file and run one of its train/decode/eval/optimize blocks (no FILE: the bundled quickstart)')
    .argument('[file]', '.lmp file (default: the bundled examples/quickstart.lmp)')
    .option('--target <name>', 'the block to run')
    .option('--all', 'run every runnable block in source order')
    .option('--default', 'run the bundled quickstart example')
    .option('--set <assignment>', 'override a setting, PATH=VALUE (repeatable)', (v: string, acc: string[] = []) => [...acc, v])
    .option('--apply <file>', 'apply a saved optimize result (its best values, as --set would; --set still wins)')
    .option('--steps <n>', 'train for N steps instead of the block\'s steps')
    .option('--resume', 'continue each train from its checkpoint folder\'s latest checkpoint (as `resume auto` does, but a train without one is an error)')
    .option('--backend <name>', 'where trains and decodes run: cpu, cuda (a GPU; an error without one) or auto (cuda when a device is found and the model runs there); overrides each train\'s `backend`')
    .option('--decode-batch <n>', 'decode blocks: prompts from data decoded together, up to N at once, their tokens in shared forwards (1..64, default 16; 16 rows per forward at most on the CPU; 1: one after another); on the CPU each prompt gets exactly the tokens it gets alone')
    .option('--cache-dir <dir>', 'where the build goes (default: .lmp-cache beside the file)')
    .option('--json', 'print only JSON on stdout')
    .action(async function (this: Command, fileArg: string | undefined, opts: RunOptionsCli) {
      const ctx = contextOf(this);
      const { packageRoot } = await loadEmit();
      const { runDecode, runEval, runTrain, Session } = await loadEntry();
      const json = opts.json === true;
      const isDefault = opts.default === true || fileArg === undefined;
      if (opts.default === true && fileArg !== undefined) return usage(ctx, 'LMP_E_USAGE', '--default takes no FILE');
      const absFile = isDefault ? join(packageRoot(), DEFAULT_EXAMPLE) : resolve(fileArg!);
      const label = isDefault ? DEFAULT_EXAMPLE : fileArg!;
      const r = readSource(absFile);
      if (!r.ok) {
        setExit(ctx, printReports([{ file: label, source: undefined, diagnostics: [r.diagnostic] }], ctx.io, json, useColor(ctx.io)));
        return;
      }
      let steps: number | undefined;
      if (opts.steps !== undefined) {
        steps = Number(opts.steps);
        if (!Number.isInteger(steps) || steps < 1) return usage(ctx, 'LMP_E_USAGE', `--steps must be a positive integer, found '${opts.steps}'`);
      }
      const backends = ['cpu', 'cuda', 'auto'] as const;
      const backend = backends.find((b) => b === opts.backend);
      if (opts.backend !== undefined && !backend) return usage(ctx, 'LMP_E_USAGE', `--backend must be cpu, cuda or auto, found '${opts.backend}'`);
      const decodeBatch = opts.decodeBatch !== undefined ? Number(opts.decodeBatch) : undefined;
      if (decodeBatch !== undefined && !(Number.isInteger(decodeBatch) && decodeBatch >= 1 && decodeBatch <= 64))
        return usage(ctx, 'LMP_E_USAGE', `--decode-batch must be an integer in 1..64, found '${opts.decodeBatch}'`);
      // The file as written must check before any override is applied.
      let text = r.text;
      const built0 = await buildCached(text, label, absFile, opts.cacheDir);
      if (!built0.ok) {
        const code = printReports([{ file: label, source: built0.source, diagnostics: built0.diagnostics }], ctx.io, json, useColor(ctx.io));
        setExit(ctx, code || 1);
        return;
      }
      let built = built0;
      if (opts.set?.length || opts.apply !== undefined) {
        const opt = await loadOptimize();
        try {
          if (opts.apply !== undefined) text = opt.applyOptimizeResult(text, label, opt.loadOptimizeResult(resolve(opts.apply)));
          if (opts.set?.length) text = applySets(text, label, opts.set);
        } catch (e) {
          if (e instanceof SetError || e instanceof opt.OptimizeError) return usage(ctx, e.code, e.message);
          throw e;
        }
        const b = await buildCached(text, label, absFile, opts.cacheDir);
        if (!b.ok) {
          setExit(ctx, printReports([{ file: label, source: b.source, diagnostics: b.diagnostics }], ctx.io, json, useColor(ctx.io)) || 1);
          return;
        }
        built = b;
      }
      const targets = pickTargets(built.ir, opts, opts.all === true || isDefault);
      if (typeof targets === 'string') return usage(ctx, 'LMP_E_TARGET', targets);
      if (opts.resume && !targets.some((t) => t.kind === 'train')) return usage(ctx, 'LMP_E_USAGE', `--resume continues a train; this run has none (${targets.map((t) => `${t.kind} ${t.name}`).join(', ')})`);

      const env = ctx.io.env ?? {};
      const progress = !json && !env['CI'] && process.stderr.isTTY === true;
      const renderer = progress ? progressRenderer(ctx.io.stderr) : null;
      const onProgress = renderer?.update;
      const onNote = (m: string): void => {
        renderer?.end();
        ctx.io.stderr(`lmpc: note: ${m}\n`);
      };
      const session = new Session();
      const baseDir = dirname(absFile);
      const specs = new Map(built.ir.decls.map((d) => [d.name, d.spec] as const));
      const results: (RunResult | OptimizeRunResult)[] = [];
      if (!json) ctx.io.stderr(`lmpc: running ${targets.map((t) => `${t.kind} ${t.name}`).join(', ')} from ${relative(process.cwd(), absFile) || absFile} (build: ${built.outDir}${built.skipped ? ', up to date' : ''})\n`);
      for (const t of targets) {
        const options = { baseDir, session, specs, onNote, ...(onProgress ? { onProgress } : {}), ...(steps !== undefined ? { steps } : {}), ...(backend !== undefined ? { backend } : {}), ...(decodeBatch !== undefined ? { decodeBatch } : {}) };
        try {
          let res: RunResult;
          switch (t.kind) {
            case 'train': {
              const stop = new AbortController();
              const onSignal = (sig: NodeJS.Signals): void => {
                // one graceful stop; a second signal gets Node's default (quit at once)
                process.off('SIGINT', onSignal);
                process.off('SIGTERM', onSignal);
                renderer?.end();
                ctx.io.stderr(`lmpc: ${sig}: finishing the step in progress, then writing a checkpoint (${sig === 'SIGINT' ? 'Ctrl-C' : sig} again quits at once)\n`);
                stop.abort(sig);
              };
              process.on('SIGINT', onSignal);
              process.on('SIGTERM', onSignal);
              try {
                res = await runTrain(t.spec as DeclIR<'train'>['spec'], {
                  ...options,
                  signal: stop.signal,
                  checkpointDir: join(built.outDir, 'checkpoints', t.name),
                  ...(opts.resume ? { resume: true } : {}),
                });
              } finally {
                process.off('SIGINT', onSignal);
                process.off('SIGTERM', onSignal);
                renderer?.end();
              }
              if (res.interrupted) {
                results.push(res);
                if (!json) ctx.io.stdout(describe(res));
                const i = res.interrupted;
                const where = i.checkpoint ? `checkpoint written to ${relative(process.cwd(), i.checkpoint) || i.checkpoint}` : res.steps === 0 ? 'nothing to save (no step had finished)' : 'nothing saved';
                ctx.io.stderr(`lmpc: train ${t.name} interrupted (${i.reason}) after step ${res.steps} of ${res.totalSteps}; ${where}\n`);
                if (i.checkpoint) ctx.io.stderr(`lmpc: resume with: ${resumeCommand(fileArg, opts)}\n`);
                if (json) ctx.io.stdout(JSON.stringify({ file: label, build: built.outDir, results, interrupted: { target: t.name, ...i, resume: i.checkpoint ? resumeCommand(fileArg, opts) : null } }, null, 2) + '\n');
                setExit(ctx, i.reason === 'SIGTERM' ? 143 : 130);
                return;
              }
              break;
            }
            case 'decode':
              res = await runDecode(t.spec as DeclIR<'decode'>['spec'], options);
              break;
            case 'eval':
              res = await runEval(t.spec as DeclIR<'eval'>['spec'], options);
              break;
            case 'optimize': {
              // Each trial re-checks and re-lowers the source with the knobs' values (--set's
              // patching), so the driver lives in the compiler (compiler/commands/optimize.ts).
              const { runOptimizeBlock, describeOptimize } = await loadOptimize();
              const o = await runOptimizeBlock(text, label, t.spec as DeclIR<'optimize'>['spec'], { baseDir, session, ...(json ? {} : { onProgress: (m: string) => ctx.io.stderr(`${m}\n`) }) });
              results.push(o);
              if (!json) ctx.io.stdout(describeOptimize(o));
              continue;
            }
          }
          results.push(res);
          renderer?.end();
          if (!json) ctx.io.stdout(describe(res));
        } catch (e) {
          renderer?.end();
          const err = e as { code?: string; message?: string };
          if (json) ctx.io.stdout(JSON.stringify({ file: label, results, error: { code: err.code ?? 'LMP_E_RUNTIME', message: err.message ?? String(e) } }, null, 2) + '\n');
          else ctx.io.stderr(`lmpc: error ${err.code ?? 'LMP_E_RUNTIME'}: ${err.message ?? String(e)}\n`);
          setExit(ctx, 2);
          return;
        }
      }
      if (json) ctx.io.stdout(JSON.stringify({ file: label, build: built.outDir, results }, null, 2) + '\n');
      setExit(ctx, 0);
    });
}
