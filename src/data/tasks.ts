/**
 * GLUE task registry and processors, column for column as the reference's `utils_glue.py` (docs/method.md §6),
 * with the per-task training defaults of `main.py` (docs/method.md §5).
 *
 * Deliberate difference: the reference maps a label it cannot parse to 0 (try/except). Here an unknown label or an
 * unparsable STS-B score in train/dev is a DataError naming file, line and the allowed labels; test splits are
 * unlabeled (label 0, as the reference ends up with).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { fileURLToPath } from 'node:url';
import { DataError, parsePyFloat, readTsv } from './tsv.js';

export const TASK_NAMES = ['cola', 'sst-2', 'mrpc', 'sts-b', 'qqp', 'mnli', 'mnli-mm', 'qnli', 'rte', 'wnli'] as const;
export type TaskName = (typeof TASK_NAMES)[number];
export type Split = 'train' | 'dev' | 'test';
export const SPLITS: readonly Split[] = ['train', 'dev', 'test'];
export type OutputMode = 'classification' | 'regression';
/** key of computeMetrics' result that the paper reports for the task */
export type MainMetric = 'mcc' | 'acc' | 'acc_and_f1' | 'corr';

/** Where text_a, text_b and the label sit (0-based columns; 'last' = line[-1]); header = skip the first line. */
export interface Columns {
  header: boolean;
  a: number;
  b: number | null;
  label: number | 'last' | null;
  skipShortRows?: boolean;
}

export interface TaskSpec {
  name: TaskName;
  /** directory under GLUE_DIR */
  dir: string;
  /** label strings in id order; null for regression (the reference's [None]) */
  labels: string[] | null;
  outputMode: OutputMode;
  numLabels: number;
  mainMetric: MainMetric;
  /** default_params of main.py; wnli is absent there (values chosen like rte) */
  maxSeqLen: number;
  batchSize: number;
  evalStep: number;
  inDefaultParams: boolean;
  files: Record<Split, string>;
  columns: { labeled: Columns; test: Columns };
}

const STD_FILES: Record<Split, string> = { train: 'train.tsv', dev: 'dev.tsv', test: 'test.tsv' };
const BIN = ['0', '1'];
const NLI2 = ['entailment', 'not_entailment'];
const NLI3 = ['contradiction', 'entailment', 'neutral'];
const hdr = (a: number, b: number | null, label: Columns['label'], skipShortRows = false): Columns => ({
  header: true,
  a,
  b,
  label,
  skipShortRows,
});

function spec(
  name: TaskName,
  dir: string,
  labels: string[] | null,
  mainMetric: MainMetric,
  maxSeqLen: number,
  batchSize: number,
  evalStep: number,
  columns: TaskSpec['columns'],
  files = STD_FILES,
  inDefaultParams = true,
): TaskSpec {
  return {
    name,
    dir,
    labels,
    outputMode: labels ? 'classification' : 'regression',
    numLabels: labels ? labels.length : 1,
    mainMetric,
    maxSeqLen,
    batchSize,
    evalStep,
    inDefaultParams,
    files,
    columns,
  };
}

