/**
 * Graceful stop of a training run on SIGTERM (what Slurm sends at a time limit, on preemption or on scancel, before
 * SIGKILL after its grace time): the signal only raises a flag; the trainer checks it between steps, saves a
 * checkpoint there and throws TrainingStopped, so the next start resumes from that step with identical results.
 */

let requested: NodeJS.Signals | null = null;

/** Thrown by the trainer after it saved its state because a stop was requested. */
export class TrainingStopped extends Error {
  constructor(readonly runDir: string, readonly step: number, readonly signal: string) {
    super(`stopped by ${signal} at step ${step}; its checkpoint is saved in ${runDir}/state: start the same run again to resume`);
    this.name = 'TrainingStopped';
  }
}

/** Exit status of a process stopped by `signal` (128 + its number, as a shell reports it). */
export const stoppedExitCode = (signal: string): number => 128 + ({ SIGTERM: 15, SIGINT: 2, SIGUSR1: 10, SIGUSR2: 12 } as Record<string, number>)[signal];

/** Make `signals` request a stop at the next step boundary instead of killing the process (CLIs call this). */
export function stopOnSignals(signals: NodeJS.Signals[] = ['SIGTERM']): void {
  for (const s of signals) process.on(s, () => {
    if (requested) process.exit(stoppedExitCode(s)); // a second signal: stop at once
    console.error(`received ${s}: saving a checkpoint after the current step, then exiting`);
    requested = s;
  });
}

/** The signal that requested a stop, or null. */
export const stopRequested = (): NodeJS.Signals | null => requested;
