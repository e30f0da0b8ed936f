/**
 * Shared CLI plumbing: flags (node:util parseArgs, strict: unknown flags are errors), the run-config flags every
 * training command takes, and a top-level error handler that prints a clear message (no stack trace for input
 * errors).
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { resolveConfig, ConfigError, type RunConfig } from '../train/config.js';
import { explainBackendError, initBackend, type BackendInfo } from '../util/backend.js';
import { stoppedExitCode, TrainingStopped } from '../train/stop.js';

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; help: string; default?: string | boolean; multiple?: boolean }>;

/** Flags of the run config (qat, finetune, sweep). */
export const RUN_FLAGS: FlagSpec = {
  task: { type: 'string', help: 'GLUE task: cola, sst-2, mrpc, sts-b, qqp, mnli, qnli, rte, wnli' },
  seed: { type: 'string', help: 'run seed (default 42)' },
  'data-dir': { type: 'string', help: 'GLUE directory (default: $GLUE_DIR, then data/glue)' },
  'max-seq-len': { type: 'string', help: 'max sequence length (default: the task\'s reference value)' },
  'batch-size': { type: 'string', help: 'batch size (default: the task\'s reference value)' },
  'train-limit': { type: 'string', help: 'use only the first N training examples' },
  'eval-limit': { type: 'string', help: 'use only the first N dev examples' },
  epochs: { type: 'string', help: 'training epochs (default 3)' },
  'max-steps': { type: 'string', help: 'stop after N optimizer steps' },
  'eval-every': { type: 'string', help: 'evaluate every N steps (default: the task\'s reference value)' },
  lr: { type: 'string', help: 'peak learning rate (default 2e-5)' },
  'weight-bits': { type: 'string', help: 'student weight bits: 2 (ternary, default), 4, 8' },
  'dynamic-padding': { type: 'boolean', help: 'pad each batch to its longest sequence, not the max length (faster; not the reference: results differ slightly)' },
  'eval-after-last-step': { type: 'boolean', help: 'also evaluate after the last step (the reference does not)' },
  'gt-regression-labels': { type: 'boolean', help: 'regression gt loss on labels instead of the reference\'s teacher logits' },
  config: { type: 'string', help: 'JSON file with run-config overrides (flags win)' },
  backend: { type: 'string', help: 'tensor backend: node-gpu, node, native, wasm, cpu (default: best available; env KDQAT_BACKEND)' },
  threads: { type: 'string', help: 'threads of the native kernels (default: every core; 1 per run when a sweep runs --jobs > 1; env KDQAT_THREADS)' },
};

export class UsageError extends Error {}

export function parseFlags(spec: FlagSpec, usage: string, argv = process.argv.slice(2)): Record<string, string | boolean | undefined> {
  const options = Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, { type: v.type, ...(v.default !== undefined ? { default: v.default } : {}), ...(v.multiple ? { multiple: true } : {}) }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean' } }, strict: true, allowPositionals: false }) as { values: Record<string, string | boolean | undefined> });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${helpText(spec, usage)}`);
  }
  if (values.help) { console.log(helpText(spec, usage)); process.exit(0); }
  return values;
}

export function helpText(spec: FlagSpec, usage: string): string {
  const w = Math.max(...Object.keys(spec).map((k) => k.length)) + 4;
  return `usage: ${usage}\n\n${Object.entries(spec).map(([k, v]) => `  --${k.padEnd(w)}${v.help}`).join('\n')}`;
}

export function num(values: Record<string, unknown>, key: string, kind: 'int' | 'float' = 'float'): number | undefined {
  const v = values[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) throw new UsageError(`--${key} must be ${kind === 'int' ? 'an integer' : 'a number'}, got "${v}"`);
  return n;
}

/** Build the run-config override object from flags (and --config FILE), validated by resolveConfig. */
export function runConfigFromFlags(v: Record<string, string | boolean | undefined>, extra: Record<string, unknown> = {}): RunConfig {
  let file: Record<string, unknown> = {};
  if (typeof v.config === 'string') {
    try { file = JSON.parse(readFileSync(v.config, 'utf8')); } catch (e) { throw new UsageError(`--config ${v.config}: ${(e as Error).message}`); }
  }
  const over: Record<string, Record<string, unknown> | unknown> = { ...file, ...extra };
  const sec = (k: string) => (over[k] = { ...((over[k] as object) ?? {}) }) as Record<string, unknown>;
  const set = (section: string, key: string, value: unknown) => { if (value !== undefined) sec(section)[key] = value; };
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
  for (const k of Object.keys(over)) if (over[k] && typeof over[k] === 'object' && Object.keys(over[k] as object).length === 0) delete over[k];
  return resolveConfig(over as Record<string, unknown>);
}

/** Start the tensor backend that --backend and --threads ask for (validated: a bad value is a usage error). */
export function initBackendFromFlags(v: Record<string, unknown>, opts: { quiet?: boolean } = {}): Promise<BackendInfo> {
  const threads = num(v, 'threads', 'int');
  if (threads !== undefined && threads < 1) throw new UsageError(`--threads must be at least 1, got ${threads}`);
  return initBackend(v.backend as string | undefined, { ...opts, threads });
}

/** Run a CLI main; input/usage/config errors print their message only, other errors their stack. */
export function runMain(name: string, main: () => Promise<number | void>): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (e0: Error) => {
      if (e0 instanceof TrainingStopped) { console.error(`${name}: ${e0.message}`); process.exit(stoppedExitCode(e0.signal)); }
      const e = explainBackendError(e0);
      const expected = e !== e0 || e instanceof UsageError || e instanceof ConfigError || ['DataError', 'CheckpointError', 'SafetensorsError', 'ConfigError', 'LockError', 'SlurmError'].includes(e.name) || /^(requested backend|sweep grid)/.test(e.message);
      console.error(`${name}: ${expected ? e.message : e.stack ?? e}`);
      process.exit(expected ? 2 : 1);
    },
  );
}
