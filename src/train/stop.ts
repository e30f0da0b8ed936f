/**
 * Graceful stop of a training run on SIGINT (Ctrl-C), SIGTERM (what Slurm sends at a time limit, on preemption or on
 * scancel, before SIGKILL after its grace time) and SIGHUP (a closed terminal): the signal only raises a flag; the
 * trainer checks it between steps, saves a checkpoint there and throws TrainingStopped, so the run folder's lock is
 * released on the way out and the next start resumes from that step with identical results. A second signal while
 * the step finishes or the checkpoint is written only says that it is waiting; a third exits at once (the checkpoint
 * files are written atomically: the previous complete checkpoint is kept).
 */

let requested: NodeJS.Signals | null = null;
let extra = 0;
let saving = false;

/** Work stopped by a signal after saving what it had: CLIs print the message (one line) and exit 128 + the signal. */
export class Interrupted extends Error {
  constructor(
    message: string,
    readonly signal: string,
  ) {
    super(message);
    this.name = 'Interrupted';
  }
}

/** Thrown by the trainer after it saved its state because a stop was requested. */
export class TrainingStopped extends Interrupted {
  constructor(
    readonly runDir: string,
    readonly step: number,
    signal: string,
  ) {
    super(
      `interrupted at step ${step}: saved; run the same command to resume (${signal}; checkpoint in ${runDir}/state)`,
      signal,
    );
    this.name = 'TrainingStopped';
  }
}

/** The signals that stop a run at its next step boundary. */
export const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Exit status of a process stopped by `signal` (128 + its number, as a shell reports it). */
export const stoppedExitCode = (signal: string): number =>
  128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15, SIGUSR1: 10, SIGUSR2: 12 } as Record<string, number>)[signal];

/**
 * Make `signals` request a stop at the next step boundary instead of killing the process (CLIs call this).
 * `what` names the work waited for in the message of a second signal.
 */
export function stopOnSignals(
  signals: NodeJS.Signals[] = STOP_SIGNALS,
  what = 'the current step and the checkpoint',
): void {
  for (const s of signals)
    process.on(s, () => {
      if (requested) {
        if (++extra >= 2) {
          console.error(`received ${s} a third time: exiting now without a new checkpoint (the previous one is kept)`);
          process.exit(stoppedExitCode(requested));
        }
        console.error(
          `received ${s} again: waiting for ${saving ? 'the checkpoint being saved' : what} (${s} once more exits at ` +
            `once, without it)`,
        );
        return;
      }
      console.error(`received ${s}: saving a checkpoint after the current step, then exiting`);
      requested = s;
    });
}

/** The signal that requested a stop, or null. */
export const stopRequested = (): NodeJS.Signals | null => requested;

/** The trainer says when it writes the stop checkpoint (for the message of a second signal). */
export const markSaving = (on: boolean): void => {
  saving = on;
};
