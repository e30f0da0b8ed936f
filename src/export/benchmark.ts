/**
 * The size / latency / accuracy table: one row per deployable model of a task (FP teacher, dynamic int8 PTQ,
 * ternary PTQ, each exported KD-QAT student), each measured on the file a deployment would load:
 *   size_mb         the model file's size on disk (10^6 bytes)
 *   latency_ms      median (and quartiles) of `reps` single-example forwards at batch 1 after `warmup`, dev
 *                   examples at the task's max length (padding included), logits read back each time
 *   throughput      examples/s of batch-32 forwards (median of `throughputReps` after one warm-up)
 *   metric          the task's dev metric (all dev examples, or the first evalLimit)
 *   latency_path    FP32 kernels / integer kernels / simulated (fake-quantized FP32): src/export/kernels.ts
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { bertForward } from '../model/bert.js';
import { loadBertDir, type LoadedModel } from '../model/checkpoint.js';
import type { Features } from '../data/features.js';
import type { TaskSpec } from '../data/tasks.js';
import { mainMetric } from '../data/metrics.js';
import { evaluate } from '../train/evaluate.js';
import { disposeBatch, makeBatch } from '../train/batches.js';
import { QUANT_DEFAULTS } from '../quant/plan.js';
import { backendInfo } from '../backend/backend.js';
import { MODEL_FILE, readExport, writeExport, type ExportContents } from './format.js';
import { studentScore, type StudentScore } from '../distill/students.js';
import { loadExportedModel, type DeployedModel } from './packed-model.js';
import { int8Contents, ternaryContents } from './ptq.js';
import { exportStudent } from './export-student.js';
import { latencyPath } from './kernels.js';

export interface BenchOptions {
  reps: number;
  warmup: number;
  throughputReps: number;
  throughputBatch: number;
  log: (s: string) => void;
}

export interface BenchRow extends Record<string, unknown> {
  model: string;
  method: string;
  size_mb: number;
  latency_ms: number;
  latency_p25_ms: number;
  latency_p75_ms: number;
  throughput_ex_s: number;
  metric: string;
  value: number;
  latency_path: string;
  backend: string;
  threads: number;
  file: string;
  /** the batch size of this row's dev evaluation */
  eval_batch: number;
  /** a KD-QAT student's own dev metric, as scored in its run (null: not a run's student, or unscored) */
  run_value: number | null;
}

/** q-quantile of xs, linear between order statistics (q = 0.5: the median) */
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b),
    p = (s.length - 1) * q,
    i = Math.floor(p);
  return s[i] + (s[Math.min(i + 1, s.length - 1)] - s[i]) * (p - i);
};

/** ms of one forward of rows idx of f, logits read back */
async function timeForward(m: DeployedModel, f: Features, regression: boolean, idx: number[]): Promise<number> {
  const b = makeBatch(f, idx, regression);
  const t0 = performance.now();
  const logits = tf.tidy(() => bertForward(m.params, m.config, b.batch, { quant: m.hooks }).logits);
  await logits.data();
  const ms = performance.now() - t0;
  logits.dispose();
  disposeBatch(b);
  return ms;
}

export interface Candidate {
  model: string;
  method: string;
  file: string;
  m: DeployedModel;
  /** dev evaluation batch size (default 32) and padding; a student's own run's metric */
  evalBatch?: number;
  dynamicPadding?: boolean;
  runValue?: number | null;
}

/**
 * Measure the candidates (see the file comment). Timings are interleaved, one forward of each model per round, so
 * that load from other processes falls on every model alike instead of on whichever ran at the time.
 */
export async function benchmarkModels(
  cands: Candidate[],
  dev: Features,
  task: TaskSpec,
  o: BenchOptions,
): Promise<BenchRow[]> {
  const regression = task.outputMode === 'regression';
  const rounds = async (what: string, n: number, warmup: number, idx: (i: number) => number[]) => {
    o.log(`latency: ${what}, ${warmup} warm-up + ${n} rounds over ${cands.length} models`);
    const times = cands.map(() => [] as number[]);
    for (let i = 0; i < warmup + n; i++) {
      for (let c = 0; c < cands.length; c++) {
        const ms = await timeForward(cands[c].m, dev, regression, idx(i));
        if (i >= warmup) times[c].push(ms);
      }
      if ((i + 1) % 10 === 0) o.log(`  round ${i + 1}/${warmup + n}`);
    }
    return times;
  };
  const lat = await rounds('batch 1', o.reps, o.warmup, (i) => [i % dev.n]);
  const B = Math.min(o.throughputBatch, dev.n);
  const thr = await rounds(`batch ${B}`, o.throughputReps, 1, () => Array.from({ length: B }, (_, i) => i));
  const info = backendInfo(),
    metric = mainMetric(task);
  const rows: BenchRow[] = [];
  for (const [
    c,
    { model, method, file, m, evalBatch = 32, dynamicPadding = false, runValue = null },
  ] of cands.entries()) {
    o.log(`dev ${metric} of ${model} on ${dev.n} examples at batch ${evalBatch}`);
    const ev = await evaluate(m.params, m.config, dev, task, evalBatch, m.hooks, dynamicPadding);
    rows.push({
      model,
      method,
      size_mb: statSync(file).size / 1e6,
      latency_ms: quantile(lat[c], 0.5),
      latency_p25_ms: quantile(lat[c], 0.25),
      latency_p75_ms: quantile(lat[c], 0.75),
      throughput_ex_s: B / (quantile(thr[c], 0.5) / 1000),
      metric,
      value: ev.metrics[metric],
      latency_path: latencyPath(m.kind === 'fp32' ? 'fp32' : m.kind === 'int8-dynamic' ? 'int8' : 'ternary'),
      backend: info.backend,
      threads: info.threads,
      file,
      eval_batch: evalBatch,
      run_value: runValue,
    });
    const r = rows[c];
    o.log(
      `  -> ${r.size_mb.toFixed(3)} MB, ${r.latency_ms.toFixed(2)} ms, ${r.throughput_ex_s.toFixed(1)} ex/s, ` +
        `${metric} ${r.value.toFixed(4)} (${r.latency_path})`,
    );
  }
  return rows;
}

