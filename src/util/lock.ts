/**
 * Exclusive folder locks (a lock file, created atomically, holding the owner's pid, host and Slurm job). A lock whose
 * process is gone is stale; so is one held by an earlier start of this same Slurm job (a requeued task, possibly on
 * another node: Slurm counts restarts). A lock held on another host cannot be checked otherwise and counts as held.
 */
import { existsSync, linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export class LockError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'LockError';
  }
}

export interface LockHolder {
  pid: number;
  started: string;
  host?: string;
  slurmJob?: string;
  slurmRestart?: string;
}

const slurmJob = () => process.env.SLURM_JOB_ID;
const slurmRestart = () => process.env.SLURM_RESTART_COUNT ?? '0';

/**
 * Exclusive lock on a folder: a lock file holding our pid, created complete (written to a temp file, then hard-linked
 * into place, which fails if the lock exists), so another process never reads a half-written lock. A lock whose
 * holder is gone (stale) is broken, said by `log`; one that cannot be read is refused, naming the file.
 */
export function acquireLock(
  dir: string,
  file = '.sweep.lock',
  what = 'another sweep',
  log: (s: string) => void = (s) => console.error(s),
): () => void {
  const path = join(dir, file);
  const me: LockHolder = {
    pid: process.pid,
    started: new Date().toISOString(),
    host: hostname(),
    ...(slurmJob() ? { slurmJob: slurmJob(), slurmRestart: slurmRestart() } : {}),
  };
  const tmp = `${path}.${process.pid}.new`;
  writeFileSync(tmp, JSON.stringify(me));
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(tmp, path);
        const release = () => {
          try {
            if (JSON.parse(readFileSync(path, 'utf8')).pid === process.pid) rmSync(path);
          } catch {
            /* already gone */
          }
        };
        process.once('exit', release);
        return release;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = readLock(path);
      if (holder === null) {
        if (!existsSync(path)) continue; // released meanwhile
        throw new LockError(
          `the lock file ${path} cannot be read (damaged?); if no sweep or run is writing to ${dir}, remove it`,
        );
      }
      if (!isStale(holder))
        throw new LockError(
          `${what} (pid ` +
            `${holder.pid}${holder.host && holder.host !== hostname() ? ` on ${holder.host}` : ''}` +
            `${holder.slurmJob ? `, Slurm job ${holder.slurmJob}` : ''}, ` +
            `started ${holder.started}) is writing to ${dir}; wait for it to finish, or stop it (lock: ${path})`,
        );
      if (breakStale(path, holder))
        log(
          `removed the stale lock ${path} of pid ${holder.pid} (started ${holder.started}), which is no longer running`,
        );
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  throw new Error(`could not take the lock ${path}`);
}

/**
 * Remove a stale lock, unless another process replaced it meanwhile: it is renamed aside first (atomic) and put back
 * if what was renamed is not the stale holder's. Returns whether this process removed it.
 */
function breakStale(path: string, stale: LockHolder): boolean {
  const aside = `${path}.${process.pid}.stale`;
  try {
    renameSync(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  const got = readLock(aside);
  if (got && (got.pid !== stale.pid || got.started !== stale.started)) {
    try {
      linkSync(aside, path);
    } catch {
      /* a third process holds it now */
    }
  }
  rmSync(aside, { force: true });
  return !got || (got.pid === stale.pid && got.started === stale.started);
}

/** The holder recorded in a lock file, or null (absent or half-written). */
export function readLock(path: string): LockHolder | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Whether a lock's holder is certainly gone: its pid is dead on this host, or it is an earlier start of our Slurm job.
 */
function isStale(h: LockHolder): boolean {
  if (h.slurmJob && h.slurmJob === slurmJob() && (h.slurmRestart ?? '0') !== slurmRestart()) return true;
  if (h.host && h.host !== hostname()) return false;
  return !isAlive(h.pid);
}

/** Whether process `pid` exists on this host. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
