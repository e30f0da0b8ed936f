/**
 * The fault suite's workbench: a work folder with a few rows of GLUE RTE, a tiny sweep (`--out` a folder of its own,
 * the teacher fine-tuned from scratch once by the reference sweep and copied into every case), commands run as a
 * user runs them (each in a process group of its own, so that an injected kill takes the sweep and its runs together),
 * and the checks: results equal to the reference sweep's, no temporary or half-written file left.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../util/provenance.js';
import { TEMP_FILE } from '../util/fsx.js';

export interface Bench {
  work: string;
  glue: string;
  out: string;
  ref: string;
  env: NodeJS.ProcessEnv;
  args: string[];
  runs: string[];
}

export interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
}

/** metrics.json fields that legitimately differ between two runs of the same configuration (time, resumption). */
export const VARYING_FIELDS = ['wallTimeSec', 'trainTokensPerSec', 'resumedFromStep', 'provenance.date'];

/** A sweep of `runs` (one arm, map and output presets: the smoke grid's two runs or only the first) on `rows` rows. */
export function makeBench(work: string, glueSource: string, runs: 1 | 2): Bench {
  rmSync(work, { recursive: true, force: true });
  const glue = join(work, 'glue');
  mkdirSync(join(glue, 'RTE'), { recursive: true });
  for (const [f, n] of [
    ['train.tsv', 41],
    ['dev.tsv', 17],
  ] as const) {
    const lines = readFileSync(join(glueSource, 'RTE', f), 'utf8')
      .split('\n')
      .slice(0, n);
    writeFileSync(join(glue, 'RTE', f), lines.join('\n') + '\n');
  }
  const grid = join(work, 'grid.json');
  writeFileSync(
    grid,
    JSON.stringify({
      description: 'fault suite',
      arms: [{ arm: 'chaos', preset: runs === 2 ? ['map', 'output'] : ['map'], seed: [42] }],
    }),
  );
  const out = join(work, 'out');
  const env = {
    ...process.env,
    GLUE_DIR: glue,
    KDQAT_MODELS: join(work, 'models'),
    KDQAT_OUTPUT: join(work, 'output'),
    KDQAT_CACHE_DIR: join(work, 'cache'),
    KDQAT_FAULT: '',
  };
  const args = [
    '--task',
    'rte',
    '--bert',
    'tiny',
    '--grid',
    grid,
    '--out',
    out,
    '--train-limit',
    '32',
    '--eval-limit',
    '16',
    '--max-seq-len',
    '24',
    '--batch-size',
    '8',
    '--epochs',
    '2',
    '--eval-every',
    '2',
    '--lr',
    '1e-3',
    '--teacher-epochs',
    '1',
    '--backend',
    'cpu',
    '--jobs',
    String(runs),
    '--threads',
    '1',
    '--no-report',
  ];
  return {
    work,
    glue,
    out,
    ref: join(work, 'ref'),
    env,
    args,
    runs: runs === 2 ? ['map_s42', 'output_s42'] : ['map_s42'],
  };
}

/** Run a CLI of src/cli/ in a process group of its own; resolves when it has exited and its group is gone. */
export function runCli(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { timeoutMs?: number; onStart?: (pid: number) => void } = {},
): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'src/cli', `${cmd}.ts`), ...args], {
      cwd: PROJECT_ROOT,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid!;
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    // the timeout counts only time when the command is not stopped (SIGSTOP: the suite's own stop@ fault, or someone
    // pausing this machine's processes while benchmarking)
    let ran = 0;
    const timer = setInterval(() => {
      if (!isStopped(pid)) ran += 1000;
      if (ran > (opts.timeoutMs ?? 600_000)) {
        stderr += '\n[chaos] timed out: killed';
        killGroup(pid, 'SIGKILL');
        clearInterval(timer);
      }
    }, 1000);
    opts.onStart?.(pid);
    child.on('close', async (status, signal) => {
      clearInterval(timer);
      for (let i = 0; i < 100 && groupAlive(pid); i++) await sleep(50); // the runs of a killed sweep go with it
      resolve({ status, signal, stdout, stderr, pid });
    });
  });
}

/** The bench's sweep with `env` added (a KDQAT_FAULT); `report` writes the results table and plots too. */
export const runSweep = (
  b: Bench,
  env: Record<string, string> = {},
  opts: { report?: boolean; timeoutMs?: number; onStart?: (pid: number) => void } = {},
) => runCli('sweep', opts.report ? b.args.filter((a) => a !== '--no-report') : b.args, { ...b.env, ...env }, opts);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    /* gone */
  }
}

export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether process `pid` is stopped (SIGSTOP), from /proc. */
export function isStopped(pid: number): boolean {
  try {
    return /^\d+ \(.*\) T/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A fresh case folder: the sweep's --out with the reference's teacher copied in. */
export function freshOut(b: Bench): void {
  rmSync(b.out, { recursive: true, force: true });
  mkdirSync(b.out, { recursive: true });
  cpSync(join(b.ref, 'teachers'), join(b.out, 'teachers'), { recursive: true });
}

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

function drop(o: Record<string, unknown>, path: string): void {
  const [k, ...rest] = path.split('.');
  if (!rest.length) delete o[k];
  else if (o[k] && typeof o[k] === 'object') drop(o[k] as Record<string, unknown>, rest.join('.'));
}

/** Every run's metrics.json without VARYING_FIELDS, its log and the sha256 of its student's weights (missing: null). */
export function results(b: Bench, out = b.out): Record<string, unknown> {
  const r: Record<string, unknown> = {};
  for (const run of b.runs) {
    const dir = join(out, 'rte', run);
    if (!existsSync(join(dir, 'metrics.json'))) {
      r[run] = null;
      continue;
    }
    const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
    for (const f of VARYING_FIELDS) drop(m, f);
    r[run] = {
      metrics: m,
      log: readFileSync(join(dir, 'log.jsonl'), 'utf8'),
      student: sha(join(dir, 'student', 'model.safetensors')),
    };
  }
  return r;
}

/** Differences between two results() (empty: identical), as short strings. */
export function diffResults(a: Record<string, unknown>, b: Record<string, unknown>, where = ''): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])) {
    const x = a?.[k],
      y = b?.[k];
    if (x && y && typeof x === 'object' && typeof y === 'object')
      out.push(...diffResults(x as Record<string, unknown>, y as Record<string, unknown>, `${where}${k}.`));
    else if (JSON.stringify(x) !== JSON.stringify(y))
      out.push(`${where}${k}: ${String(JSON.stringify(x)).slice(0, 80)} vs ${String(JSON.stringify(y)).slice(0, 80)}`);
  }
  return out;
}

/**
 * Files under `dir` that a complete sweep must not leave: temp files, lock files, checkpoint state, damaged copies
 * (unless in `allow`).
 */
export function leftovers(dir: string, allow: RegExp[] = []): string[] {
  const bad: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (
        (TEMP_FILE.test(n) || /\.lock(\.\d+\.(new|stale))?$/.test(n) || n.endsWith('.damaged') || n === 'state') &&
        !allow.some((a) => a.test(p))
      )
        bad.push(p);
      if (statSync(p).isDirectory()) walk(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return bad;
}

/** Every file under `dir` with its size and content hash (to show that a command wrote nothing). */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n),
        s = statSync(p);
      if (s.isDirectory()) {
        out[p + '/'] = 'dir';
        walk(p);
      } else out[p] = `${s.size}:${sha(p)}`;
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}
