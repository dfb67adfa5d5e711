// The thread pool under concurrent callers and resizes (native/test/pool-stress.mjs), in a child
// process: a deadlocked pool blocks the process in native code, where no in-process test timeout
// can reach it, so the child gets a wall-clock limit and a hang is a failure that says so.
// Failed on the previous pool (shared job counters) on every seed: wrong results or a hang.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, 'pool-stress.mjs');
const addon = process.env['LMP_NATIVE_PATH'] ?? join(here, '..', '..', 'build', 'native', 'Release', 'lmp.node');

describe.runIf(existsSync(addon))('native thread pool', () => {
  for (const [threads, seed] of [
    ['1', 11],
    ['2', 12],
    ['3', 13],
    ['4', 14],
  ] as const) {
    it(`concurrent sync/async callers and resizes, starting at ${threads} thread(s): every result right, no hang`, () => {
      const r = spawnSync(process.execPath, [script, '300', String(seed)], {
        env: { ...process.env, LMP_NUM_THREADS: threads },
        encoding: 'utf8',
        timeout: 90_000,
        killSignal: 'SIGKILL',
      });
      if (r.error || r.signal) throw new Error(`pool stress did not finish (${r.signal ?? r.error?.message}): a deadlock\n${r.stderr}`);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout.trim()) as { ok: boolean; checked: number; resizes: number };
      expect(out.ok).toBe(true);
      expect(out.checked).toBeGreaterThan(300);
      expect(out.resizes).toBeGreaterThan(0);
    });
  }
});
