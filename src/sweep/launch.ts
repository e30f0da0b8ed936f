/**
 * What both sweep launchers (local child processes, Slurm job arrays) share: which runs are still to do, the
 * sweep-folder lock, and the progress display. Each run is the same `qat` command (sweep.ts qatCommand), which
 * skips a finished run and resumes an unfinished one from its last checkpoint.
 */
import { mkdirSync } from 'node:fs';
import { acquireLock } from '../util/lock.js';
import { UserError } from '../util/errors.js';
import { STOP_SIGNALS, Interrupted, stopRequested } from '../train/stop.js';
import {
  checkPlannedRuns,
  isFinished,
  planRuns,
  runChild,
  signalChildren,
  type Grid,
  type SweepPlan,
} from './sweep.js';
import { SweepProgress } from './progress.js';
import type { ResolvedConfig } from '../train/config.js';
import { assertNoActiveArray } from './slurm-sweep.js';

/**
 * Every run of the grid, and those not finished yet (to launch, or to resume from their checkpoint). With `check`,
 * by run identity (identity.ts): a finished run counts only with the same configuration, and folders holding
 * another configuration are refused (or moved aside with forceNew).
 */
export function planSweep(
  grid: Grid,
  base: ResolvedConfig,
  outDir: string,
  check?: { teacherReady: boolean; forceNew: boolean; log: (s: string) => void },
): SweepPlan {
  const runs = planRuns(grid, base, outDir);
  if (check) return { runs, pending: checkPlannedRuns(runs, check.teacherReady, check.forceNew, check.log).pending };
  return { runs, pending: runs.filter((r) => !isFinished(r)) };
}

/** Lock a sweep folder for this process; refuses while another sweep or a Slurm array of this folder is active. */
export function lockSweepFolder(outDir: string): () => void {
  mkdirSync(outDir, { recursive: true });
  const release = acquireLock(outDir);
  try {
    assertNoActiveArray(outDir);
  } catch (e) {
    release();
    throw e;
  }
  return release;
}

/**
 * The local launcher: run `pending` with at most `jobs` child processes (each with `threads` native threads if given).
 */
export async function runLocal(
  plan: SweepPlan,
  jobs: number,
  backend: string | undefined,
  threads?: number,
): Promise<void> {
  const { pending } = plan;
  const progress = new SweepProgress(plan.runs.length, plan.runs.length - pending.length);
  let next = 0;
  const failures: Error[] = [];
  const t0 = performance.now();
  const worker = async () => {
    while (next < pending.length && !stopRequested()) {
      // after a stop signal, no new run starts
      const run = pending[next++];
      progress.set(run.name, 'starting');
      try {
        await runChild(run, backend, (p) => progress.set(run.name, p), threads);
      } catch (e) {
        failures.push(e as Error);
      }
      progress.finish(run.name);
    }
  };
  // a stop signal (SIGINT, SIGTERM, SIGHUP) goes on to the runs under way: each saves a checkpoint and stops
  const forward = (s: NodeJS.Signals) => signalChildren(s);
  for (const s of STOP_SIGNALS) process.on(s, forward);
  try {
    await Promise.all(Array.from({ length: Math.min(jobs, pending.length) }, worker));
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, forward);
  }
  progress.end();
  const stop = stopRequested();
  if (stop) {
    const saved = failures
      .map((e) => /^run (\S+) failed[\s\S]*interrupted at step (\d+): saved/.exec(e.message))
      .filter((m) => m !== null)
      .map((m) => `${m[1]} at step ${m[2]}`);
    const other = failures.length - saved.length;
    throw new Interrupted(
      `interrupted: ${saved.length ? `${saved.join(', ')} saved` : 'no run was under way'}` +
        `${other ? `; ${other} other run(s) failed` : ''}; run the same command to resume`,
      stop,
    );
  }
  if (pending.length)
    console.error(`sweep: ${pending.length} runs in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const msg = `${failures.length} of ${pending.length} runs failed:\n${failures.map((e) => e.message).join('\n')}`;
  if (failures.length) throw failures.every((e) => e instanceof UserError) ? new UserError(msg) : new Error(msg);
}
