/**
 * Exclusive folder locks (O_EXCL lock file holding the owner's pid, host and Slurm job). A lock whose process is
 * gone is stale; so is one held by an earlier start of this same Slurm job (a requeued task, possibly on another
 * node: Slurm counts restarts). A lock held on another host cannot be checked otherwise and counts as held.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export class LockError extends Error {
  constructor(msg: string) { super(msg); this.name = 'LockError'; }
}

export interface LockHolder { pid: number; started: string; host?: string; slurmJob?: string; slurmRestart?: string }

const slurmJob = () => process.env.SLURM_JOB_ID;
const slurmRestart = () => process.env.SLURM_RESTART_COUNT ?? '0';

/** Exclusive lock on a folder: a file created with O_EXCL holding our pid; a lock whose pid is dead is stale. */
export function acquireLock(dir: string, file = '.sweep.lock', what = 'another sweep'): () => void {
  const path = join(dir, file);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      const me: LockHolder = { pid: process.pid, started: new Date().toISOString(), host: hostname(), ...(slurmJob() ? { slurmJob: slurmJob(), slurmRestart: slurmRestart() } : {}) };
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      const release = () => { try { if (JSON.parse(readFileSync(path, 'utf8')).pid === process.pid) rmSync(path); } catch { /* already gone */ } };
      process.once('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readLock(path);
      if (holder && !isStale(holder)) throw new LockError(`${what} (pid ${holder.pid}${holder.host && holder.host !== hostname() ? ` on ${holder.host}` : ''}${holder.slurmJob ? `, Slurm job ${holder.slurmJob}` : ''}, started ${holder.started}) is writing to ${dir}; wait for it to finish, or stop it (lock: ${path})`);
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`could not take the lock ${path}`);
}

/** The holder recorded in a lock file, or null (absent or half-written). */
export function readLock(path: string): LockHolder | null {
  try { return JSON.parse(readFileSync(path, 'utf8')); } catch { return null; }
}

/** Whether a lock's holder is certainly gone: its pid is dead on this host, or it is an earlier start of our Slurm job. */
function isStale(h: LockHolder): boolean {
  if (h.slurmJob && h.slurmJob === slurmJob() && (h.slurmRestart ?? '0') !== slurmRestart()) return true;
  if (h.host && h.host !== hostname()) return false;
  return !isAlive(h.pid);
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}