export const TASKS: Record<TaskName, TaskSpec> = {
  cola: spec('cola', 'CoLA', BIN, 'mcc', 64, 16, 50, {
    labeled: { header: false, a: 3, b: null, label: 1 },
    test: hdr(1, null, null),
  }),
  'sst-2': spec('sst-2', 'SST-2', BIN, 'acc', 64, 32, 100, { labeled: hdr(0, null, 1), test: hdr(1, null, null) }),
  mrpc: spec('mrpc', 'MRPC', BIN, 'acc_and_f1', 128, 32, 50, { labeled: hdr(3, 4, 0), test: hdr(3, 4, null) }),
  'sts-b': spec('sts-b', 'STS-B', null, 'corr', 128, 32, 100, { labeled: hdr(7, 8, 'last'), test: hdr(7, 8, null) }),
  qqp: spec('qqp', 'QQP', BIN, 'acc_and_f1', 128, 32, 1000, {
    labeled: hdr(3, 4, 5, true),
    test: hdr(1, 2, null, true),
  }),
  mnli: spec(
    'mnli',
    'MNLI',
    NLI3,
    'acc',
    128,
    32,
    8000,
    { labeled: hdr(8, 9, 'last'), test: hdr(8, 9, null) },
    { train: 'train.tsv', dev: 'dev_matched.tsv', test: 'test_matched.tsv' },
  ),
  'mnli-mm': spec(
    'mnli-mm',
    'MNLI',
    NLI3,
    'acc',
    128,
    32,
    8000,
    { labeled: hdr(8, 9, 'last'), test: hdr(8, 9, null) },
    { train: 'train.tsv', dev: 'dev_mismatched.tsv', test: 'test_mismatched.tsv' },
  ),
  qnli: spec('qnli', 'QNLI', NLI2, 'acc', 128, 32, 1000, { labeled: hdr(1, 2, 'last'), test: hdr(1, 2, null) }),
  rte: spec('rte', 'RTE', NLI2, 'acc', 128, 32, 20, { labeled: hdr(1, 2, 'last'), test: hdr(1, 2, null) }),
  wnli: spec(
    'wnli',
    'WNLI',
    BIN,
    'acc',
    128,
    32,
    20,
    { labeled: hdr(1, 2, 'last'), test: hdr(1, 2, null) },
    STD_FILES,
    false,
  ),
};

/** Task by reference name ('sst-2') or directory name ('SST-2', 'MNLI-MM'), case-insensitive. */
export function getTask(name: string): TaskSpec {
  const k = name.toLowerCase();
  const t = (TASKS as Record<string, TaskSpec>)[k] ?? Object.values(TASKS).find((s) => s.dir.toLowerCase() === k);
  if (!t) throw new DataError(`unknown GLUE task "${name}"; known: ${TASK_NAMES.join(', ')}`);
  return t;
}

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** <project>/data/glue: the default GLUE directory, and where a task missing everywhere is downloaded on first use. */
export const LOCAL_GLUE_DIR = (): string => join(PROJECT_ROOT, 'data', 'glue');

/** GLUE directory: explicit argument (--data-dir), else env GLUE_DIR, else <project>/data/glue. */
export function resolveGlueDir(explicit?: string | null): string {
  if (explicit) return resolve(explicit);
  if (process.env.GLUE_DIR) return resolve(process.env.GLUE_DIR);
  return LOCAL_GLUE_DIR();
}

/**
 * A GLUE directory named by the user (`what`: --data-dir or GLUE_DIR; null for the default data/glue) must exist,
 * and be the folder holding the task folders, not a task folder itself: each is a one-line error naming it.
 */
export function checkGlueDir(dir: string, what: string | null): void {
  if (!what) return;
  if (!existsSync(dir))
    throw new UserError(
      `${what}: ${dir} does not exist; point it at a GLUE copy (the folder holding RTE/, CoLA/, ...), or ` +
        `${what.startsWith('GLUE_DIR') ? 'unset it' : 'leave it out'} to use ${LOCAL_GLUE_DIR()} (tasks missing ` +
        `there are ` +
        `downloaded on first use)`,
    );
  const asTask = Object.values(TASKS).find(
    (t) => t.dir.toUpperCase() === basename(dir).toUpperCase() && !existsSync(join(dir, t.dir)),
  );
  if (asTask || ['train.tsv', 'dev.tsv'].some((f) => existsSync(join(dir, f)))) {
    throw new UserError(
      `${what}: ${dir} looks like a task folder (it ` +
        `${asTask ? `is named ${basename(dir)}` : 'holds train.tsv/dev.tsv'}); point it at the GLUE folder holding ` +
        `the task ` +
        `folders, e.g. ${dirname(dir)}`,
    );
  }
}

/**
 * The GLUE directory to read `task` from: resolveGlueDir's when it holds the task's folder, else data/glue when that
 * does (where a download on first use puts it: src/data/first-use.ts), else resolveGlueDir's (its errors name it).
 */
export function glueDirFor(task: TaskSpec, explicit?: string | null): string {
  const dir = resolveGlueDir(explicit);
  checkGlueDir(
    dir,
    explicit ? `--data-dir ${explicit}` : process.env.GLUE_DIR ? `GLUE_DIR=${process.env.GLUE_DIR}` : null,
  );
  if (existsSync(join(dir, task.dir))) return dir;
  return existsSync(join(LOCAL_GLUE_DIR(), task.dir)) ? LOCAL_GLUE_DIR() : dir;
}

