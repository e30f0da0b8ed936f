/**
 * What both sweep launchers (local child processes, Slurm job arrays) share: which runs are still to do, the
 * sweep-folder lock, and the progress display. Each run is the same `qat` command (sweep.ts qatCommand), which
 * skips a finished run and resumes an unfinished one from its last checkpoint.
 */
import { mkdirSync } from 'node:fs';
import { Progress } from '../util/progress.js';
import { acquireLock } from '../util/lock.js';
import { UserError } from '../util/errors.js';
import { STOP_SIGNALS, Interrupted, stopRequested } from './stop.js';
import {
  checkPlannedRuns,
  isFinished,
  planRuns,
  runChild,
  signalChildren,
  type ChildProgress,
  type Grid,
  type PlannedRun,
} from './sweep.js';
import type { RunConfig } from './config.js';
import { assertNoActiveArray } from './slurm-sweep.js';

export interface SweepPlan {
  runs: PlannedRun[];
  pending: PlannedRun[];
}

/**
 * Every run of the grid, and those not finished yet (to launch, or to resume from their checkpoint). With `check`,
 * by run identity (train/identity.ts): a finished run counts only with the same configuration, and folders holding
 * another configuration are refused (or moved aside with forceNew).
 */
export function planSweep(
  grid: Grid,
  base: RunConfig,
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

/** One progress line for a whole sweep: runs done, plus the finished fraction of the runs under way. */
export class SweepProgress {
  private readonly bar: Progress;
  private readonly live = new Map<string, ChildProgress | string>();
  private done: number;

  constructor(total: number, doneBefore: number) {
    this.bar = new Progress({ total, label: 'runs' });
    this.done = doneBefore;
    this.draw();
  }

  /** A run under way: its latest progress, or a word (starting, pending) until it has one. */
  set(name: string, p: ChildProgress | string): void {
    this.live.set(name, p);
    this.draw();
  }

  /** A run that ended (finished or failed); `count` false for work that is not one of the runs (a teacher job). */
  finish(name: string, count = true): void {
    if (!this.live.delete(name) && !count) return;
    if (count) this.done++;
    this.draw();
  }

  /** Redraw (also called by set and finish). */
  draw(): void {
    const cur = [...this.live.entries()]
      .map(([n, p]) =>
        typeof p === 'string'
          ? `${n} ${p}`
          : p.total
            ? `${n} ${p.step}/${p.total} loss ${p.loss.toPrecision(4)}`
            : `${n} starting`,
      )
      .join(' | ');
    const partial = [...this.live.values()].reduce(
      (a, p) => a + (typeof p !== 'string' && p.total ? p.step / p.total : 0),
      0,
    );
    this.bar.update(Math.round((this.done + partial) * 100) / 100, { current: cur || '-' });
  }

  /** Final line. */
  end(): void {
    this.bar.done();
  }
}

/** The local launcher: run `pending` with at most `jobs` child processes (each with `threads` native threads if given). */
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
      `interrupted: ${saved.length ? `${saved.join(', ')} saved` : 'no run was under way'}${other ? `; ${other} other run(s) failed` : ''}; run the same command to resume`,
      stop,
    );
  }
  if (pending.length)
    console.error(`sweep: ${pending.length} runs in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const msg = `${failures.length} of ${pending.length} runs failed:\n${failures.map((e) => e.message).join('\n')}`;
  if (failures.length) throw failures.every((e) => e instanceof UserError) ? new UserError(msg) : new Error(msg);
}
