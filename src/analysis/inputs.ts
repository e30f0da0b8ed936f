/**
 * Inputs of the analyses: the compared models (teacher directory, student directories or qat run folders, the
 * "quantized teacher without QAT"), the dev examples (GLUE dev split through src/data, or an inputs.safetensors
 * like the fixtures'), the token classes of the norm analysis, and sweep-run discovery for the notebooks.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { readSafetensors } from '../util/safetensors.js';
import { loadBertDir, type LoadedModel } from '../model/checkpoint.js';
import { QUANT_DEFAULTS, type QuantConfig } from '../quant/plan.js';
import { getTask } from '../data/tasks.js';
import { loadGlueSplit } from '../data/glue.js';
import { loadTokenizer, type GlueTokenizer } from '../data/tokenizer.js';
import { BERT_UNCASED_IDS, type TokenClassIds } from './norm-analysis.js';
import type { AnalysisExample, AnalysisModel } from './types.js';
import { studentScore } from './students.js';
import { mulberry32 } from '../util/random.js';

export class AnalysisInputError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'DataError';
  } // reported without a stack by the CLIs
}

/** a qat run folder (with student/) or a model folder */
export function modelDir(d: string): string {
  const p = resolve(d);
  return existsSync(join(p, 'student', 'model.safetensors')) ? join(p, 'student') : p;
}

export function labelOf(dir: string): string {
  return basename(dir) === 'student'
    ? basename(dirname(dir))
    : basename(dir) === 'student-last'
      ? `${basename(dirname(dir))} (last)`
      : basename(dir);
}

export interface ModelSet {
  models: AnalysisModel[];
  teacher: LoadedModel;
}

/** Teacher, students (labels), and optionally the teacher's weights in the students' quantized model. */
export function loadModels(o: {
  task: string;
  teacher: string;
  students: string[];
  labels?: string[];
  quantizedTeacher: boolean;
}): ModelSet {
  const task = getTask(o.task);
  const teacher = loadBertDir(modelDir(o.teacher));
  const dirs = o.students.map(modelDir);
  const labels = o.labels ?? dirs.map(labelOf);
  if (labels.length !== dirs.length)
    throw new AnalysisInputError(`${labels.length} labels for ${dirs.length} students`);
  if (teacher.config.num_labels !== task.numLabels)
    throw new AnalysisInputError(
      `${teacher.dir}: num_labels ${teacher.config.num_labels}, task ${task.name} needs ${task.numLabels}`,
    );
  const loaded = dirs.map((d) => {
    const m = loadBertDir(d);
    if (m.config.num_labels !== teacher.config.num_labels)
      throw new AnalysisInputError(
        `${d}: num_labels ${m.config.num_labels}, the teacher has ${teacher.config.num_labels}`,
      );
    return m;
  });
  const quantOf = (m: LoadedModel): QuantConfig => (m.provenance?.quant as QuantConfig | undefined) ?? QUANT_DEFAULTS;
  const models: AnalysisModel[] = [
    {
      id: 'teacher',
      label: 'Teacher (FP)',
      role: 'teacher',
      params: teacher.params,
      config: teacher.config,
      dir: teacher.dir,
    },
    ...loaded.map(
      (m, i): AnalysisModel => ({
        id: `student${i}`,
        label: labels[i],
        role: 'student',
        params: m.params,
        config: m.config,
        quant: quantOf(m),
        dir: m.dir,
        score: studentScore(m.dir),
      }),
    ),
  ];
  if (o.quantizedTeacher) {
    models.push({
      id: 'quantized',
      label: 'Quantized (no QAT)',
      role: 'quantized',
      params: teacher.params,
      config: teacher.config,
      quant: loaded[0] ? quantOf(loaded[0]) : QUANT_DEFAULTS,
      dir: teacher.dir,
    });
  }
  return { models, teacher };
}

/** [CLS], [SEP], "," and "." ids from the tokenizer, else the BERT uncased ids (with a note) */
export function tokenClassIds(tok: GlueTokenizer | null, log: (s: string) => void): TokenClassIds {
  if (!tok) {
    log(`no tokenizer: token classes use the BERT uncased ids ${JSON.stringify(BERT_UNCASED_IDS)}`);
    return BERT_UNCASED_IDS;
  }
  return {
    cls: tok.special.cls,
    sep: tok.special.sep,
    punct: [',', '.'].map((p) => tok.tokenToId(p)).filter((x): x is number => x !== undefined),
  };
}

interface Rows {
  n: number;
  T: number;
  ids: ArrayLike<number>;
  tt: ArrayLike<number>;
  len: ArrayLike<number>;
  labels: ArrayLike<number>;
}

function rowsFromInputs(path: string): Rows {
  const t = readSafetensors(path).tensors;
  const need = (k: string) => {
    const x = t.get(k);
    if (!x) throw new AnalysisInputError(`${path}: missing tensor "${k}"`);
    return x;
  };
  const ids = need('input_ids');
  if (ids.shape.length !== 2) throw new AnalysisInputError(`${path}: input_ids must be [N,T], got [${ids.shape}]`);
  const [n, T] = ids.shape;
  const mask = t.get('attention_mask');
  const len =
    t.get('seq_lengths')?.data ??
    (mask
      ? Array.from({ length: n }, (_, i) => Array.from(mask.data.slice(i * T, (i + 1) * T)).reduce((a, b) => a + b, 0))
      : null);
  if (!len) throw new AnalysisInputError(`${path}: needs seq_lengths or attention_mask`);
  return {
    n,
    T,
    ids: ids.data,
    tt: t.get('token_type_ids')?.data ?? new Int32Array(n * T),
    len,
    labels: need('labels').data,
  };
}