export function splitPath(task: TaskSpec, split: Split, glueDir: string): string {
  return join(glueDir, task.dir, task.files[split]);
}

export interface Example {
  textA: string;
  /** null for single-sentence tasks */
  textB: string | null;
  /** label id (classification), score (regression), 0 for unlabeled test rows */
  label: number;
  /** 1-based line in the file */
  line: number;
}

export interface ReadStats {
  /** data rows seen (header excluded) */
  read: number;
  /** rows skipped as the reference does (QQP rows raising IndexError) */
  rejected: number;
  /** 1-based line numbers of the first skipped rows (at most 20) */
  rejectedLines: number[];
}

export interface ExampleSet {
  task: TaskSpec;
  split: Split;
  file: string;
  labeled: boolean;
  examples: Example[];
  stats: ReadStats;
}

const fmtLabels = (l: string[]): string => l.map((x) => JSON.stringify(x)).join(', ');

/** Turn parsed TSV rows into examples with the task's column rules. `file` is used in messages only. */
export function rowsToExamples(
  task: TaskSpec,
  split: Split,
  rows: string[][],
  file: string,
  limit?: number,
): ExampleSet {
  const labeled = split !== 'test';
  const c = labeled ? task.columns.labeled : task.columns.test;
  const idx = [c.a, c.b ?? -1, typeof c.label === 'number' ? c.label : -1];
  const need = Math.max(...idx) + 1 + (c.label === 'last' ? 1 : 0);
  const labelMap = new Map((task.labels ?? []).map((l, i) => [l, i]));
  const examples: Example[] = [];
  const stats: ReadStats = { read: 0, rejected: 0, rejectedLines: [] };
  for (let i = c.header ? 1 : 0; i < rows.length; i++) {
    if (limit !== undefined && examples.length >= limit) break;
    const row = rows[i];
    const line = i + 1;
    stats.read++;
    if (row.length < need) {
      if (c.skipShortRows) {
        stats.rejected++;
        if (stats.rejectedLines.length < 20) stats.rejectedLines.push(line);
        continue;
      }
      throw new DataError(
        `task ${task.name} (${split}): row has ${row.length} tab-separated field(s), expected at least ${need}` +
          ` (text_a = column ` +
          `${c.a}${c.b !== null ? `, text_b = column ${c.b}` : ''}` +
          `${c.label !== null ? `, label = column ${c.label}` : ''}; ` +
          `0-based)`,
        file,
        line,
      );
    }
    let label = 0;
    if (c.label !== null) {
      const raw = c.label === 'last' ? row[row.length - 1] : row[c.label];
      if (task.labels) {
        const id = labelMap.get(raw);
        if (id === undefined)
          throw new DataError(
            `task ${task.name} (${split}): unknown label ${JSON.stringify(raw)}; allowed labels: ` +
              `${fmtLabels(task.labels)}`,
            file,
            line,
          );
        label = id;
      } else {
        const v = parsePyFloat(raw);
        if (v === null || !Number.isFinite(v))
          throw new DataError(
            `task ${task.name} (${split}): label ${JSON.stringify(raw)} in the last column is not a finite number`,
            file,
            line,
          );
        label = v;
      }
    }
    examples.push({ textA: row[c.a], textB: c.b === null ? null : row[c.b], label, line });
  }
  if (rows.length - (c.header ? 1 : 0) <= 0)
    throw new DataError(`task ${task.name} (${split}): file has no data rows`, file);
  return { task, split, file, labeled, examples, stats };
}

/** Read one split of a task from `<glueDir>/<TaskDir>/<file>`. */
export function readExamples(opts: {
  task: string | TaskSpec;
  split: Split;
  glueDir?: string;
  limit?: number;
}): ExampleSet {
  const task = typeof opts.task === 'string' ? getTask(opts.task) : opts.task;
  if (!SPLITS.includes(opts.split)) throw new DataError(`unknown split "${opts.split}"; use train, dev or test`);
  const file = splitPath(task, opts.split, glueDirFor(task, opts.glueDir));
  return rowsToExamples(task, opts.split, readTsv(file, `task ${task.name}, split ${opts.split}`), file, opts.limit);
}