/** Whether `exportDir` holds an export of `studentDir` as it is now (an export of other or older weights is redone). */
function exportMatches(exportDir: string, studentDir: string): boolean {
  if (!existsSync(join(exportDir, MODEL_FILE))) return false;
  try {
    const src = readExport(exportDir).meta.source as { student?: string; scored?: unknown };
    if (src.student !== undefined && src.student !== studentDir) return false;
    return JSON.stringify(src.scored ?? null) === JSON.stringify(studentScore(studentDir));
  } catch {
    return false;
  }
}

/** The FP teacher as a DeployedModel (its own FP32 file) */
function fpModel(t: LoadedModel): DeployedModel {
  return { kind: 'fp32', config: t.config, params: t.params, dispose: () => tf.dispose(Object.values(t.params)) };
}

/** A student to benchmark: its run folder (or null), its student folder, where its export goes, its recorded score. */
export interface BenchStudent {
  label: string;
  dir: string;
  exportDir: string;
  score: StudentScore | null;
}

/**
 * How the benchmark evaluates: one batch size (and padding) for every row, and the dev set's length and size.
 * The students' recorded evaluation by default, so that their rows reproduce their runs' metrics.
 */
export interface BenchEval {
  batchSize: number;
  dynamicPadding: boolean;
}

export interface BenchPlan {
  task: TaskSpec;
  teacherDir: string;
  students: BenchStudent[];
  outDir: string;
  dev: Features;
  eval: BenchEval;
}

/** Write (or reuse for a student: <run>/export) each quantized model's file, load them all, measure every row. */
export async function runBenchmark(p: BenchPlan, o: BenchOptions): Promise<BenchRow[]> {
  const teacher = loadBertDir(p.teacherDir);
  const cands: Candidate[] = [
    { model: 'FP32 teacher', method: 'none (FP32)', file: join(p.teacherDir, MODEL_FILE), m: fpModel(teacher) },
  ];
  try {
    const src = { teacher: p.teacherDir };
    const ev = { evalBatch: p.eval.batchSize, dynamicPadding: p.eval.dynamicPadding };
    cands[0] = { ...cands[0], ...ev };
    const add = async (
      model: string,
      method: string,
      dir: string,
      contents?: Promise<ExportContents>,
      runValue: number | null = null,
    ) => {
      if (contents) {
        o.log(`writing ${model} -> ${dir}`);
        writeExport(dir, await contents, teacher.tokenizerFile);
      }
      const m = loadExportedModel(dir);
      cands.push({ model, method, file: m.path, m, ...ev, runValue });
    };
    await add(
      'int8 dynamic PTQ',
      'int8 weights per channel, int8 activations per tensor at run time',
      join(p.outDir, 'models', 'int8-dynamic-ptq'),
      int8Contents(teacher.params, teacher.config, src),
    );
    await add(
      'ternary PTQ',
      'teacher weights ternarized, 8-bit activations, no training',
      join(p.outDir, 'models', 'ternary-ptq'),
      ternaryContents(teacher.params, teacher.config, QUANT_DEFAULTS, src),
    );
    const metric = mainMetric(p.task);
    for (const s of p.students) {
      if (!exportMatches(s.exportDir, s.dir)) {
        o.log(`exporting ${s.dir} -> ${s.exportDir}`);
        await exportStudent(s.dir, s.exportDir);
      }
      await add(
        `KD-QAT ${s.label}`,
        'ternary KD-QAT student, packed',
        s.exportDir,
        undefined,
        s.score?.metrics[metric] ?? null,
      );
    }
    return await benchmarkModels(cands, p.dev, p.task, o);
  } finally {
    for (const c of cands) c.m.dispose();
  }
}

/** output/<bert>/<task>/benchmark for a teacher at models/<bert>/<task> */
export const defaultBenchDir = (outputRoot: string, teacherDir: string, task: TaskSpec): string =>
  join(outputRoot, basename(dirname(teacherDir)), task.name, 'benchmark');
