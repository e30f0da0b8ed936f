/**
 * The documented experiments are study files, experiments/studies/<name>.json: the task, the teacher's recipe, the
 * sweep's grid and recipe, the post-training-quantization floor, the analyses and the files to keep. This module
 * reads and checks them (an unknown key or a wrong value is an error naming the file and the key) and turns each into
 * the commands that make it: sweeps are resumable, so finished runs of the same configuration are reused and killed
 * ones resumed. Runs land in output/results/<name>/ (git-ignored); the kept files go to experiments/results/<name>/.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from '../../src/util/provenance.js';
import { UserError } from '../../src/util/errors.js';

export const OUT = 'output/results';
export const STUDIES = 'experiments/studies';
/** Every run of every study: the native backend, one thread per run, two runs at a time (2 cores here). */
export const SETTINGS = { backend: 'native', threads: 1, jobs: 2 } as const;
const ONE = ['--backend', SETTINGS.backend, '--threads', String(SETTINGS.threads)];
const RUN = ['--jobs', String(SETTINGS.jobs), ...ONE];

/** How the blocks of a study are written (the README's in summaries.ts, docs/results.md's in sections.ts). */
export const BLOCKS = ['presets', 'seeds', 'reports', 'study'] as const;
export type Block = (typeof BLOCKS)[number];

export interface Experiment {
  name: string;
  what: string;
  task: string;
  block: Block;
  /** Set when the recipe is not the reference's (shorter training): said beside every number. */
  reduced?: string;
  /**
   * The sweep folder (runs), its teacher, and the files or folders besides them to keep (path -> name in
   * experiments/results/<name>/).
   */
  sweepDir: string;
  teacherDir: string;
  keep: [string, string][];
  /** The experiment whose teacher this one reuses (its wall time is that experiment's, not this one's). */
  teacherOf?: string;
  /** Only runs of these seeds are documented (the sweep folder may hold more). */
  seeds?: number[];
  /** Idempotent work before the commands (e.g. reusing another experiment's teacher); returns what it did. */
  prepare?: (dry: boolean) => string | null;
  /**
   * CLI name and arguments, run as `npm run <name> -- <args>` (src/cli/<name>.ts); a third element says when it is done
   * already.
   */
  commands: [string, string[], (() => boolean)?][];
}

/** The recipe flags a study may set for its teacher or its runs (values are numbers). */
const RECIPE_FLAGS = [
  'epochs',
  'train-limit',
  'eval-limit',
  'eval-every',
  'max-steps',
  'lr',
  'batch-size',
  'max-seq-len',
];
/** The analysis flags a study may set (src/cli/analyze.ts). */
const ANALYSIS_FLAGS = [
  'examples',
  'sample',
  'seed',
  'exp',
  'hessian-examples',
  'hessian-method',
  'hessian-loss',
  'hessian-top',
  'hessian-iters',
  'hessian-mode',
  'token-types',
];
const KEYS = [
  'description',
  'task',
  'bert',
  'reduced',
  'teacher',
  'sweep',
  'seeds',
  'report',
  'floor',
  'analysis',
  'keep',
  'block',
];

type Json = Record<string, unknown>;

function checkKeys(file: string, where: string, o: unknown, allowed: string[]): Json {
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new UserError(`${file}: "${where}" must be an object`);
  for (const k of Object.keys(o))
    if (!allowed.includes(k))
      throw new UserError(`${file}: unknown key "${where ? `${where}.` : ''}${k}" (known: ${allowed.join(', ')})`);
  return o as Json;
}

const str = (file: string, key: string, v: unknown): string => {
  if (typeof v !== 'string' || !v) throw new UserError(`${file}: "${key}" must be a non-empty string`);
  return v;
};

/** A recipe object as flags: {"train-limit": 4000} -> ["--train-limit", "4000"]. */
function recipeFlags(file: string, key: string, r: unknown, allowed: string[]): string[] {
  const o = checkKeys(file, key, r ?? {}, allowed);
  return Object.entries(o).flatMap(([k, v]) => {
    if (typeof v !== 'number' && typeof v !== 'string')
      throw new UserError(`${file}: "${key}.${k}" must be a number or a string`);
    return [`--${k}`, String(v)];
  });
}

