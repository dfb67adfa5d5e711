// pipeline.mjs: the esbuild bundle of pipeline.ts (platform node, ESM). The lmp runtime
// (`lmp`, `lmp/*`) and native addons (`*.node`) stay external: esbuild cannot bundle a .node
// file, and the runtime loads its addon itself. The module is given on stdin with a fixed
// virtual name, so the bundle does not depend on where it was built (deterministic output).
import { build } from 'esbuild';

export async function emitBundle(tsSource: string, baseName: string): Promise<string> {
  const r = await build({
    stdin: { contents: tsSource, loader: 'ts', sourcefile: `${baseName}.ts`, resolveDir: '/' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    absWorkingDir: '/',
    logLevel: 'silent',
    legalComments: 'inline',
    external: ['lmp', 'lmp/*', '*.node'],
  });
  const out = r.outputFiles[0];
  if (!out) throw new Error('esbuild produced no output');
  return out.text;
}
