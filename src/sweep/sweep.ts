/**
 * Resumable sweeps over grids declared in experiments/*.json. Each run is a separate process (`qat` CLI), so
 * `--jobs N` runs several at once and a crash cannot take the others down; a run killed part-way resumes from its
 * last checkpoint, a finished one (metrics.json present) is skipped. One lock per output folder keeps two sweeps
 * from writing the same runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PROJECT_ROOT } from '../util/provenance.js';
import { resolveRunConfig, type ResolvedConfig } from '../train/config.js';
import { qatIdentity, runName } from './runs.js';
import { checkRunDir, runIdentity } from './identity.js';
import { resumeStep } from '../train/state.js';
import { UserError } from '../util/errors.js';
export { acquireLock } from '../util/lock.js';

export interface GridArm {
  arm: string;
  preset: string | string[];
  mapCoeff?: number | number[];
  outputCoeff?: number | number[];
  seed?: number | number[];
  config?: Record<string, unknown>;
}
export interface Grid {
  description?: string;
  arms: GridArm[];
}

export interface PlannedRun {
  arm: string;
  cfg: ResolvedConfig;
  name: string;
  dir: string;
}

/** Every run of a grid, and those not finished yet (to launch, or to resume from their checkpoint). */
export interface SweepPlan {
  runs: PlannedRun[];
  pending: PlannedRun[];
}

const ARM_KEYS = ['arm', 'preset', 'mapCoeff', 'outputCoeff', 'seed', 'config'];

export function readGrid(nameOrPath: string): { grid: Grid; path: string } {
  const path = existsSync(nameOrPath)
    ? resolve(nameOrPath)
    : join(PROJECT_ROOT, 'experiments', `${nameOrPath.replace(/\.json$/, '')}.json`);
  if (!existsSync(path)) throw new Error(`sweep grid "${nameOrPath}" not found (looked for ${path})`);
  let grid: Grid;
  try {
    grid = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(grid.arms) || grid.arms.length === 0) throw new Error(`${path}: "arms" must be a non-empty list`);
  for (const key of Object.keys(grid))
    if (!['description', 'arms'].includes(key))
      throw new Error(`${path}: unknown key "${key}" (allowed: description, arms)`);
  grid.arms.forEach((a, i) => {
    for (const k of Object.keys(a))
      if (!ARM_KEYS.includes(k))
        throw new Error(`${path}: arms[${i}] has unknown key "${k}" (allowed: ${ARM_KEYS.join(', ')})`);
    if (!a.arm || !a.preset) throw new Error(`${path}: arms[${i}] needs "arm" and "preset"`);
  });
  return { grid, path };
}

const list = <T>(v: T | T[] | undefined, dflt: T): T[] => (v === undefined ? [dflt] : Array.isArray(v) ? v : [v]);

/** Expand a grid into runs for one task (cartesian product within each arm; duplicates across arms kept once). */
export function planRuns(grid: Grid, base: ResolvedConfig, outDir: string): PlannedRun[] {
  const runs: PlannedRun[] = [];
  const seen = new Map<string, string>();
  for (const a of grid.arms) {
    for (const preset of list(a.preset, base.kd.preset))
      for (const mapCoeff of list(a.mapCoeff, 1))
        for (const outputCoeff of list(a.outputCoeff, 1))
          for (const seed of list(a.seed, base.seed)) {
            const over = { ...(a.config ?? {}) } as Record<string, Record<string, unknown>>;
            const cfg = resolveRunConfig(
              { ...over, seed, kd: { ...(over.kd ?? {}), preset, mapCoeff, outputCoeff } },
              base,
            );
            const name = runName(cfg),
              hash = runIdentity(cfg, 'qat', '').hash;
            if (seen.get(name) === hash) continue;
            if (seen.has(name))
              throw new UserError(
                `sweep grid: two arms make run ${name} with different configurations (arm ${a.arm} and an earlier ` +
                  `one); give one of them a distinct preset, coefficient or seed`,
              );
            seen.set(name, hash);
            runs.push({ arm: a.arm, cfg, name, dir: join(outDir, name) });
          }
  }
  return runs;
}

/**
 * Split planned runs into finished (same identity: reused) and pending (new, or unfinished of the same identity:
 * resumed, said with the step). Runs whose folder holds another configuration are refused all together, before any
 * work, unless forceNew (then moved to .replaced/). `teacherReady` false: the teacher is still to be fine-tuned, so
 * any existing run was made with another one.
 */
