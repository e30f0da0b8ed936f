/**
 * npm run analyze -- --task rte --teacher models/tiny/rte --students output/tiny/rte/map_s42,output/tiny/rte/output_s42
 *                    [--exp distance,hessian,range,norms] [--examples N] [--out DIR] [--inputs inputs.safetensors]
 * The reference's analysis notebooks (method.md 7): attention-map distances, Hessian spectra, attention-output
 * ranges, norm-based analysis, on dev examples one at a time (batch 1, sliced to seq_length). Writes
 * results.json, plots/*.{svg,png} and report.html into --out.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { initBackend } from '../util/backend.js';
import { atomicWriteJson } from '../util/fsx.js';
import { readSafetensors } from '../util/safetensors.js';
import { Progress, formatDuration } from '../util/progress.js';
import { loadBertDir, type LoadedModel } from '../model/checkpoint.js';
import { QUANT_DEFAULTS, type QuantConfig } from '../quant/plan.js';
import { getTask } from '../data/tasks.js';
import { loadGlueSplit } from '../data/glue.js';
import { loadTokenizer, type GlueTokenizer } from '../data/tokenizer.js';
import { BERT_UNCASED_IDS, type TokenClassIds } from '../analysis/norm-analysis.js';
import { EXPERIMENTS, runAnalysis, type AnalysisExample, type AnalysisModel, type Experiment } from '../analysis/run.js';
import { writeAnalysisReport } from '../analysis/report.js';
import { parseFlags, runMain, num, UsageError } from './common.js';

const FLAGS = {
  task: { type: 'string', help: 'GLUE task (rte, sst-2, ...)' },
  teacher: { type: 'string', help: 'full-precision teacher directory' },
  students: { type: 'string', help: 'comma-separated student directories (a run dir or its student/ folder)' },
  labels: { type: 'string', help: 'comma-separated legend labels of the students (default: run folder names)' },
  exp: { type: 'string', help: `experiments: ${EXPERIMENTS.join(',')} (default all)` },
  examples: { type: 'string', help: 'number of dev examples (default: all)' },
  sample: { type: 'string', help: 'random (default; seeded, as the notebooks\' RandomSampler) or first' },
  seed: { type: 'string', help: 'seed of the example sample and the Hessian start vectors (default 42)' },
  inputs: { type: 'string', help: 'read examples from an inputs.safetensors (input_ids, token_type_ids, seq_lengths, labels) instead of GLUE' },
  'data-dir': { type: 'string', help: 'GLUE directory (default: $GLUE_DIR, then data/glue)' },
  tokenizer: { type: 'string', help: 'tokenizer.json / vocab.txt (default: the teacher directory\'s)' },
  out: { type: 'string', help: 'output folder (default output/analysis/<task>)' },
  'token-types': { type: 'string', help: 'zeros (default: the notebooks call the model with input ids only) or real' },
  'norm-token': { type: 'string', help: 'token of the per-head norm heatmaps: sep (first [SEP], default) or an index' },
  'norm-wo': { type: 'string', help: 'W_O of the students\' norms: latent (reference, default) or quantized' },
  'range-example': { type: 'string', help: 'which analysed example (0-based position) the range figure shows (default 0)' },
  'no-quantized': { type: 'boolean', help: 'leave out the "quantized teacher, no QAT" model of the distance experiment' },
  'hessian-examples': { type: 'string', help: 'examples for the Hessian (default min(examples, 32))' },
  'hessian-models': { type: 'string', help: 'teacher,student (default) or either' },
  'hessian-top': { type: 'string', help: 'eigenvalues per example (default 3, as the notebook)' },
  'hessian-iters': { type: 'string', help: 'power-iteration maxIter (default 100)' },
  'hessian-tol': { type: 'string', help: 'power-iteration relative tolerance (default 1e-3)' },
  'hessian-mode': { type: 'string', help: 'example (default: one spectrum per example) or dataset (Hv averaged over the examples)' },
  'hessian-layers': { type: 'boolean', help: 'also the top eigenvalue of each parameter group (embeddings, layer.i, head)' },
  'hessian-trace': { type: 'boolean', help: 'also the Hutchinson trace' },
  'no-plots': { type: 'boolean', help: 'results.json only' },
  backend: { type: 'string', help: 'tensor backend: node-gpu, node, wasm, cpu (default: best available)' },
} as const;

/** a run folder (with student/) or a model folder */
function modelDir(d: string): string {
  const p = resolve(d);
  if (!existsSync(join(p, 'config.json')) && existsSync(join(p, 'student', 'config.json'))) return join(p, 'student');
  return p;
}

function labelOf(dir: string): string {
  return basename(dir) === 'student' ? basename(dirname(dir)) : basename(dir);
}

