/**
 * npm run benchmark -- --task rte --teacher models/tiny/rte --students <run,...> [--out DIR] [--reps 50] [--warmup 5]
 *
 * One row per model: the FP teacher, its dynamic int8 PTQ, its ternary PTQ, and each KD-QAT student exported
 * (packed; <run>/export is written when missing): size on disk, latency at batch 1, throughput at batch 32, dev
 * metric, the backend and whether the latency is simulated (src/export/benchmark.ts). Writes benchmark.{csv,md,json},
 * metric-vs-size / metric-vs-latency plots and index.html into DIR (default output/<bert>/<task>/benchmark) and
 * prints the Markdown table. A <run> is a run folder, or a run name under output/<bert>/<task>/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { initBackend } from '../backend/backend.js';
import { getTask, splitPath } from '../data/tasks.js';
import { ensureGlueTask } from '../data/first-use.js';
import { loadGlueSplit } from '../data/glue.js';
import { loadTokenizer } from '../data/tokenizer.js';
import { OUTPUT_DIR } from '../sweep/run-setup.js';
import { num, parseFlags, RUN_FLAGS, runMain, UsageError, type FlagSpec } from './common.js';
import { exportDirOf, studentQuant } from '../export/export-student.js';
import { parseWhich, resolveStudent, type EvalSettings } from '../distill/students.js';
import { mainMetric } from '../data/metrics.js';
import { MODEL_FILE } from '../export/format.js';
import { defaultBenchDir, runBenchmark, type BenchStudent } from '../export/benchmark.js';
import { benchmarkNote, writeBenchmarkReport } from '../report/benchmark-report.js';

const FLAGS: FlagSpec = {
  task: RUN_FLAGS.task,
  teacher: { type: 'string', help: 'FP teacher directory (models/<bert>/<task>)' },
  students: {
    type: 'string',
    help: 'comma-separated KD-QAT run folders or run names under output/<bert>/<task>/ (may be empty)',
  },
  out: { type: 'string', help: 'output directory (default output/<bert>/<task>/benchmark)' },
  reps: { type: 'string', help: 'timed single-example forwards per model (default 50)', num: { kind: 'int', min: 1 } },
  warmup: {
    type: 'string',
    help: 'untimed forwards before them, at least 1 (default 5)',
    num: { kind: 'int', min: 1 },
  },
  'throughput-reps': {
    type: 'string',
    help: 'timed batch-32 forwards per model (default 3)',
    num: { kind: 'int', min: 1 },
  },
  'eval-limit': RUN_FLAGS['eval-limit'],
  'max-seq-len': RUN_FLAGS['max-seq-len'],
  which: {
    type: 'string',
    help:
      "of each run: best (default: its best evaluation's weights, student/) or last (its final weights, " +
      'student-last/)',
  },
  'eval-batch': {
    type: 'string',
    help:
      "dev evaluation batch size (default: the students' recorded one, else 32); predictions depend on it " +
      'through the dynamic 8-bit activation scales',
    num: { kind: 'int', min: 1 },
  },
  'data-dir': RUN_FLAGS['data-dir'],
  backend: RUN_FLAGS.backend,
};

const positive = (v: Record<string, unknown>, k: string, d: number): number => {
  const n = num(v, k, 'int') ?? d;
  if (n < 1) throw new UsageError(`--${k} must be at least 1, got ${n}`);
  return n;
};

runMain('benchmark', async () => {
  const v = parseFlags(FLAGS, 'npm run benchmark -- --task <t> --teacher <dir> --students <run,...> [--out DIR]');
  if (typeof v.task !== 'string') throw new UsageError('--task is required');
  let task: ReturnType<typeof getTask>;
  try {
    task = getTask(v.task);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (typeof v.teacher !== 'string')
    throw new UsageError('--teacher is required (the FP teacher directory, e.g. models/tiny/rte)');
  const teacherDir = resolve(v.teacher);
  for (const f of ['config.json', MODEL_FILE])
    if (!existsSync(join(teacherDir, f))) throw new UsageError(`--teacher ${v.teacher}: no ${f}`);
  const tokFile = ['tokenizer.json', 'vocab.txt'].map((f) => join(teacherDir, f)).find(existsSync);
  if (!tokFile) throw new UsageError(`--teacher ${v.teacher}: no tokenizer.json or vocab.txt`);
  const teacherConfig = JSON.parse(readFileSync(join(teacherDir, 'config.json'), 'utf8'));
  const vocabSize = teacherConfig.vocab_size;
  const runsRoot = join(OUTPUT_DIR(), basename(dirname(teacherDir)), task.name);
  const which = (() => {
    try {
      return parseWhich(v.which);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  })();
  const students = (typeof v.students === 'string' ? v.students.split(',') : [])
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s): BenchStudent => {
      const path = existsSync(s) ? resolve(s) : join(runsRoot, s);
      if (!existsSync(path)) throw new UsageError(`--students: "${s}" is neither a folder nor a run under ${runsRoot}`);
      let st: ReturnType<typeof resolveStudent>;
      try {
        st = resolveStudent(path, which);
        studentQuant(st.dir);
      } catch (e) {
        throw new UsageError(`--students: ${(e as Error).message}`);
      }
      if (st.note) console.error(`benchmark: note: ${st.note}`);
      const cfg = join(st.dir, 'config.json');
      if (JSON.parse(readFileSync(cfg, 'utf8')).vocab_size !== vocabSize)
        throw new UsageError(
          `--students: ${path} has another vocabulary than the teacher (${cfg}); benchmark students of this teacher`,
        );
      const run = st.run ?? dirname(st.dir);
      const lastOfRun =
        basename(st.dir) === 'student-last' || (st.run !== null && st.which === 'last' && st.score !== null);
      return {
        label: basename(run) + (lastOfRun ? ' (last)' : ''),
        dir: st.dir,
        exportDir: exportDirOf(run, lastOfRun ? 'last' : 'best'),
        score: st.score,
      };
    });
  // the students' recorded evaluation (docs/students.md) is the default: batch size, length, examples, padding
  const recorded = students.map((s) => s.score?.eval).filter((e): e is EvalSettings => !!e);
  const common = <K extends keyof EvalSettings>(k: K): EvalSettings[K] | undefined =>
    recorded.length && recorded.every((e) => e[k] === recorded[0][k]) ? recorded[0][k] : undefined;
  const o = {
    reps: positive(v, 'reps', 50),
    warmup: positive(v, 'warmup', 5),
    throughputReps: positive(v, 'throughput-reps', 3),
    throughputBatch: 32,
    log: (s: string) => console.error(s),
  };
  const evalLimit = v['eval-limit'] === undefined ? (common('evalLimit') ?? undefined) : positive(v, 'eval-limit', 1);
  const maxSeqLen =
    v['max-seq-len'] === undefined
      ? (common('maxSeqLen') ?? task.maxSeqLen)
      : positive(v, 'max-seq-len', task.maxSeqLen);
  const evalBatch = v['eval-batch'] === undefined ? (common('batchSize') ?? 32) : positive(v, 'eval-batch', 32);
  const dynamicPadding = common('dynamicPadding') ?? false;
  const maxPos = teacherConfig.max_position_embeddings ?? 512;
  if (maxSeqLen > maxPos)
    throw new UsageError(`--max-seq-len ${maxSeqLen} exceeds the teacher's max_position_embeddings ${maxPos}`);
  const outDir = resolve(typeof v.out === 'string' ? v.out : defaultBenchDir(OUTPUT_DIR(), teacherDir, task));
  const glueDir = await ensureGlueTask(task, typeof v['data-dir'] === 'string' ? v['data-dir'] : undefined, (s) =>
    console.error(`benchmark: ${s}`),
  );
  if (!existsSync(splitPath(task, 'dev', glueDir)))
    throw new UsageError(
      `no ${task.name} dev split at ${splitPath(task, 'dev', glueDir)} (pass --data-dir or set GLUE_DIR)`,
    );

  const info = await initBackend(typeof v.backend === 'string' ? v.backend : undefined);
  // the deployment path: ternary products on the native backend's int8 GEMM (src/backend/native-integer.ts)
  if (info.backend === 'native') (await import('../backend/native-integer.js')).useNativeIntegerKernels();
  const dev = loadGlueSplit({
    task,
    split: 'dev',
    tokenizer: loadTokenizer(tokFile),
    glueDir,
    maxSeqLen,
    limit: evalLimit,
  }).features;
  console.error(
    `benchmark: ${3 + students.length} models on ${dev.n} ${task.name} dev examples (length ${dev.T}) -> ${outDir}`,
  );
  // a student evaluated otherwise than in its run: its metric may differ (dynamic per-tensor 8-bit activation scales
  // are computed per batch, over the padded length), so its run's own metric is shown beside
  for (const s of students) {
    const e = s.score?.eval;
    if (!e) continue;
    const diff = [
      e.batchSize !== evalBatch && `batch ${evalBatch} (its run: ${e.batchSize})`,
      e.maxSeqLen !== maxSeqLen && `length ${maxSeqLen} (its run: ${e.maxSeqLen})`,
      e.examples !== dev.n && `${dev.n} examples (its run: ${e.examples})`,
      e.dynamicPadding !== dynamicPadding && `dynamic padding ${dynamicPadding} (its run: ${e.dynamicPadding})`,
    ].filter(Boolean);
    if (diff.length)
      console.error(
        `benchmark: KD-QAT ${s.label} is evaluated at ${diff.join(', ')}: dynamic activation scales make its metric ` +
          `differ from its run's own, ${mainMetric(task)} ${s.score!.metrics[mainMetric(task)]} (column run_value)`,
      );
  }
  const rows = await runBenchmark(
    { task, teacherDir, students, outDir, dev, eval: { batchSize: evalBatch, dynamicPadding } },
    o,
  );
  const title = `${task.name} (${basename(dirname(teacherDir))})`;
  const r = await writeBenchmarkReport(outDir, rows, benchmarkNote(rows, o, task.name, dev.n, dev.T), title);
  console.log(r.markdown);
  console.error(`benchmark: ${r.md}, ${r.csv}, ${r.html}`);
});
