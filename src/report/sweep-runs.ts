/**
 * The runs of a task as table rows (output/<bert>/<task>/<run>/metrics.json): one row per run (preset,
 * coefficients, recipe, seed, best/last dev metric, teacher metric, FP-to-ternary gap), and their mean over seeds per
 * configuration; sweep-report.ts writes these as tables, plots and a page.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getTask } from '../data/tasks.js';
import { mainMetric } from '../data/metrics.js';
import { withTaskDefaults, type RunConfig } from '../train/config.js';
import { UserError } from '../util/errors.js';

interface RunMetrics {
  run: string;
  task: string;
  seed: number;
  preset: string;
  coeffs: Record<string, number>;
  config?: RunConfig;
  configHash?: string;
  best: { step: number; metrics: Record<string, number> } | null;
  last: { step: number; metrics: Record<string, number> } | null;
  teacher: { metrics: Record<string, number>; warning?: string; dir?: string };
  wallTimeSec: number;
  trainTokensPerSec: number;
  steps: number;
  provenance: { backend: string; git: { commit: string } };
}

export interface RunRow extends Record<string, unknown> {
  run: string;
  preset: string;
  map_coeff: number;
  output_coeff: number;
  seed: number;
  train_limit: number | string;
  eval_limit: number | string;
  epochs: number | null;
  max_steps: number | string;
  steps: number;
  max_seq_len: number | null;
  batch: number | null;
  lr: number | null;
  best: number;
  last: number;
  teacher: number;
  gap: number;
  best_step: number;
  wall_s: number;
  tokens_per_s: number;
}

/** The columns besides preset and coefficients that tell runs apart: one summary group per distinct combination. */
export const RECIPE_COLUMNS = [
  'train_limit',
  'eval_limit',
  'epochs',
  'max_steps',
  'max_seq_len',
  'batch',
  'lr',
] as const;

/**
 * Finished runs under outDir, one row each, ordered by preset, coefficients, recipe and seed. Runs of another task
 * than `task` are left out (and said so in `notes`); without `task`, runs of several tasks are an error.
 */
export function collectRuns(
  outDir: string,
  task?: string,
): { rows: RunRow[]; metric: string; runs: RunMetrics[]; notes: string[]; teachers?: number } {
  let runs: RunMetrics[] = [];
  const notes: string[] = [];
  for (const d of existsSync(outDir) ? readdirSync(outDir).sort() : []) {
    const p = join(outDir, d, 'metrics.json');
    if (existsSync(p)) runs.push(JSON.parse(readFileSync(p, 'utf8')));
  }
  const tasks = [...new Set(runs.map((r) => getTask(r.task).name))];
  if (task) {
    const other = runs.filter((r) => getTask(r.task).name !== getTask(task).name);
    if (other.length)
      notes.push(
        `${other.length} run(s) of another task left out: ${other.map((r) => `${r.run} (${r.task})`).join(', ')}.`,
      );
    runs = runs.filter((r) => getTask(r.task).name === getTask(task).name);
  } else if (tasks.length > 1)
    throw new UserError(
      `${outDir} holds runs of several tasks (${tasks.join(', ')}): a report is of one task; pass --task`,
    );
  if (!runs.length) return { rows: [], metric: '', runs, notes };
  const metric = mainMetric(getTask(runs[0].task));
  // the teacher of each run: its weights' hash (config.json identity), else its folder and dev metric
  const teachers = new Map<string, string[]>();
  for (const r of runs) {
    let source: unknown;
    try {
      source = JSON.parse(readFileSync(join(outDir, r.run, 'config.json'), 'utf8')).identity?.source;
    } catch {
      /* an older run: no identity */
    }
    const desc =
      `${r.teacher.dir ?? 'a teacher'} (${typeof source === 'string' ? `${source}, ` : ''}dev ${metric} ` +
      `${Number((r.teacher.metrics?.[metric] ?? NaN).toFixed(4))})`;
    teachers.set(desc, [...(teachers.get(desc) ?? []), r.run]);
  }
  if (teachers.size > 1)
    notes.push(
      `The runs distil from ${teachers.size} different teachers: ` +
        `${[...teachers].map(([d, rs]) => `${d} for ${rs.join(', ')}`).join('; ')}. "teacher" and "gap" are each ` +
        `run's own; ` +
        `no single teacher line is drawn.`,
    );
  const pick = (m: Record<string, number> | undefined) => (m ? (m[metric] ?? NaN) : NaN);
  const rows = runs.map((r): RunRow => {
    const c = r.config ? withTaskDefaults(r.config) : null;
    // the result first (the columns of the table follow this order), the recipe after
    return {
      run: r.run,
      best: pick(r.best?.metrics),
      last: pick(r.last?.metrics),
      teacher: pick(r.teacher.metrics),
      gap: pick(r.teacher.metrics) - pick(r.best?.metrics),
      best_step: r.best?.step ?? NaN,
      preset: r.preset,
      map_coeff: r.coeffs.map,
      output_coeff: r.coeffs.output,
      seed: r.seed,
      train_limit: c?.data.trainLimit ?? 'all',
      eval_limit: c?.data.evalLimit ?? 'all',
      epochs: c?.train.epochs ?? null,
      max_steps: c?.train.maxSteps ?? '-',
      steps: r.steps,
      max_seq_len: c?.data.maxSeqLen ?? null,
      batch: c?.data.batchSize ?? null,
      lr: c?.train.lr ?? null,
      wall_s: Math.round(r.wallTimeSec),
      tokens_per_s: Math.round(r.trainTokensPerSec),
    };
  });
  const key = (r: RunRow) => RECIPE_COLUMNS.map((c) => String(r[c])).join('|');
  rows.sort(
    (a, b) =>
      a.preset.localeCompare(b.preset) ||
      a.map_coeff - b.map_coeff ||
      a.output_coeff - b.output_coeff ||
      key(a).localeCompare(key(b)) ||
      a.seed - b.seed,
  );
  return { rows, metric, runs, notes, teachers: teachers.size };
}