/** seeded Fisher-Yates (mulberry32) */
function shuffled(n: number, seed: number): number[] {
  let a = seed >>> 0;
  const r = () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [idx[i], idx[j]] = [idx[j], idx[i]]; }
  return idx;
}

interface Rows { n: number; T: number; ids: Int32Array; tt: Int32Array; len: Int32Array; labels: ArrayLike<number> }

function rowsFromInputs(path: string): Rows {
  const t = readSafetensors(path).tensors;
  const need = (k: string) => { const x = t.get(k); if (!x) throw new UsageError(`${path}: missing tensor "${k}"`); return x; };
  const ids = need('input_ids');
  if (ids.shape.length !== 2) throw new UsageError(`${path}: input_ids must be [N,T], got [${ids.shape}]`);
  const [n, T] = ids.shape;
  const len = t.get('seq_lengths') ? Int32Array.from(need('seq_lengths').data) : Int32Array.from({ length: n }, (_, i) => Array.from(need('attention_mask').data.slice(i * T, (i + 1) * T)).reduce((a, b) => a + b, 0));
  return { n, T, ids: Int32Array.from(ids.data), tt: t.get('token_type_ids') ? Int32Array.from(need('token_type_ids').data) : new Int32Array(n * T), len, labels: need('labels').data };
}