/** seeded Fisher-Yates (mulberry32): the notebooks' RandomSampler, reproducibly */
export function shuffled(n: number, seed: number): number[] {
  const r = mulberry32(seed);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}

/**
 * Dev examples, each sliced to its seq_length (batch 1 in the analyses). From `inputs` (safetensors) or the GLUE
 * dev split tokenised with `tok`. count: how many (default all); sample: seeded random order or the first ones.
 */
export function loadExamples(o: {
  task: string;
  tok: GlueTokenizer | null;
  inputs?: string;
  glueDir?: string;
  count?: number;
  sample: 'random' | 'first';
  seed: number;
  maxSeqLen?: number;
}): AnalysisExample[] {
  let rows: Rows;
  if (o.inputs) rows = rowsFromInputs(o.inputs);
  else {
    if (!o.tok)
      throw new AnalysisInputError(
        'no tokenizer.json or vocab.txt to tokenise the GLUE dev set (give a tokenizer, or an inputs file)',
      );
    const f = loadGlueSplit({
      task: o.task,
      split: 'dev',
      tokenizer: o.tok,
      glueDir: o.glueDir,
      maxSeqLen: o.maxSeqLen,
    }).features;
    rows = { n: f.n, T: f.T, ids: f.inputIds, tt: f.tokenTypeIds, len: f.seqLengths, labels: f.labels };
  }
  const want = o.count ?? rows.n;
  if (!Number.isInteger(want) || want < 1)
    throw new AnalysisInputError(`the number of examples must be a positive integer, got ${want}`);
  const order = (o.sample === 'random' ? shuffled(rows.n, o.seed) : Array.from({ length: rows.n }, (_, i) => i)).slice(
    0,
    Math.min(want, rows.n),
  );
  return order.map((i) => {
    const n = rows.len[i];
    const at = (a: ArrayLike<number>) => Int32Array.from({ length: n }, (_, j) => a[i * rows.T + j]);
    return { index: i, ids: at(rows.ids), tokenTypes: at(rows.tt), label: rows.labels[i] };
  });
}

export function tokenizerFor(teacher: LoadedModel, explicit?: string): GlueTokenizer | null {
  const f = explicit ?? teacher.tokenizerFile;
  return f ? loadTokenizer(f) : null;
}

/** The paper's legend names of the KD presets. */
export const PRESET_LABELS: Record<string, string> = {
  map: 'KL-Div (map)',
  output: 'MSE (output)',
  'map+output': 'map+output',
  ternarybert: 'TernaryBERT',
};

export interface SweepRun {
  name: string;
  dir: string;
  preset: string;
  seed: number;
  teacher: string;
}

/**
 * Finished runs of a sweep folder (output/<bert>/<task>): subfolders with metrics.json and student/. The teacher
 * comes from each run's metrics.json (teacher.dir) or config.json (teacher).
 */
export function findSweepRuns(runDir: string): SweepRun[] {
  const root = resolve(runDir);
  if (!existsSync(root)) throw new AnalysisInputError(`run folder ${root} does not exist`);
  const out: SweepRun[] = [];
  for (const name of readdirSync(root).sort()) {
    const d = join(root, name);
    if (!existsSync(join(d, 'metrics.json')) || !existsSync(join(d, 'student', 'model.safetensors'))) continue;
    const m = JSON.parse(readFileSync(join(d, 'metrics.json'), 'utf8')) as {
      preset?: string;
      seed?: number;
      teacher?: { dir?: string };
      config?: { teacher?: string; seed?: number; kd?: { preset?: string } };
    };
    const preset = m.preset ?? m.config?.kd?.preset;
    const teacher = m.teacher?.dir ?? m.config?.teacher;
    if (!preset || !teacher) throw new AnalysisInputError(`${join(d, 'metrics.json')}: no preset or teacher recorded`);
    out.push({ name, dir: d, preset, seed: m.seed ?? m.config?.seed ?? NaN, teacher });
  }
  if (!out.length) throw new AnalysisInputError(`${root}: no finished runs (folders with metrics.json and student/)`);
  return out;
}

/** The run of `preset` at `seed` with default coefficients (name "<preset>_s<seed>"), else the only run of it. */
export function pickRun(runs: SweepRun[], preset: string, seed: number): SweepRun {
  const exact = runs.find((r) => r.name === `${preset}_s${seed}`);
  if (exact) return exact;
  const c = runs.filter((r) => r.preset === preset && r.seed === seed);
  if (c.length === 1) return c[0];
  throw new AnalysisInputError(
    `no unique ${preset} run at seed ${seed} among ${runs.map((r) => r.name).join(', ')}` +
      (c.length ? ` (candidates: ${c.map((r) => r.name).join(', ')})` : ''),
  );
}
