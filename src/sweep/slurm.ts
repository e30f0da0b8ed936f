/**
 * Slurm plumbing: batch-script generation (every value validated, then shell-quoted) and the sbatch, squeue,
 * sacct and scancel clients, always called with argument arrays (never through a shell).
 */
import { spawnSync } from 'node:child_process';

/** Resources and behaviour of the submitted jobs (validated by the CLI, checked again here). */
export interface SlurmOptions {
  partition?: string;
  time?: string;
  cpusPerTask?: number;
  mem?: string;
  gpus?: number;
  requeue?: boolean;
  /** extra `--flag[=value]` lines for the script */
  extra?: string[];
}

/** sbatch flags the launcher sets itself (a user's --sbatch-arg may not override them). */
export const OWNED_SBATCH_FLAGS = [
  'array',
  'output',
  'error',
  'chdir',
  'open-mode',
  'job-name',
  'ntasks',
  'dependency',
  'parsable',
  'wrap',
  'requeue',
  'no-requeue',
];

export class SlurmError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'SlurmError';
  }
}

/** Why a Slurm option value is malformed, or null when it is fine. */
export function slurmOptionProblem(key: keyof SlurmOptions, value: unknown): string | null {
  const s = String(value);
  switch (key) {
    case 'partition':
      return /^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$/.test(s)
        ? null
        : `--partition must be a partition name (letters, digits, _ . -; comma-separated), got "${s}"`;
    case 'time':
      return /^(\d+-\d{1,2}(:\d{2}){0,2}|\d+(:\d{2}){0,2})$/.test(s)
        ? null
        : `--time must be a Slurm time limit such as 30, 04:00:00 or 1-12:00:00, got "${s}"`;
    case 'mem':
      return /^\d+[KMGT]?$/.test(s) ? null : `--mem must be a size such as 8G or 16000M, got "${s}"`;
    case 'cpusPerTask':
      return Number.isInteger(value) && (value as number) >= 1
        ? null
        : `--cpus-per-task must be a positive integer, got "${s}"`;
    case 'gpus':
      return Number.isInteger(value) && (value as number) >= 0
        ? null
        : `--gpus must be a non-negative integer, got "${s}"`;
    case 'requeue':
      return null;
    case 'extra': {
      const m = /^--([a-z][a-z0-9-]*)(=[A-Za-z0-9_.,:=@%/+-]+)?$/.exec(s);
      if (!m)
        return (
          `--sbatch-arg must be one sbatch option written --name or --name=value (letters, digits and _ . , : = ` +
          `@ % / + - only), got "${s}"`
        );
      return OWNED_SBATCH_FLAGS.includes(m[1]) ? `--sbatch-arg ${s}: --${m[1]} is set by the launcher itself` : null;
    }
  }
  return `unknown Slurm option ${key}`;
}

/** The first problem of a set of Slurm options, or null when all values are well-formed. */
export function slurmOptionsProblem(o: SlurmOptions): string | null {
  for (const [k, v] of Object.entries(o)) {
    for (const x of k === 'extra' ? ((v as string[] | undefined) ?? []) : v === undefined ? [] : [v]) {
      const problem = slurmOptionProblem(k as keyof SlurmOptions, x);
      if (problem) return problem;
    }
  }
  return null;
}

