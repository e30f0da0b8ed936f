/**
 * The configuration of `npm run analyze`, resolved once from a config file (`--config FILE.json`) and flags (which
 * win): the run-wide keys below, and one section per analysis of the registry (its name; its settings declared by
 * its module). Errors name the key and the file, or the flag.
 */
import { readFileSync } from 'node:fs';
import { ANALYSES, EXPERIMENTS, type AnalysisSettings, type Experiment } from './registry.js';
import { AnalysisConfigError, fileOf, flagsOf, keyOf, resolveSettings } from './settings.js';
import type { Setting } from './types.js';

/** defaults that finish in minutes on a tiny model (docs/students.md); the notebooks' full settings are a key away */
export const DEFAULT_HESSIAN_EXAMPLES = 2;

const RUN: Setting[] = [
  { key: 'task', flag: 'task', field: { kind: 'string' }, help: 'GLUE task (rte, sst-2, ...)' },
  { key: 'teacher', flag: 'teacher', field: { kind: 'string' }, help: 'full-precision teacher directory' },
  {
    key: 'students',
    flag: 'students',
    field: { kind: 'list' },
    help: 'comma-separated students: KD-QAT run folders (their best student, see --which) or student folders',
    default: [],
  },
  {
    key: 'which',
    flag: 'which',
    field: { kind: 'enum', values: ['best', 'last'] },
    help:
      'of each run folder: best (the weights of its best evaluation, student/) or last (the final weights, ' +
      'student-last/)',
    default: 'best',
  },
  {
    key: 'labels',
    flag: 'labels',
    field: { kind: 'list' },
    help: 'comma-separated legend labels of the students (default: run folder names)',
  },
  {
    key: 'experiments',
    flag: 'exp',
    field: { kind: 'list', values: EXPERIMENTS },
    help: 'the analyses to run',
    default: [...EXPERIMENTS],
  },
  {
    key: 'examples',
    flag: 'examples',
    field: { kind: 'int', min: 1 },
    help: 'number of dev examples (a seeded random sample; the notebooks use all)',
    default: 64,
  },
  {
    key: 'sample',
    flag: 'sample',
    field: { kind: 'enum', values: ['random', 'first'] },
    help: "random (seeded, as the notebooks' RandomSampler) or first",
    default: 'random',
  },
  {
    key: 'seed',
    flag: 'seed',
    field: { kind: 'int', min: 0, max: 2 ** 32 - 1 },
    help: 'seed of the example sample and the Hessian start vectors',
    default: 42,
  },
  {
    key: 'inputs',
    flag: 'inputs',
    field: { kind: 'string' },
    help: 'read examples from an inputs.safetensors (input_ids, token_type_ids, seq_lengths, labels) instead of GLUE',
  },
  { key: 'dataDir', flag: 'data-dir', field: { kind: 'string' }, help: 'GLUE directory' },
  {
    key: 'tokenizer',
    flag: 'tokenizer',
    field: { kind: 'string' },
    help: "tokenizer.json / vocab.txt (default: the teacher directory's)",
  },
  { key: 'out', flag: 'out', field: { kind: 'string' }, help: 'output folder (default output/analysis/<task>)' },
  {
    key: 'tokenTypes',
    flag: 'token-types',
    field: { kind: 'enum', values: ['zeros', 'real'] },
    help: 'zeros (the notebooks call the model with input ids only) or real',
    default: 'zeros',
  },
  {
    key: 'plots',
    flag: 'no-plots',
    field: { kind: 'bool', flagMeans: false },
    help: 'results.json only',
    default: true,
  },
  {
    key: 'overwrite',
    flag: 'overwrite',
    field: { kind: 'bool' },
    help: 'replace the results of an earlier analysis in the output folder (default: refused, they are kept)',
    default: false,
  },
  { key: 'backend', flag: 'backend', field: { kind: 'string' }, help: 'tensor backend' },
  { key: 'threads', flag: 'threads', field: { kind: 'int', min: 1 }, help: 'threads of the native kernels' },
];

/** Each analysis's section as written in a config file (settings the run fills in itself left out). */
type Sections = {
  distance: AnalysisSettings['distance'];
  range: AnalysisSettings['range'];
  norms: Omit<AnalysisSettings['norms'], 'classIds'>;
  hessian: Omit<AnalysisSettings['hessian'], 'seed' | 'l2' | 'examples'> & { examples?: number };
};

export interface AnalyzeConfig extends Sections {
  task: string;
  teacher: string;
  students: string[];
  which: 'best' | 'last';
  labels?: string[];
  experiments: Experiment[];
  examples: number;
  sample: 'random' | 'first';
  seed: number;
  inputs?: string;
  dataDir?: string;
  tokenizer?: string;
  out?: string;
  tokenTypes: 'zeros' | 'real';
  plots: boolean;
  overwrite: boolean;
  backend?: string;
  threads?: number;
}

/** The flag table of every setting: the run-wide ones and each analysis's. */
export function analyzeFlags() {
  return { ...flagsOf(RUN), ...Object.assign({}, ...ANALYSES.map((a) => flagsOf(a.settings))) } as ReturnType<
    typeof flagsOf
  >;
}

/** A config file's JSON object; a file that cannot be read or parsed is an error naming it. */
export function readAnalyzeConfig(path: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new AnalysisConfigError(`--config ${path}: ${(e as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new AnalysisConfigError(`--config ${path}: a JSON object of settings, got ${JSON.stringify(v)}`);
  return v as Record<string, unknown>;
}

/**
 * The configuration from a config file (its path for the errors; {} without one) and flags. Task and teacher are
 * required; every value is checked before any work.
 */
export function resolveAnalyzeConfig(
  flags: Record<string, string | boolean | undefined>,
  file: Record<string, unknown> = {},
  path?: string,
): AnalyzeConfig {
  const sections = ANALYSES.map((a) => a.name);
  const top = Object.fromEntries(Object.entries(file).filter(([k]) => !sections.includes(k)));
  const cfg = resolveSettings(RUN, top, flags, { path }) as unknown as AnalyzeConfig;
  const c = cfg as unknown as Record<string, unknown>;
  for (const a of ANALYSES) {
    const sec = file[a.name] ?? {};
    if (typeof sec !== 'object' || Array.isArray(sec) || sec === null)
      throw new AnalysisConfigError(
        `${fileOf({ path })}${keyOf({}, a.name)} must be an object of its settings, got ${JSON.stringify(sec)}`,
      );
    c[a.name] = resolveSettings(a.settings, sec as Record<string, unknown>, flags, { path, section: a.name });
  }
  for (const k of ['task', 'teacher'] as const)
    if (typeof cfg[k] !== 'string')
      throw new AnalysisConfigError(`--${k} is required${path ? ` (or the key "${k}" in ${path})` : ''}`);
  if (cfg.labels && cfg.labels.length !== cfg.students.length)
    throw new AnalysisConfigError(`--labels has ${cfg.labels.length} entries for ${cfg.students.length} students`);
  if (!cfg.students.length && cfg.experiments.some((e) => e === 'distance' || e === 'norms'))
    throw new AnalysisConfigError('--students is required for the distance and norms experiments');
  if (cfg.hessian.params !== null)
    try {
      new RegExp(cfg.hessian.params);
    } catch (e) {
      throw new AnalysisConfigError(`--hessian-params: ${(e as Error).message}`);
    }
  return cfg;
}
