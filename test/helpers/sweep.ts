/**
 * A tiny sweep for end-to-end tests (testbert on RTE, the smoke grid, a few steps on the cpu backend) and its results.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, GLUE_DIR } from './env.js';

export const SWEEP_ARGS = [
  '--task',
  'rte',
  '--bert',
  'testbert',
  '--grid',
  'smoke',
  '--train-limit',
  '48',
  '--eval-limit',
  '24',
  '--max-seq-len',
  '32',
  '--batch-size',
  '8',
  '--epochs',
  '2',
  '--eval-every',
  '3',
  '--lr',
  '1e-3',
  '--no-report',
  '--backend',
  'cpu',
];

/** The environment of a sweep with its models and outputs in the given folders. */
export function sweepEnv(models: string, out: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, KDQAT_MODELS: models, KDQAT_OUTPUT: out, GLUE_DIR, KDQAT_CACHE_DIR: join(out, '.cache') };
}

/** Run the sweep CLI to completion. */
export const runSweep = (e: NodeJS.ProcessEnv, args = SWEEP_ARGS) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/sweep.ts', ...args], {
    cwd: ROOT,
    env: e,
    encoding: 'utf8',
  });

/** step losses and evaluations of every finished run (timing-free), and each run's best/last metrics */
export function sweepResults(out: string): Record<string, unknown> {
  const task = join(out, 'testbert', 'rte');
  const r: Record<string, unknown> = {};
  for (const run of readdirSync(task).filter((d) => existsSync(join(task, d, 'metrics.json')))) {
    const m = JSON.parse(readFileSync(join(task, run, 'metrics.json'), 'utf8'));
    r[run] = { best: m.best, last: m.last, steps: m.steps, log: readFileSync(join(task, run, 'log.jsonl'), 'utf8') };
  }
  return r;
}
