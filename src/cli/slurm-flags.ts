/**
 * The sweep's launcher flags (--launcher local|slurm, Slurm resources, --status, --wait), validated into one
 * object before anything is trained or submitted: a malformed or misplaced flag is a UsageError.
 */
import { slurmCli, slurmOptionsProblem, type SlurmOptions } from '../sweep/slurm.js';
import { num, UsageError, type FlagSpec } from './common.js';

export const LAUNCH_FLAGS: FlagSpec = {
  launcher: {
    type: 'string',
    help: 'local (default: child processes on this machine) or slurm (one Slurm job array; needs sbatch)',
  },
  partition: { type: 'string', help: 'slurm: partition of the jobs' },
  time: { type: 'string', help: 'slurm: time limit per job, e.g. 04:00:00 (a stopped run resumes when resubmitted)' },
  'cpus-per-task': { type: 'string', help: 'slurm: CPUs per job', num: { kind: 'int', min: 1 } },
  mem: { type: 'string', help: 'slurm: memory per job, e.g. 8G' },
  gpus: { type: 'string', help: 'slurm: GPUs per job', num: { kind: 'int', min: 0 } },
  'sbatch-arg': {
    type: 'string',
    multiple: true,
    help: 'slurm: one more sbatch option, --name=value (repeatable), e.g. --sbatch-arg=--account=nlp',
  },
  requeue: {
    type: 'boolean',
    help: 'slurm: let Slurm requeue a preempted or failed-node job by itself (it resumes from its checkpoint)',
  },
  status: {
    type: 'boolean',
    help:
      'print the state of each run of the submitted array (pending, running, done, failed), its task id and log; ' +
      'once every run is done, also write the report (unless --no-report)',
  },
  wait: { type: 'boolean', help: 'follow the submitted array until it ends (progress line), then write the report' },
};

export type LaunchMode =
  | { mode: 'local' }
  | { mode: 'slurm'; opts: SlurmOptions; wait: boolean; threads: number }
  | { mode: 'status' }
  | { mode: 'follow' };

const SLURM_ONLY = ['partition', 'time', 'cpus-per-task', 'mem', 'gpus', 'sbatch-arg', 'requeue'];

/** Read and validate the launcher flags; with --launcher slurm also checks that sbatch exists. */
export function launchFromFlags(v: Record<string, unknown>): LaunchMode {
  const launcher = v.launcher ?? 'local';
  if (launcher !== 'local' && launcher !== 'slurm')
    throw new UsageError(`--launcher must be local or slurm, got "${String(launcher)}"`);
  const given = SLURM_ONLY.filter((k) => v[k] !== undefined);
  if (v.status) {
    if (v.launcher !== undefined || v.wait || given.length)
      throw new UsageError(
        '--status reads the state of the submitted array: use it without --launcher, --wait and Slurm resources',
      );
    return { mode: 'status' };
  }
  if (launcher === 'local') {
    if (given.length) throw new UsageError(`--${given[0]} is a Slurm option: add --launcher slurm`);
    return v.wait ? { mode: 'follow' } : { mode: 'local' };
  }
  const opts: SlurmOptions = {
    partition: v.partition as string | undefined,
    time: v.time as string | undefined,
    mem: v.mem as string | undefined,
    cpusPerTask: num(v, 'cpus-per-task', 'int'),
    gpus: num(v, 'gpus', 'int'),
    requeue: v.requeue === true,
    extra: (v['sbatch-arg'] as string[] | undefined) ?? [],
  };
  const problem = slurmOptionsProblem(opts);
  if (problem) throw new UsageError(problem);
  const threads = num(v, 'threads', 'int') ?? opts.cpusPerTask ?? 1; // a job's native threads: what it was given
  if (threads < 1) throw new UsageError(`--threads must be at least 1, got ${threads}`);
  slurmCli('sbatch', ['--version']); // a missing sbatch: the clear error, before anything else happens
  return { mode: 'slurm', opts, wait: v.wait === true, threads };
}
