/**
 * Shared CLI plumbing, one implementation for every command: flags (node:util parseArgs; `--help`/`-h` print the
 * help and nothing else; an unknown flag is a one-line error with the closest known flag), the run-config flags of
 * the training commands, and a top-level handler: user errors print one line and exit 2, internal errors their
 * stack and exit 1.
 */
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { readFileSync, writeSync } from 'node:fs';
import {
  defaultRunConfig,
  resolveConfig,
  resolveRunConfig,
  TRAIN_DEFAULTS,
  type ResolvedConfig,
} from '../train/config.js';
import { checkGlueDir, resolveGlueDir } from '../data/tasks.js';
import { explainBackendError, initBackend, type BackendInfo } from '../backend/backend.js';
import { ConfigError, didYouMean, UserError } from '../util/errors.js';
import { Interrupted, stoppedExitCode } from '../train/stop.js';
import { TERMS } from '../kd/losses.js';

/**
 * The allowed values of a numeric flag: an integer or any finite number, bounds (min/max inclusive, above exclusive),
 * or one of a few values; `words` are non-numeric values the flag also takes (e.g. "sep").
 */
export interface NumRange {
  kind: 'int' | 'float';
  min?: number;
  max?: number;
  above?: number;
  oneOf?: readonly number[];
  words?: readonly string[];
}

export type FlagSpec = Record<
  string,
  { type: 'string' | 'boolean'; help: string; default?: string | boolean; multiple?: boolean; num?: NumRange }
>;

/** The allowed values of a numeric flag, in words: "an integer >= 1", "a number > 0", "2, 4 or 8". */
export function describeRange(r: NumRange): string {
  const words = r.words?.length ? ` (or ${r.words.join(', ')})` : '';
  if (r.oneOf) return `${r.oneOf.slice(0, -1).join(', ')} or ${r.oneOf[r.oneOf.length - 1]}${words}`;
  const what = r.kind === 'int' ? 'an integer' : 'a number';
  const bounds = [
    r.above !== undefined ? `> ${r.above}` : r.min !== undefined ? `>= ${r.min}` : '',
    r.max !== undefined ? `<= ${r.max}` : '',
  ].filter(Boolean);
  return `${what}${bounds.length ? ` ${bounds.join(' and ')}` : ''}${words}`;
}

/** Why `value` is not allowed by `r`, or null when it is. */
export function rangeProblem(value: string, r: NumRange): string | null {
  if (r.words?.includes(value)) return null;
  const n = Number(value);
  const ok =
    value.trim() !== '' &&
    Number.isFinite(n) &&
    (r.kind === 'float' || Number.isInteger(n)) &&
    (r.oneOf
      ? r.oneOf.includes(n)
      : (r.min === undefined || n >= r.min) &&
        (r.max === undefined || n <= r.max) &&
        (r.above === undefined || n > r.above));
  return ok ? null : `must be ${describeRange(r)}`;
}

const INT1: NumRange = { kind: 'int', min: 1 };
/** A seed: the generators use it as an unsigned 32-bit integer. */
export const SEED_RANGE: NumRange = { kind: 'int', min: 0, max: 2 ** 32 - 1 };

/** Flags of every training run, teacher fine-tuning included (finetune, qat, sweep). */
export const TRAIN_FLAGS: FlagSpec = {
  task: { type: 'string', help: 'GLUE task: cola, sst-2, mrpc, sts-b, qqp, mnli, qnli, rte, wnli' },
  seed: { type: 'string', help: 'run seed (default 42)', num: SEED_RANGE },
  'data-dir': {
    type: 'string',
    help:
      'GLUE directory (default: $GLUE_DIR, then data/glue; a task in neither is downloaded into data/glue on ' +
      'first use)',
  },
  'max-seq-len': { type: 'string', help: "max sequence length (default: the task's reference value)", num: INT1 },
  'batch-size': { type: 'string', help: "batch size (default: the task's reference value)", num: INT1 },
  'train-limit': { type: 'string', help: 'use only the first N training examples', num: INT1 },
  'eval-limit': { type: 'string', help: 'use only the first N dev examples', num: INT1 },
  epochs: {
    type: 'string',
    help: `training epochs (default ${TRAIN_DEFAULTS.epochs})`,
    num: { kind: 'float', above: 0 },
  },
  'max-steps': { type: 'string', help: 'stop after N optimizer steps', num: INT1 },
  'eval-every': { type: 'string', help: "evaluate every N steps (default: the task's reference value)", num: INT1 },
  lr: {
    type: 'string',
    help: `peak learning rate (default ${TRAIN_DEFAULTS.lr.toExponential()})`,
    num: { kind: 'float', above: 0 },
  },
  'dynamic-padding': {
    type: 'boolean',
    help:
      'pad each batch to its longest sequence, not the max length (faster; not the reference: results differ ' +
      'slightly)',
  },
  'eval-after-last-step': { type: 'boolean', help: 'also evaluate after the last step (the reference does not)' },
  config: { type: 'string', help: 'JSON file with run-config overrides (flags win)' },
  backend: {
    type: 'string',
    help:
      "tensor backend: node-gpu, node, native, wasm, cpu, plain (tfjs's cpu kernels only, none of kdqat's: a " +
      'check of the standard-op paths) (default: best available; env KDQAT_BACKEND)',
  },
  threads: {
    type: 'string',
    help:
      'threads of the native kernels (default: every core for one run; a sweep runs one 1-thread run per core; env ' +
      'KDQAT_THREADS)',
    num: INT1,
  },
};

