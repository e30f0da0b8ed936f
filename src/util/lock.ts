/** Exclusive folder locks (O_EXCL lock file holding the owner's pid; a lock whose process is gone is stale). */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export class LockError extends Error {
  constructor(msg: string) { super(msg); this.name = 'LockError'; }
}

/** Exclusive lock on a folder: a file created with O_EXCL holding our pid; a lock whose pid is dead is stale. */
export function acquireLock(dir: string, file = '.sweep.lock', what = 'another sweep'): () => void {
  const path = join(dir, file);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, started: new Date().toISOString() }));
      closeSync(fd);
      const release = () => { try { if (JSON.parse(readFileSync(path, 'utf8')).pid === process.pid) rmSync(path); } catch { /* already gone */ } };
      process.once('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder: { pid: number; started: string } | null = null;
      try { holder = JSON.parse(readFileSync(path, 'utf8')); } catch { /* half-written lock: treat as stale */ }
      if (holder && isAlive(holder.pid)) throw new LockError(`${what} (pid ${holder.pid}, started ${holder.started}) is writing to ${dir}; wait for it to finish, or stop it (lock: ${path})`);
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`could not take the lock ${path}`);
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