export function checkPlannedRuns(
  runs: PlannedRun[],
  teacherReady: boolean,
  forceNew: boolean,
  log: (s: string) => void,
): { pending: PlannedRun[]; finished: PlannedRun[] } {
  const pending: PlannedRun[] = [],
    finished: PlannedRun[] = [],
    refused: string[] = [];
  for (const r of runs) {
    const id = teacherReady ? qatIdentity(r.cfg) : runIdentity(r.cfg, 'qat', 'the teacher this sweep fine-tunes first');
    try {
      const state = checkRunDir(r.dir, id, forceNew, log);
      (state === 'finished' ? finished : pending).push(r);
      const from = state === 'unfinished' ? resumeStep(r.dir, (s) => log(`${r.name}: ${s}`)) : null;
      if (from !== null) log(`${r.name}: unfinished, resumes from step ${from}`);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      refused.push(e.message);
    }
  }
  if (refused.length)
    throw new UserError(`${refused.length} of ${runs.length} runs are refused:\n  ${refused.join('\n  ')}`);
  return { pending, finished };
}

/** A run is finished when its metrics.json (written last) exists. */
export const isFinished = (run: PlannedRun): boolean => existsSync(join(run.dir, 'metrics.json'));

/**
 * The command (node, then its arguments) that runs one of the project's CLIs (src/cli/<name>.ts), on a backend and
 * thread count if given.
 */
export const cliCommand = (name: string, args: string[], backend?: string, threads?: number): string[] => [
  process.execPath,
  '--import',
  'tsx',
  join(PROJECT_ROOT, 'src/cli', `${name}.ts`),
  ...args,
  ...(backend ? ['--backend', backend] : []),
  ...(threads !== undefined ? ['--threads', String(threads)] : []),
];

/** The command that trains one planned run: the same for every launcher. */
export const qatCommand = (run: PlannedRun, backend: string | undefined, threads?: number): string[] =>
  cliCommand(
    'qat',
    ['--config-json', JSON.stringify(run.cfg), '--run-dir', run.dir, '--progress-json'],
    backend,
    threads,
  );

/** The `@@progress {json}` line a run prints with --progress-json, parsed (null for any other line). */
export function parseProgressLine(line: string): ChildProgress | null {
  if (!line.startsWith('@@progress ')) return null;
  try {
    return JSON.parse(line.slice(11));
  } catch {
    return null;
  }
}

export interface ChildProgress {
  step: number;
  total: number;
  loss: number;
}

/**
 * Run one planned run as a child process (`qat` CLI), with `threads` native-kernel threads (--threads) if given.
 * Resolves on success; rejects with the child's last stderr lines on failure (a UserError when it exited 2). The child
 * exits by itself when our stdin pipe closes (i.e. when this process dies).
 */
const liveChildren = new Set<ChildProcess>();

/**
 * Send `signal` to every run child still alive (a sweep forwards its SIGINT, SIGTERM, SIGHUP: each saves and stops).
 */
export function signalChildren(signal: NodeJS.Signals): void {
  for (const c of liveChildren) {
    try {
      c.kill(signal);
    } catch {
      /* gone */
    }
  }
}

export function runChild(
  run: PlannedRun,
  backend: string | undefined,
  onProgress: (p: ChildProgress) => void,
  threads?: number,
): Promise<void> {
  return new Promise((res, rej) => {
    const [node, ...args] = qatCommand(run, backend, threads);
    // the sweep's process group (the fault suite kills a sweep with its runs); a terminal's Ctrl-C reaches a run
    // directly and again through signalChildren: the second only makes it say that it waits for its save
    const child = spawn(node, [...args, '--exit-on-stdin-close'], {
      cwd: PROJECT_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    liveChildren.add(child);
    child.on('exit', () => liveChildren.delete(child));
    let buf = '';
    const errTail: string[] = [];
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const p = parseProgressLine(line);
        if (p) onProgress(p);
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      errTail.push(...d.toString().split('\n').filter(Boolean));
      errTail.splice(0, Math.max(0, errTail.length - 20));
    });
    // a run that stopped on a user error (exit 2: bad data, a full disk, a lock held) fails as one too
    child.on('exit', (code, sig) =>
      code === 0
        ? res()
        : rej(
            new (code === 2 ? UserError : Error)(
              `run ${run.name} failed (${sig ?? `exit ${code}`}):\n  ${errTail.join('\n  ')}`,
            ),
          ),
    );
  });
}