/** Copy a teacher folder (atomically: a temp copy renamed into place) unless one is there already. */
function reuseTeacher(from: string, to: string, dry: boolean): string | null {
  const src = join(PROJECT_ROOT, from),
    dst = join(PROJECT_ROOT, to);
  if (existsSync(join(dst, 'model.safetensors'))) return null;
  if (!dry && !existsSync(join(src, 'model.safetensors')))
    throw new UserError(`${from} has no teacher yet: run the study that makes it first`);
  if (dry) return `copy the teacher ${from} to ${to}`;
  mkdirSync(dirname(dst), { recursive: true });
  const tmp = `${dst}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  cpSync(src, tmp, { recursive: true });
  renameSync(tmp, dst);
  return `copied the teacher ${from} to ${to}`;
}

/** One study file as an experiment: its folders and the commands that make it. */
export function readStudy(name: string, dir = join(PROJECT_ROOT, STUDIES)): Experiment {
  const file = join(STUDIES, `${name}.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
  } catch (e) {
    throw new UserError(`${file}: ${(e as Error).message}`);
  }
  const s = checkKeys(file, '', raw, KEYS);
  const task = str(file, 'task', s.task),
    bert = s.bert === undefined ? 'tiny' : str(file, 'bert', s.bert);
  const block = str(file, 'block', s.block) as Block;
  if (!BLOCKS.includes(block))
    throw new UserError(`${file}: "block" must be one of ${BLOCKS.join(', ')}, got "${block}"`);
  const out = (...p: string[]) => join(OUT, name, ...p);
  const sweepDir = out(task),
    teacherDir = out('teachers', bert, task);
  const commands: Experiment['commands'] = [];
  const teacher = checkKeys(file, 'teacher', s.teacher, ['madeBy', 'from', 'recipe']);
  let teacherOf: string | undefined, prepare: Experiment['prepare'];
  if (teacher.from !== undefined) {
    teacherOf = str(file, 'teacher.from', teacher.from);
    const from = join(OUT, teacherOf, 'teachers', bert, task);
    prepare = (dry) => reuseTeacher(from, teacherDir, dry);
  } else if (teacher.recipe !== undefined) {
    // finetune keeps (and refuses to redo) a finished teacher: a second call of the study goes on to the runs
    commands.push([
      'finetune',
      [
        '--task',
        task,
        '--bert',
        bert,
        ...recipeFlags(file, 'teacher.recipe', teacher.recipe, RECIPE_FLAGS),
        ...ONE,
        '--out',
        teacherDir,
      ],
      () => existsSync(join(PROJECT_ROOT, teacherDir, 'metrics.json')),
    ]);
  } else if (teacher.madeBy !== 'sweep')
    throw new UserError(
      `${file}: "teacher" needs "recipe" (fine-tuned first), "from" (another study's) or "madeBy": "sweep"`,
    );
  const sweep = checkKeys(file, 'sweep', s.sweep, ['grid', 'recipe', 'report']);
  commands.push([
    'sweep',
    [
      '--task',
      task,
      '--grid',
      str(file, 'sweep.grid', sweep.grid),
      ...recipeFlags(file, 'sweep.recipe', sweep.recipe, RECIPE_FLAGS),
      ...RUN,
      '--out',
      out(),
      ...(sweep.report === false ? ['--no-report'] : []),
    ],
  ]);
  if (s.report === true) commands.push(['report', ['--task', task, '--dir', sweepDir]]);
  const keep: [string, string][] = [];
  if (s.floor === true) {
    commands.push([
      'benchmark',
      [
        '--task',
        task,
        '--teacher',
        teacherDir,
        '--students',
        '',
        '--reps',
        '5',
        '--warmup',
        '1',
        '--throughput-reps',
        '1',
        '--backend',
        SETTINGS.backend,
        '--out',
        out('floor'),
      ],
    ]);
    keep.push([out('floor', 'benchmark.json'), 'floor.json']);
  }
  if (s.analysis !== undefined) {
    const a = checkKeys(file, 'analysis', s.analysis, ['students', 'labels', 'settings']);
    if (!Array.isArray(a.students) || !a.students.length)
      throw new UserError(`${file}: "analysis.students" must list run names`);
    const students = (a.students as unknown[]).map((r, i) => str(file, `analysis.students[${i}]`, r));
    const labels =
      a.labels === undefined
        ? students.map((r) => r.replace(/_s\d+$/, ''))
        : (a.labels as unknown[]).map((l, i) => str(file, `analysis.labels[${i}]`, l));
    if (labels.length !== students.length)
      throw new UserError(`${file}: "analysis.labels" must name each of the ${students.length} students`);
    commands.push([
      'analyze',
      [
        '--task',
        task,
        '--teacher',
        teacherDir,
        '--students',
        students.map((r) => join(sweepDir, r)).join(','),
        '--labels',
        labels.join(','),
        ...recipeFlags(file, 'analysis.settings', a.settings, ANALYSIS_FLAGS),
        ...ONE,
        '--out',
        out('analysis'),
        '--overwrite',
      ],
    ]);
  }
  if (!Array.isArray(s.keep))
    throw new UserError(
      `${file}: "keep" must list [path in the study's output folder, name in experiments/results/${name}/] pairs`,
    );
  for (const [i, k] of (s.keep as unknown[]).entries()) {
    if (!Array.isArray(k) || k.length !== 2) throw new UserError(`${file}: "keep[${i}]" must be a [from, to] pair`);
    keep.push([out(str(file, `keep[${i}][0]`, k[0])), str(file, `keep[${i}][1]`, k[1])]);
  }
  const seeds =
    s.seeds === undefined
      ? undefined
      : (s.seeds as unknown[]).map((x, i) => {
          if (!Number.isInteger(x)) throw new UserError(`${file}: "seeds[${i}]" must be an integer`);
          return x as number;
        });
  return {
    name,
    what: str(file, 'description', s.description),
    task,
    block,
    sweepDir,
    teacherDir,
    keep,
    commands,
    teacherOf,
    prepare,
    seeds,
    ...(s.reduced === undefined ? {} : { reduced: str(file, 'reduced', s.reduced) }),
  };
}

/** Every study file, in name order, except that a study reusing another's teacher comes after that one. */
export function experiments(dir = join(PROJECT_ROOT, STUDIES)): Experiment[] {
  const all = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readStudy(f.slice(0, -5), dir));
  const ordered: Experiment[] = [];
  const add = (e: Experiment, path: string[]) => {
    if (ordered.includes(e)) return;
    if (path.includes(e.name))
      throw new UserError(
        `${STUDIES}: the studies ${[...path, e.name].join(' -> ')} reuse each other's teachers in a circle`,
      );
    if (e.teacherOf) {
      const src = all.find((x) => x.name === e.teacherOf);
      if (!src)
        throw new UserError(
          `${STUDIES}/${e.name}.json: "teacher.from" names "${e.teacherOf}", which is no study (known: ` +
            `${all.map((x) => x.name).join(', ')})`,
        );
      add(src, [...path, e.name]);
    }
    ordered.push(e);
  };
  for (const e of all) add(e, []);
  return ordered;
}