/** Flags that only a KD-QAT run has (qat, sweep): an error for finetune. */
export const QAT_FLAGS: FlagSpec = {
  'weight-bits': {
    type: 'string',
    help: 'student weight bits: 2 (ternary, default), 4, 8',
    num: { kind: 'int', oneOf: [2, 4, 8] },
  },
  'gt-regression-labels': {
    type: 'boolean',
    help: "regression gt loss on labels instead of the reference's teacher logits",
  },
  'force-new': {
    type: 'boolean',
    help:
      'a run folder holding another configuration is moved to .replaced/ and the run starts anew (default: ' +
      'refused)',
  },
};

/** The kd section's flags (qat; a sweep's grid sets them per arm). */
export const KD_FLAGS: FlagSpec = {
  preset: { type: 'string', help: 'KD preset: ternarybert, map, output, map+output (default map+output)' },
  'map-coeff': { type: 'string', help: 'attention-map loss coefficient (default 1)', num: { kind: 'float', min: 0 } },
  'output-coeff': {
    type: 'string',
    help: 'attention-output loss coefficient (default 1)',
    num: { kind: 'float', min: 0 },
  },
  coeffs: { type: 'string', help: `explicit term coefficients, e.g. "gt=1,score=0.5" (terms: ${TERMS.join(', ')})` },
};

/** Flags of the KD-QAT run config (qat, sweep). */
export const RUN_FLAGS: FlagSpec = { ...TRAIN_FLAGS, ...QAT_FLAGS };

/** Run-config sections that a teacher fine-tuning does not use: a --config file setting them is an error there. */
const QAT_SECTIONS = ['kd', 'quant'];

export class UsageError extends UserError {
  constructor(msg: string) {
    super(msg);
    this.name = 'UsageError';
  }
}

/**
 * Parse argv against `spec`. `--help` / `-h` print the help and exit 0 before anything else happens; an unknown flag
 * or a stray argument is a one-line UsageError naming the closest known flag and the way to the help; a flag of
 * `notApplicable` (flag -> why) says that it does not apply to this command.
 */
