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
import { MODEL_FILE, writeExport, type ExportContents } from './format.js';
import { loadExportedModel, type DeployedModel } from './packed-model.js';
import { int8Contents, ternaryContents } from './ptq.js';
import { exportStudent } from './export-student.js';
import { latencyPath } from './kernels.js';

export interface BenchOptions { reps: number; warmup: number; throughputReps: number; throughputBatch: number; log: (s: string) => void }

export interface BenchRow extends Record<string, unknown> {
  model: string; method: string; size_mb: number; latency_ms: number; latency_p25_ms: number; latency_p75_ms: number; throughput_ex_s: number;
  metric: string; value: number; latency_path: string; backend: string; threads: number; file: string;
}

/** q-quantile of xs, linear between order statistics (q = 0.5: the median) */
const quantile = (xs: number[], q: number) => { const s = [...xs].sort((a, b) => a - b), p = (s.length - 1) * q, i = Math.floor(p); return s[i] + (s[Math.min(i + 1, s.length - 1)] - s[i]) * (p - i); };

/** ms of one forward of rows idx of f, logits read back */
async function timeForward(m: DeployedModel, f: Features, regression: boolean, idx: number[]): Promise<number> {
  const b = makeBatch(f, idx, regression);
  const t0 = performance.now();
  const logits = tf.tidy(() => bertForward(m.params, m.config, b.batch, { quant: m.hooks }).logits);
  await logits.data();
  const ms = performance.now() - t0;
  logits.dispose(); disposeBatch(b);
  return ms;
}

export interface Candidate { model: string; method: string; file: string; m: DeployedModel }

/**
 * Measure the candidates (see the file comment). Timings are interleaved, one forward of each model per round, so
 * that load from other processes falls on every model alike instead of on whichever ran at the time.
 */
export async function benchmarkModels(cands: Candidate[], dev: Features, task: TaskSpec, o: BenchOptions): Promise<BenchRow[]> {
  const regression = task.outputMode === 'regression';
  const rounds = async (what: string, n: number, warmup: number, idx: (i: number) => number[]) => {
    o.log(`latency: ${what}, ${warmup} warm-up + ${n} rounds over ${cands.length} models`);
    const times = cands.map(() => [] as number[]);
    for (let i = 0; i < warmup + n; i++) {
      for (let c = 0; c < cands.length; c++) { const ms = await timeForward(cands[c].m, dev, regression, idx(i)); if (i >= warmup) times[c].push(ms); }
      if ((i + 1) % 10 === 0) o.log(`  round ${i + 1}/${warmup + n}`);
    }
    return times;
  };
  const lat = await rounds('batch 1', o.reps, o.warmup, (i) => [i % dev.n]);
  const B = Math.min(o.throughputBatch, dev.n);
  const thr = await rounds(`batch ${B}`, o.throughputReps, 1, () => Array.from({ length: B }, (_, i) => i));
  const info = backendInfo(), metric = mainMetric(task);
  const rows: BenchRow[] = [];
  for (const [c, { model, method, file, m }] of cands.entries()) {
    o.log(`dev ${metric} of ${model} on ${dev.n} examples`);
    const ev = await evaluate(m.params, m.config, dev, task, 32, m.hooks);
    rows.push({
      model, method, size_mb: statSync(file).size / 1e6, latency_ms: quantile(lat[c], 0.5), latency_p25_ms: quantile(lat[c], 0.25), latency_p75_ms: quantile(lat[c], 0.75),
      throughput_ex_s: B / (quantile(thr[c], 0.5) / 1000),
      metric, value: ev.metrics[metric], latency_path: latencyPath(m.kind === 'fp32' ? 'fp32' : m.kind === 'int8-dynamic' ? 'int8' : 'ternary'), backend: info.backend, threads: info.threads, file,
    });
    const r = rows[c];
    o.log(`  -> ${r.size_mb.toFixed(3)} MB, ${r.latency_ms.toFixed(2)} ms, ${r.throughput_ex_s.toFixed(1)} ex/s, ${metric} ${r.value.toFixed(4)} (${r.latency_path})`);
  }
  return rows;
}

/** The FP teacher as a DeployedModel (its own FP32 file) */
function fpModel(t: LoadedModel): DeployedModel {
  return { kind: 'fp32', config: t.config, params: t.params, dispose: () => tf.dispose(Object.values(t.params)) };
}

export interface BenchPlan { task: TaskSpec; teacherDir: string; students: string[]; outDir: string; dev: Features }

/** Write (or reuse for a student: <run>/export) each quantized model's file, load them all, measure every row. */
export async function runBenchmark(p: BenchPlan, o: BenchOptions): Promise<BenchRow[]> {
  const teacher = loadBertDir(p.teacherDir);
  const cands: Candidate[] = [{ model: 'FP32 teacher', method: 'none (FP32)', file: join(p.teacherDir, MODEL_FILE), m: fpModel(teacher) }];
  try {
    const src = { teacher: p.teacherDir };
    const add = async (model: string, method: string, dir: string, contents?: Promise<ExportContents>) => {
      if (contents) { o.log(`writing ${model} -> ${dir}`); writeExport(dir, await contents, teacher.tokenizerFile); }
      const m = loadExportedModel(dir);
      cands.push({ model, method, file: m.path, m });
    };
    await add('int8 dynamic PTQ', 'int8 weights per channel, int8 activations per tensor at run time', join(p.outDir, 'models', 'int8-dynamic-ptq'), int8Contents(teacher.params, teacher.config, src));
    await add('ternary PTQ', 'teacher weights ternarized, 8-bit activations, no training', join(p.outDir, 'models', 'ternary-ptq'), ternaryContents(teacher.params, teacher.config, QUANT_DEFAULTS, src));
    for (const run of p.students) {
      const exportDir = join(run, 'export');
      if (!existsSync(join(exportDir, MODEL_FILE))) {
        o.log(`exporting ${join(run, 'student')} -> ${exportDir}`);
        await exportStudent(join(run, 'student'), exportDir);
      }
      await add(`KD-QAT ${basename(run)}`, 'ternary KD-QAT student, packed', exportDir);
    }
    return await benchmarkModels(cands, p.dev, p.task, o);
  } finally { for (const c of cands) c.m.dispose(); }
}

/** output/<bert>/<task>/benchmark for a teacher at models/<bert>/<task> */
export const defaultBenchDir = (outputRoot: string, teacherDir: string, task: TaskSpec): string => join(outputRoot, basename(dirname(teacherDir)), task.name, 'benchmark');