const GROUP_COLUMNS = ['preset', 'map_coeff', 'output_coeff', ...RECIPE_COLUMNS];

/**
 * Mean over seeds per configuration (preset, coefficients, recipe): runs that share a seed are averaged into one
 * value first, so a seed run twice counts once (each such case is named in `notes`). std is over seeds (n - 1).
 */
export function seedSummary(rows: RunRow[]): {
  summary: Record<string, unknown>[];
  perSeed: RunRow[];
  notes: string[];
} {
  const groups = new Map<string, RunRow[]>();
  for (const r of rows) {
    const k = JSON.stringify(GROUP_COLUMNS.map((c) => r[c]));
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const summary: Record<string, unknown>[] = [],
    perSeed: RunRow[] = [],
    notes: string[] = [];
  const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  for (const g of groups.values()) {
    const bySeed = new Map<number, RunRow[]>();
    for (const r of g) bySeed.set(r.seed, [...(bySeed.get(r.seed) ?? []), r]);
    for (const [seed, rs] of bySeed) {
      if (rs.length > 1)
        notes.push(
          `runs ${rs.map((r) => r.run).join(', ')} have the same configuration and seed ${seed}: averaged into one ` +
            `value, counted as one seed.`,
        );
      perSeed.push({ ...rs[0], best: mean(rs.map((r) => r.best)), last: mean(rs.map((r) => r.last)) });
    }
    const seeds = perSeed.slice(perSeed.length - bySeed.size);
    // the result first (best, last, then the teacher and the gap of the mean), the configuration after
    const out: Record<string, unknown> = {};
    for (const v of ['best', 'last'] as const) {
      const xs = seeds.map((r) => r[v]),
        m = mean(xs);
      Object.assign(out, {
        [`${v}_mean`]: m,
        [`${v}_std`]: xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1)) : null,
        [`${v}_min`]: Math.min(...xs),
        [`${v}_max`]: Math.max(...xs),
      });
    }
    out.teacher = mean(g.map((r) => r.teacher));
    out.gap = (out.teacher as number) - (out.best_mean as number);
    Object.assign(out, Object.fromEntries(GROUP_COLUMNS.map((c) => [c, g[0][c]])));
    out.seeds = bySeed.size;
    out.runs = g.length;
    summary.push(out);
  }
  return { summary, perSeed, notes };
}