export function parseFlags(
  spec: FlagSpec,
  usage: string,
  argv = process.argv.slice(2),
  notApplicable: Record<string, string> = {},
): Record<string, string | boolean | undefined> {
  // the flag table as JSON, nothing else (test/numeric-flags.test.ts walks every command's table with it)
  // (written synchronously: console.log on a pipe followed by process.exit can lose the text)
  if (process.env.KDQAT_DUMP_FLAGS === '1') {
    writeSync(1, `${JSON.stringify({ usage, spec })}\n`);
    process.exit(0);
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText(spec, usage));
    process.exit(0);
  }
  argv = joinNegativeValues(spec, argv);
  const cmd = /npm run (\S+)/.exec(usage)?.[1];
  const hint = `${cmd ? `npm run ${cmd} -- ` : ''}--help lists the flags`;
  const options = Object.fromEntries(
    Object.entries(spec).map(([k, v]) => [
      k,
      {
        type: v.type,
        ...(v.multiple ? { multiple: true } : {}),
        ...(v.default !== undefined ? { default: v.default } : {}),
      },
    ]),
  );
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens ?? []) {
    if (t.kind === 'option' && Object.hasOwn(notApplicable, t.name))
      throw new UsageError(
        `${t.rawName} does not apply to ${cmd ?? 'this command'}: ${notApplicable[t.name]} (${hint})`,
      );
    if (t.kind === 'option' && !Object.hasOwn(spec, t.name))
      throw new UsageError(`unknown flag ${t.rawName}${didYouMean(t.name, Object.keys(spec), '--')} (${hint})`);
    if (t.kind === 'positional')
      throw new UsageError(`unexpected argument "${t.value}": flags start with -- (${hint})`);
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<
      string,
      string | boolean | undefined
    >;
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split('\n')[0]} (${hint})`);
  }
  // every numeric flag against its range, before any work: one line naming the flag, the value and what is allowed
  for (const [k, f] of Object.entries(spec)) {
    const val = values[k];
    if (!f.num || typeof val !== 'string') continue;
    const problem = rangeProblem(val, f.num);
    if (problem) throw new UsageError(`--${k} ${problem}, got "${val}"`);
  }
  return values;
}

/**
 * Node's parseArgs takes a value that starts with "-" for an option ("--epochs -1": "argument is ambiguous"): after a
 * flag that takes a value, a negative number is that flag's value (written --flag=value), so that its range check
 * names it.
 */
export function joinNegativeValues(spec: FlagSpec, argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i],
      m = /^--([^=]+)$/.exec(a),
      next = argv[i + 1];
    if (m && spec[m[1]]?.type === 'string' && next !== undefined && /^-(\d|\.\d|inf)/i.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export function helpText(spec: FlagSpec, usage: string): string {
  const w = Math.max(...Object.keys(spec).map((k) => k.length)) + 4;
  return `usage: ${usage}\n\n${Object.entries(spec)
    .map(([k, v]) => `  --${k.padEnd(w)}${v.help}${v.num ? ` [${describeRange(v.num)}]` : ''}`)
    .join('\n')}\n  -h, --help${' '.repeat(Math.max(1, w - 6))}this help (nothing else is done)`;
}

export function num(values: Record<string, unknown>, key: string, kind: 'int' | 'float' = 'float'): number | undefined {
  const v = values[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n)))
    throw new UsageError(`--${key} must be ${kind === 'int' ? 'an integer' : 'a number'}, got "${v}"`);
  return n;
}

/** `--jobs N` (undefined when not given), with a warning when N exceeds the cores this machine has. */
export function jobsFlag(
  v: Record<string, unknown>,
  warn: (s: string) => void = (s) => console.error(s),
): number | undefined {
  const jobs = num(v, 'jobs', 'int');
  if (jobs === undefined) return undefined;
  if (jobs < 1) throw new UsageError('--jobs must be at least 1');
  const cores = availableParallelism();
  if (jobs > cores)
    warn(
      `warning: --jobs ${jobs} is more than the ${cores} cores of this machine: runs will share cores and each will ` +
        `be slower`,
    );
  return jobs;
}

/**
 * The run config of a training command: flags over a --config FILE over the defaults, validated and resolved once
 * (resolveRunConfig). `mode` finetune refuses config-file sections that only KD-QAT uses (kd, quant).
 */
export function runConfigFromFlags(
  v: Record<string, string | boolean | undefined>,
  extra: Record<string, unknown> = {},
  mode: 'qat' | 'finetune' = 'qat',
): ResolvedConfig {
  // layers, each validated once: the defaults, the --config file (its errors name it), then `extra` and the flags
  let base = defaultRunConfig();
  if (typeof v.config === 'string') {
    let file: Record<string, unknown>;
    try {
      file = JSON.parse(readFileSync(v.config, 'utf8'));
    } catch (e) {
      throw new UsageError(`--config ${v.config}: ${(e as Error).message}`);
    }
    if (mode === 'finetune')
      for (const k of QAT_SECTIONS)
        if (k in file)
          throw new UsageError(
            `--config ${v.config}: "${k}" settings do not apply to a teacher fine-tuning (only to KD-QAT runs)`,
          );
    // the file is checked on its own, naming it: a bad value there is an error even where a flag overrides it
    try {
      base = resolveConfig(file);
    } catch (e) {
      throw e instanceof ConfigError ? new ConfigError(`--config ${v.config}: ${e.message}`) : e;
    }
  }
  const over: Record<string, Record<string, unknown> | unknown> = { ...extra };
  const sec = (k: string) => (over[k] = { ...((over[k] as object) ?? {}) }) as Record<string, unknown>;
  const set = (section: string, key: string, value: unknown) => {
    if (value !== undefined) sec(section)[key] = value;
  };
  if (typeof v.task === 'string') over.task = v.task.toLowerCase();
  if (v.seed !== undefined) over.seed = num(v, 'seed', 'int');
  set('data', 'glueDir', v['data-dir']);
  set('data', 'maxSeqLen', num(v, 'max-seq-len', 'int'));
  set('data', 'batchSize', num(v, 'batch-size', 'int'));
  set('data', 'trainLimit', num(v, 'train-limit', 'int'));
  set('data', 'evalLimit', num(v, 'eval-limit', 'int'));
  set('train', 'epochs', num(v, 'epochs'));
  set('train', 'maxSteps', num(v, 'max-steps', 'int'));
  set('train', 'evalEvery', num(v, 'eval-every', 'int'));
  set('train', 'lr', num(v, 'lr'));
  if (v['dynamic-padding']) set('data', 'dynamicPadding', true);
  if (v['eval-after-last-step']) set('train', 'evalAfterLastStep', true);
  set('quant', 'weightBits', num(v, 'weight-bits', 'int'));
  if (v['gt-regression-labels']) set('kd', 'gtRegressionUsesLabels', true);
  set('kd', 'preset', v.preset || undefined);
  set('kd', 'mapCoeff', num(v, 'map-coeff'));
  set('kd', 'outputCoeff', num(v, 'output-coeff'));
  if (typeof v.coeffs === 'string') {
    const coeffs: Record<string, number> = {};
    for (const kv of v.coeffs.split(',')) {
      const [k, val] = kv.split('=');
      if (!val || !Number.isFinite(Number(val))) throw new UsageError(`--coeffs: "${kv}" is not term=number`);
      coeffs[k.trim()] = Number(val);
    }
    if (Object.keys(coeffs).length) set('kd', 'coeffs', coeffs);
  }
  for (const k of Object.keys(over))
    if (over[k] && typeof over[k] === 'object' && Object.keys(over[k] as object).length === 0) delete over[k];
  const cfg = resolveRunConfig(over as Record<string, unknown>, base);
  // a GLUE folder named by the user that is missing or a task folder: said now, before any other work
  const gd = cfg.data.glueDir;
  checkGlueDir(
    resolveGlueDir(gd),
    gd ? `--data-dir ${gd}` : process.env.GLUE_DIR ? `GLUE_DIR=${process.env.GLUE_DIR}` : null,
  );
  return cfg;
}

/** --config-json: the whole resolved run config that a sweep passes to the runs and teacher jobs it starts. */
export function runConfigFromJson(text: string): ResolvedConfig {
  try {
    return resolveRunConfig(JSON.parse(text));
  } catch (e) {
    throw new UsageError(`--config-json: ${(e as Error).message}`);
  }
}

/** Start the tensor backend that --backend and --threads ask for (validated: a bad value is a usage error). */
export function initBackendFromFlags(v: Record<string, unknown>, opts: { quiet?: boolean } = {}): Promise<BackendInfo> {
  const threads = num(v, 'threads', 'int');
  if (threads !== undefined && threads < 1) throw new UsageError(`--threads must be at least 1, got ${threads}`);
  return initBackend(v.backend as string | undefined, { ...opts, threads });
}

/** Error classes (by name) that are the user's: bad input files, data, checkpoints, locks held. */
const USER_ERRORS = [
  'UserError',
  'UsageError',
  'DataError',
  'CheckpointError',
  'SafetensorsError',
  'ConfigError',
  'LockError',
  'ZipError',
  'AnalysisInputError',
  'SlurmError',
];

/** Run a CLI main; input/usage/config errors print their message only, other errors their stack. */
// biome-ignore lint/suspicious/noConfusingVoidType: a main may return nothing (exit 0) or an exit code
export function runMain(name: string, main: () => Promise<number | void>): void {
  // exit only once stdout and stderr are flushed: a pipe's pending writes (a summary line) must not be dropped
  const exit = (code: number) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
  main().then(
    (code) => exit(code ?? 0),
    (e0: Error) => {
      if (e0 instanceof Interrupted) {
        console.error(`${name}: ${e0.message}`);
        exit(stoppedExitCode(e0.signal));
        return;
      }
      const e = explainBackendError(e0);
      const expected =
        e !== e0 ||
        e instanceof UserError ||
        e instanceof ConfigError ||
        USER_ERRORS.includes(e.name) ||
        /^(requested backend|sweep grid)/.test(e.message);
      console.error(`${name}: ${expected ? e.message : (e.stack ?? e)}`);
      exit(expected ? 2 : 1);
    },
  );
}
