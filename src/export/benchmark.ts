/**
 * The size / latency / accuracy table: one row per deployable model of a task (FP teacher, dynamic int8 PTQ,
 * ternary PTQ, each exported KD-QAT student), each measured on the file a deployment would load:
 *   size_mb         the model file's size on disk (10^6 bytes)
 *   latency_ms      median (and sample std) over `reps` single-example forwards at batch 1 after `warmup`, dev
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
import { backendInfo } from '../util/backend.js';
import { MODEL_FILE, writeExport, type ExportContents } from './format.js';
import { loadExportedModel, type DeployedModel } from './packed-model.js';
import { int8Contents, ternaryContents } from './ptq.js';
import { exportStudent } from './export-student.js';
import { latencyPath } from './kernels.js';

export interface BenchOptions { reps: number; warmup: number; throughputReps: number; throughputBatch: number; log: (s: string) => void }

export interface BenchRow extends Record<string, unknown> {
  model: string; method: string; size_mb: number; latency_ms: number; latency_sd_ms: number; throughput_ex_s: number;
  metric: string; value: number; latency_path: string; backend: string; threads: number; file: string;
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const h = s.length >> 1; return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2; };
const sd = (xs: number[]) => { const m = xs.reduce((a, x) => a + x, 0) / xs.length; return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(1, xs.length - 1)); };

/** ms of each of `n` forwards of rows idx(i) of f (after `warmup` untimed ones) */
async function timeForwards(m: DeployedModel, f: Features, regression: boolean, idx: (i: number) => number[], warmup: number, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < warmup + n; i++) {
    const b = makeBatch(f, idx(i), regression);
    const t0 = performance.now();
    const logits = tf.tidy(() => bertForward(m.params, m.config, b.batch, { quant: m.hooks }).logits);
    await logits.data();
    const ms = performance.now() - t0;
    logits.dispose(); disposeBatch(b);
    if (i >= warmup) times.push(ms);
  }
  return times;
}

/** Measure one model (see the file comment). */
export async function benchmarkModel(model: string, method: string, m: DeployedModel, file: string, dev: Features, task: TaskSpec, o: BenchOptions): Promise<BenchRow> {
  const regression = task.outputMode === 'regression';
  o.log(`  ${model}: latency at batch 1 (${o.warmup} warm-up + ${o.reps})`);
  const lat = await timeForwards(m, dev, regression, (i) => [i % dev.n], o.warmup, o.reps);
  const B = Math.min(o.throughputBatch, dev.n);
  o.log(`  ${model}: throughput at batch ${B} (1 warm-up + ${o.throughputReps})`);
  const thr = await timeForwards(m, dev, regression, () => Array.from({ length: B }, (_, i) => i), 1, o.throughputReps);
  o.log(`  ${model}: dev ${mainMetric(task)} on ${dev.n} examples`);
  const ev = await evaluate(m.params, m.config, dev, task, 32, m.hooks);
  const info = backendInfo();
  return {
    model, method, size_mb: statSync(file).size / 1e6, latency_ms: median(lat), latency_sd_ms: sd(lat), throughput_ex_s: B / (median(thr) / 1000),
    metric: mainMetric(task), value: ev.metrics[mainMetric(task)], latency_path: latencyPath(m.kind !== 'fp32'),
    backend: info.backend, threads: info.threads, file,
  };
}

/** The FP teacher as a DeployedModel (its own FP32 file) */
function fpModel(t: LoadedModel): DeployedModel {
  return { kind: 'fp32', config: t.config, params: t.params, dispose: () => tf.dispose(Object.values(t.params)) };
}

export interface BenchPlan { task: TaskSpec; teacherDir: string; students: string[]; outDir: string; dev: Features }

/** Write (or reuse for a student: <run>/export) each quantized model's file, then measure every row. */
export async function runBenchmark(p: BenchPlan, o: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const total = 3 + p.students.length;
  let k = 0;
  const measure = async (model: string, method: string, dir: string, load: () => DeployedModel, file = join(dir, MODEL_FILE)) => {
    o.log(`[${++k}/${total}] ${model} (${method})`);
    const m = load();
    try { rows.push(await benchmarkModel(model, method, m, file, p.dev, p.task, o)); } finally { m.dispose(); }
    const r = rows[rows.length - 1];
    o.log(`  -> ${r.size_mb.toFixed(3)} MB, ${r.latency_ms.toFixed(2)} ms, ${r.throughput_ex_s.toFixed(1)} ex/s, ${r.metric} ${r.value.toFixed(4)} (${r.latency_path})`);
  };
  const teacher = loadBertDir(p.teacherDir);
  const write = async (name: string, contents: Promise<ExportContents>) => { const d = join(p.outDir, 'models', name); writeExport(d, await contents, teacher.tokenizerFile); return d; };
  const src = { teacher: p.teacherDir };
  const int8Dir = await write('int8-dynamic-ptq', int8Contents(teacher.params, teacher.config, src));
  const ternDir = await write('ternary-ptq', ternaryContents(teacher.params, teacher.config, QUANT_DEFAULTS, src));
  await measure('FP32 teacher', 'none (FP32)', p.teacherDir, () => fpModel(teacher));
  await measure('int8 dynamic PTQ', 'int8 weights per channel, int8 activations per tensor at run time', int8Dir, () => loadExportedModel(int8Dir));
  await measure('ternary PTQ', 'teacher weights ternarized, 8-bit activations, no training', ternDir, () => loadExportedModel(ternDir));
  for (const run of p.students) {
    const exportDir = join(run, 'export');
    if (!existsSync(join(exportDir, MODEL_FILE))) {
      o.log(`exporting ${join(run, 'student')} -> ${exportDir}`);
      await exportStudent(join(run, 'student'), exportDir);
    }
    await measure(`KD-QAT ${basename(run)}`, 'ternary KD-QAT student, packed', exportDir, () => loadExportedModel(exportDir));
  }
  return rows;
}

/** output/<bert>/<task>/benchmark for a teacher at models/<bert>/<task> */
export const defaultBenchDir = (outputRoot: string, teacherDir: string, task: TaskSpec): string => join(outputRoot, basename(dirname(teacherDir)), task.name, 'benchmark');
