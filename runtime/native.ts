// Loader for the native addon (native/, built by cmake-js into build/native/Release/lmp.node).
//
// The addon is loaded lazily on first use, so the compiler front end (check, fmt) works on a
// machine where the addon failed to build. A missing or broken addon is a NativeUnavailableError
// with code LMP_E_NO_ADDON and the command that builds it, never a bare MODULE_NOT_FOUND.
// LMP_NATIVE_PATH overrides the location (used by developers who build one module at a time).
// LMP_SIMD_CAP ('avx512' | 'avx2' | 'scalar') and LMP_WEIGHT_STREAMS ('adjacent' | 'spread') set,
// at load, what setSimdCap / setWeightStreams set (the kernel path; how the GEMMs stream weights),
// so that `lmpc run` can be compared across them without code; a value the addon does not know is a
// NativeSettingError (LMP_E_NATIVE_ENV) naming the variable. LMP_NUM_THREADS and LMP_SPIN_US are
// read by the addon itself (native/README.md).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Everything the addon exports. Modules add their functions here as they land. */
export interface NativeAddon {
  readonly modules: readonly string[];
  /**
   * simd: what the build was compiled for; dispatch: the widest hand-written kernel path this CPU runs;
   * weightStreams: how the GEMMs stream weights from memory on this CPU (core/config.h: 'adjacent' on
   * Intel, 'spread' elsewhere); path and streams: the kernel path and weight streams in force now
   * (after setSimdCap / setForceScalar / setWeightStreams or LMP_SIMD_CAP / LMP_WEIGHT_STREAMS).
   */
  version(): {
    version: string;
    napi: number;
    simd: string;
    dispatch: 'avx512' | 'avx2' | 'scalar';
    weightStreams: 'adjacent' | 'spread';
    path: 'avx512' | 'avx2' | 'scalar';
    streams: 'adjacent' | 'spread';
    cuda: boolean;
  };
  numThreads(): number;
  setNumThreads(n: number): number;
  setForceScalar(on: boolean): void;
  /** Caps the run-time dispatched kernel path ('avx512' | 'avx2' | 'scalar'; null: no cap); returns the path now taken. */
  setSimdCap(cap: string | null): string;
  /** Sets how the GEMMs stream weights ('adjacent' | 'spread'; null: this CPU's); returns the one now used. Same bits either way. */
  setWeightStreams(layout: string | null): string;
  logSoftmaxRows(x: Float32Array, rows: number, cols: number, out?: Float32Array): Float32Array;
  // Functions of other modules are looked up by name through `nativeFn`.
  readonly [name: string]: unknown;
}

export class NativeUnavailableError extends Error {
  readonly code = 'LMP_E_NO_ADDON';
  constructor(message: string, readonly tried: readonly string[]) {
    super(message);
    this.name = 'NativeUnavailableError';
  }
}

export class NativeSettingError extends Error {
  readonly code = 'LMP_E_NATIVE_ENV';
  constructor(message: string) {
    super(message);
    this.name = 'NativeSettingError';
  }
}

/** The settings the environment asks for (see the top of this file), applied once at load. */
function applyEnv(addon: NativeAddon): void {
  for (const [name, set] of [
    ['LMP_SIMD_CAP', (v: string) => addon.setSimdCap(v)],
    ['LMP_WEIGHT_STREAMS', (v: string) => addon.setWeightStreams(v)],
  ] as const) {
    const v = process.env[name];
    if (v === undefined || v === '') continue;
    try {
      set(v);
    } catch (e) {
      throw new NativeSettingError(`lmp: ${name}=${JSON.stringify(v)} is not a setting this addon knows (${(e as Error).message}); unset it or use one of those`);
    }
  }
}

/** The package root: the nearest folder above this file holding lmp's package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native', 'CMakeLists.txt'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('lmp: cannot find the package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

function candidates(): string[] {
  const env = process.env['LMP_NATIVE_PATH'];
  if (env) return [resolve(env)];
  const root = packageRoot();
  return [join(root, 'build', 'native', 'Release', 'lmp.node'), join(root, 'build', 'native', 'lmp.node')];
}

let cached: NativeAddon | undefined;
let failure: NativeUnavailableError | undefined;

/** Load (once) and return the addon; throws NativeUnavailableError if it cannot be loaded. */
export function native(): NativeAddon {
  if (cached) return cached;
  if (failure) throw failure;
  const tried = candidates();
  const require = createRequire(import.meta.url);
  const found = tried.find((p) => existsSync(p));
  if (!found) {
    failure = new NativeUnavailableError(
      `lmp: the native addon is not built (looked for ${tried.join(', ')}). ` +
        'Run `npm run build:native` (needs cmake and a C++17 compiler), or `npm ci` which builds it.',
      tried,
    );
    throw failure;
  }
  let addon: NativeAddon;
  try {
    addon = require(found) as NativeAddon;
  } catch (e) {
    failure = new NativeUnavailableError(
      `lmp: the native addon at ${found} failed to load: ${(e as Error).message}. Rebuild it with \`npm run build:native\`.`,
      tried,
    );
    throw failure;
  }
  applyEnv(addon);
  cached = addon;
  return cached;
}

/** True when the addon can be loaded; throws only a NativeSettingError (a bad LMP_SIMD_CAP / LMP_WEIGHT_STREAMS). */
export function nativeAvailable(): boolean {
  try {
    native();
    return true;
  } catch (e) {
    if (e instanceof NativeSettingError) throw e;
    return false;
  }
}

/** A native function by name, with a clear error naming the module if this build lacks it. */
export function nativeFn<F extends (...args: never[]) => unknown>(name: string, module: string): F {
  const addon = native();
  const fn = addon[name];
  if (typeof fn !== 'function') {
    throw new NativeUnavailableError(
      `lmp: the native addon has no '${name}' (module '${module}' is not in this build: ${addon.modules.join(', ')}). Rebuild with \`npm run build:native\`.`,
      [],
    );
  }
  return fn as F;
}
