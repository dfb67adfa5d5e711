// Output locks of a train run: one lock file per output (the checkpoint folder's `.lock`, the
// metrics log's `LOG.lock`) holding {pid, run, host, started}. The file is created with O_EXCL,
// so of two runs starting at once exactly one gets it; the other fails with LMP_E_RUN_LOCKED
// naming the run, pid and start time that hold it. A lock left by a process that no longer
// exists (same host, pid not alive) is taken over, with a note. Creating the lock file is also
// the writability check of the output before step 1: a failure is LMP0906 ("cannot write").
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { writeError } from '../fsutil.js';

export interface LockInfo {
  readonly pid: number;
  readonly run: string;
  readonly host: string;
  readonly started: string;
}

export class RunLockError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RunLockError';
  }
}

/** Lock files this process holds (a lock naming our own pid but not in here is stale). */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(path: string): LockInfo | null {
  try {
    const x = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockInfo>;
    if (typeof x.pid !== 'number' || typeof x.run !== 'string') return null;
    return { pid: x.pid, run: x.run, host: String(x.host ?? ''), started: String(x.started ?? '') };
  } catch {
    return null;
  }
}

/**
 * Take the lock file `path` for run `run` (its folder must exist). `what` names the output in
 * messages ("checkpoint folder runs/dd"). `note` receives the take-over of a stale lock.
 * Returns the release function (idempotent).
 */
export function acquireLock(path: string, run: string, what: string, note: (message: string) => void = () => {}): () => void {
  const info: LockInfo = { pid: process.pid, run, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw writeError(path, e);
      const other = readLock(path);
      const stale = other === null ? attempt > 0 : other.host === info.host && (other.pid === process.pid ? !held.has(path) : !alive(other.pid));
      if (!stale) {
        const who = other ? `run ${other.run} (pid ${other.pid}${other.host !== info.host ? ` on ${other.host}` : ''}, started ${other.started})` : 'another run';
        throw new RunLockError('LMP_E_RUN_LOCKED', `the ${what} is in use by ${who}: two runs would interleave their checkpoints and logs; wait for it to finish, or give this run another output (lock file ${path})`);
      }
      if (other === null && attempt === 0) continue; // being written right now: look once more
      note(`took over the stale lock ${path}${other ? ` of run ${other.run} (pid ${other.pid} is gone)` : ' (unreadable)'}`);
      rmSync(path, { force: true });
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(info) + '\n');
    } finally {
      closeSync(fd);
    }
    held.add(path);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held.delete(path);
      // only our own lock: a lock taken over by someone else after a crash is theirs
      if (readLock(path)?.run === run && readLock(path)?.pid === process.pid) rmSync(path, { force: true });
    };
  }
  throw new RunLockError('LMP_E_RUN_LOCKED', `the ${what} is in use by another run (lock file ${path} keeps reappearing)`);
}