/** Quote a string for a POSIX shell (single quotes; embedded ones closed, escaped and reopened). */
export const shq = (s: string): string => (/^[A-Za-z0-9_./=:@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export interface ScriptSpec {
  jobName: string;
  /** stdout+stderr of each job (sbatch filename pattern: %A array job, %a task, %j job) */
  log: string;
  chdir: string;
  opts: SlurmOptions;
  /** array task ids to run and the most running at once */
  array?: { ids: number[]; throttle?: number };
  /** environment exported by the script (values quoted) */
  env: Record<string, string>;
  /** one command (argv), or one per array task id */
  command: string[] | Map<number, string[]>;
  comment: string[];
}

/** `#SBATCH` lines and a body that runs the job's command with exec (so it gets Slurm's signals itself). */
export function batchScript(s: ScriptSpec): string {
  const o = s.opts;
  const problem = slurmOptionsProblem(o);
  if (problem) throw new SlurmError(problem);
  if (!/^[A-Za-z0-9_.+-]+$/.test(s.jobName))
    throw new SlurmError(`job name "${s.jobName}" has characters Slurm scripts cannot carry`);
  for (const p of [s.log, s.chdir])
    if (/[\s'"\\$`]/.test(p))
      throw new SlurmError(
        `path "${p}" has whitespace or shell characters, which #SBATCH lines cannot carry; use a plainer folder`,
      );
  for (const k of Object.keys(s.env))
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new SlurmError(`environment variable name "${k}" is invalid`);
  const sb = [`--job-name=${s.jobName}`, `--output=${s.log}`, `--open-mode=append`, `--chdir=${s.chdir}`, '--ntasks=1'];
  if (s.array) sb.push(`--array=${s.array.ids.join(',')}${s.array.throttle ? `%${s.array.throttle}` : ''}`);
  if (o.partition) sb.push(`--partition=${o.partition}`);
  if (o.time) sb.push(`--time=${o.time}`);
  if (o.cpusPerTask) sb.push(`--cpus-per-task=${o.cpusPerTask}`);
  if (o.mem) sb.push(`--mem=${o.mem}`);
  if (o.gpus) sb.push(`--gpus=${o.gpus}`);
  sb.push(o.requeue ? '--requeue' : '--no-requeue', ...(o.extra ?? []));
  const line = (argv: string[]) => `exec ${argv.map(shq).join(' ')}`;
  const body = Array.isArray(s.command)
    ? [line(s.command)]
    : [
        'case "${SLURM_ARRAY_TASK_ID:?this script is a job array: submit it with sbatch}" in',
        ...[...s.command.entries()].map(([id, argv]) => `  ${id}) ${line(argv)} ;;`),
        '  *) echo "no run for array task $SLURM_ARRAY_TASK_ID" >&2; exit 2 ;;',
        'esac',
      ];
  return [
    '#!/bin/bash',
    ...s.comment.map((c) => `# ${c.replace(/[\r\n]+/g, ' ')}`),
    ...sb.map((f) => `#SBATCH ${f}`),
    'set -eu',
    ...Object.entries(s.env).map(([k, v]) => `export ${k}=${shq(v)}`),
    'echo "== $(date -u +%FT%TZ) job ${SLURM_JOB_ID:-?} on $(hostname)"',
    ...body,
    '',
  ].join('\n');
}

/** Run a Slurm client with an argument array; a missing client is a clear error naming --launcher local. */
export function slurmCli(
  cmd: 'sbatch' | 'squeue' | 'sacct' | 'scancel' | 'sinfo',
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, timeout: 60_000 });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new SlurmError(
        `${cmd} not found on PATH: the Slurm launcher needs the Slurm client commands (run this on the cluster's ` +
          `login node), or run the sweep on this machine with --launcher local`,
      );
    throw new SlurmError(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  }
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** Submit a batch script; returns the job id. */
export function sbatch(scriptPath: string, args: string[] = []): string {
  const r = slurmCli('sbatch', ['--parsable', ...args, scriptPath]);
  const id = /^(\d+)/.exec(r.stdout.trim())?.[1];
  if (r.status !== 0 || !id)
    throw new SlurmError(
      `sbatch ${[...args, scriptPath].join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`,
    );
  return id;
}

export interface QueueEntry {
  task: number | null;
  state: string;
  reason: string;
}

/** The jobs (one entry per array task) that Slurm still knows of for a job id; empty once it has forgotten them. */
export function squeue(jobId: string): QueueEntry[] {
  const r = slurmCli('squeue', ['--noheader', '--array', '--states=all', '--jobs', jobId, '--format=%K|%T|%r']);
  if (r.status !== 0) {
    if (/Invalid job id/i.test(r.stderr)) return [];
    throw new SlurmError(`squeue --jobs ${jobId} failed (exit ${r.status}): ${r.stderr.trim()}`);
  }
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [task, state, reason] = l.trim().split('|');
      return { task: /^\d+$/.test(task) ? Number(task) : null, state, reason: reason ?? '' };
    });
}

/** Final states from accounting (`sacct`), by array task id; null when accounting is not enabled. */
export function sacct(jobId: string): Map<number | null, { state: string; exit: string }> | null {
  const r = slurmCli('sacct', [
    '--noheader',
    '--parsable2',
    '--allocations',
    '--jobs',
    jobId,
    '--format=JobID,State,ExitCode',
  ]);
  if (r.status !== 0) return null;
  const m = new Map<number | null, { state: string; exit: string }>();
  for (const l of r.stdout.split('\n').filter(Boolean)) {
    const [id, state, exit] = l.split('|');
    const task = /_(\d+)$/.exec(id)?.[1];
    m.set(task !== undefined ? Number(task) : null, { state: state.split(' ')[0], exit });
  }
  return m;
}

/** Cancel a job, an array, or one array task (`<job>_<task>`). */
export function scancel(id: string): void {
  const r = slurmCli('scancel', [id]);
  if (r.status !== 0) throw new SlurmError(`scancel ${id} failed (exit ${r.status}): ${r.stderr.trim()}`);
}

/** Slurm job states that still hold or wait for resources, as "pending" or "running". */
export function activeState(state: string): 'pending' | 'running' | null {
  if (/^(PENDING|REQUEUED|REQUEUE_HOLD|REQUEUE_FED|SUSPENDED|STOPPED|RESV_DEL_HOLD)$/.test(state)) return 'pending';
  if (/^(RUNNING|COMPLETING|CONFIGURING|SIGNALING|STAGE_OUT|RESIZING)$/.test(state)) return 'running';
  return null;
}