runMain('analyze', async () => {
  const v = parseFlags(FLAGS, 'npm run analyze -- --task <t> --teacher <dir> --students <dir,...> [--exp distance,hessian,range,norms] [--examples N] [--out DIR]');
  if (typeof v.task !== 'string') throw new UsageError('--task is required');
  if (typeof v.teacher !== 'string') throw new UsageError('--teacher is required');
  const task = getTask(v.task);
  const exps = (typeof v.exp === 'string' ? v.exp.split(',').map((s) => s.trim()) : [...EXPERIMENTS]) as Experiment[];
  for (const e of exps) if (!EXPERIMENTS.includes(e)) throw new UsageError(`--exp: unknown experiment "${e}" (choose from ${EXPERIMENTS.join(', ')})`);
  const seed = num(v, 'seed', 'int') ?? 42;
  const info = await initBackend(v.backend as string | undefined);
  const t0 = performance.now();

  // models
  const teacherM = loadBertDir(modelDir(v.teacher));
  const studentDirs = typeof v.students === 'string' ? v.students.split(',').map((s) => s.trim()).filter(Boolean).map(modelDir) : [];
  const labels = typeof v.labels === 'string' ? v.labels.split(',').map((s) => s.trim()) : studentDirs.map(labelOf);
  if (labels.length !== studentDirs.length) throw new UsageError(`--labels has ${labels.length} entries for ${studentDirs.length} students`);
  const loaded: LoadedModel[] = studentDirs.map((d) => loadBertDir(d));
  loaded.forEach((m, i) => {
    if (m.config.num_labels !== teacherM.config.num_labels) throw new UsageError(`${studentDirs[i]}: num_labels ${m.config.num_labels}, teacher has ${teacherM.config.num_labels}`);
    if (m.config.num_labels !== task.numLabels) throw new UsageError(`${studentDirs[i]}: num_labels ${m.config.num_labels}, task ${task.name} needs ${task.numLabels}`);
  });
  const quantOf = (m: LoadedModel): QuantConfig => (m.provenance?.quant as QuantConfig | undefined) ?? QUANT_DEFAULTS;
  const models: AnalysisModel[] = [
    { id: 'teacher', label: 'Teacher (FP)', role: 'teacher', params: teacherM.params, config: teacherM.config, dir: teacherM.dir },
    ...loaded.map((m, i): AnalysisModel => ({ id: `student${i}`, label: labels[i], role: 'student', params: m.params, config: m.config, quant: quantOf(m), dir: m.dir })),
  ];
  if (!v['no-quantized'] && exps.includes('distance')) {
    models.push({ id: 'quantized', label: 'Quantized (no QAT)', role: 'quantized', params: teacherM.params, config: teacherM.config, quant: loaded[0] ? quantOf(loaded[0]) : QUANT_DEFAULTS, dir: teacherM.dir });
  }
  if (models.length < 2 && exps.some((e) => e === 'distance' || e === 'norms')) throw new UsageError('--students is required for the distance and norms experiments');

  // tokenizer (token classes) and examples
  const tokFile = (v.tokenizer as string | undefined) ?? teacherM.tokenizerFile;
  const tok: GlueTokenizer | null = tokFile ? loadTokenizer(tokFile) : null;
  let classIds: TokenClassIds = BERT_UNCASED_IDS;
  if (tok) classIds = { cls: tok.special.cls, sep: tok.special.sep, punct: [',', '.'].map((p) => tok.tokenToId(p)).filter((x): x is number => x !== undefined) };
  else console.error(`analyze: no tokenizer (teacher directory has none, no --tokenizer): token classes use the BERT uncased ids ${JSON.stringify(BERT_UNCASED_IDS)}`);
  let rows: Rows;
  if (typeof v.inputs === 'string') rows = rowsFromInputs(v.inputs);
  else {
    if (!tok) throw new UsageError(`${teacherM.dir}: no tokenizer.json or vocab.txt to tokenise the GLUE dev set (give --tokenizer, or --inputs)`);
    const s = loadGlueSplit({ task, split: 'dev', tokenizer: tok, glueDir: v['data-dir'] as string | undefined });
    rows = { n: s.features.n, T: s.features.T, ids: s.features.inputIds, tt: s.features.tokenTypeIds, len: s.features.seqLengths, labels: s.features.labels };
  }
  const want = num(v, 'examples', 'int') ?? rows.n;
  if (want < 1) throw new UsageError('--examples must be at least 1');
  const sample = (v.sample as string | undefined) ?? 'random';
  if (sample !== 'random' && sample !== 'first') throw new UsageError(`--sample must be random or first, got "${sample}"`);
  const order = (sample === 'random' ? shuffled(rows.n, seed) : Array.from({ length: rows.n }, (_, i) => i)).slice(0, Math.min(want, rows.n));
  const examples: AnalysisExample[] = order.map((i) => {
    const n = rows.len[i];
    return { index: i, ids: rows.ids.slice(i * rows.T, i * rows.T + n), tokenTypes: rows.tt.slice(i * rows.T, i * rows.T + n), label: rows.labels[i] };
  });

  const tokenTypes = (v['token-types'] as string | undefined) ?? 'zeros';
  if (tokenTypes !== 'zeros' && tokenTypes !== 'real') throw new UsageError('--token-types must be zeros or real');
  const normToken = v['norm-token'] === undefined || v['norm-token'] === 'sep' ? 'sep' : num(v, 'norm-token', 'int')!;
  const wo = (v['norm-wo'] as string | undefined) ?? 'latent';
  if (wo !== 'latent' && wo !== 'quantized') throw new UsageError('--norm-wo must be latent or quantized');
  const hRoles = ((v['hessian-models'] as string | undefined) ?? 'teacher,student').split(',').map((s) => s.trim());
  for (const r of hRoles) if (r !== 'teacher' && r !== 'student') throw new UsageError(`--hessian-models: "${r}" is not teacher or student`);
  const hMode = (v['hessian-mode'] as string | undefined) ?? 'example';
  if (hMode !== 'example' && hMode !== 'dataset') throw new UsageError('--hessian-mode must be example or dataset');
  const out = resolve((v.out as string | undefined) ?? join('output', 'analysis', task.name));

  console.error(`analyze ${task.name}: ${examples.length} dev examples (${sample}, seed ${seed}), models ${models.map((m) => m.label).join(' | ')}, experiments ${exps.join(',')}, backend ${info.backend}`);
  let bar: Progress | undefined, barWhat = '';
  const res = await runAnalysis(models, examples, {
    task: task.name, experiments: exps, tokenTypes,
    norms: { wo, token: normToken, classIds },
    rangeExample: num(v, 'range-example', 'int') ?? 0,
    hessian: {
      examples: num(v, 'hessian-examples', 'int') ?? Math.min(examples.length, 32), topN: num(v, 'hessian-top', 'int') ?? 3,
      maxIter: num(v, 'hessian-iters', 'int') ?? 100, tol: num(v, 'hessian-tol') ?? 1e-3, seed, l2: 0.01, mode: hMode,
      layers: v['hessian-layers'] === true, trace: v['hessian-trace'] === true, roles: hRoles as ('teacher' | 'student')[],
    },
    log: (s) => console.error(`analyze: ${s}`),
    onProgress: (done, total, what) => {
      const key = what.split(':')[0];
      if (!bar || barWhat !== key) { bar?.done(); bar = new Progress({ total, label: key, logEverySec: 5 }); barWhat = key; }
      bar.update(done, what.includes(':') ? { last: what.slice(what.indexOf(':') + 1).trim() } : {});
    },
  });
  bar?.done();
  const seconds = (performance.now() - t0) / 1000;
  res.meta.seconds.total = seconds;
  atomicWriteJson(join(out, 'results.json'), { ...res, backend: info, args: process.argv.slice(2) });
  if (!v['no-plots']) {
    const html = await writeAnalysisReport(res, out);
    console.error(`analyze: report ${html}`);
  }
  console.error(`analyze: done in ${formatDuration(seconds)} (${Object.entries(res.meta.seconds).map(([k, s]) => `${k} ${s.toFixed(1)} s`).join(', ')})\n  -> ${join(out, 'results.json')}`);
});
