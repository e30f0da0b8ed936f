/**
 * The run configuration: one typed object composed from per-module defaults and schemas, validated at the boundary
 * (unknown keys are errors, values are type-checked), and written next to every result.
 */
import { QUANT_DEFAULTS, type QuantConfig } from '../quant/plan.js';
import { checkCompression, KD_DEFAULTS, KD_SCHEMA, QUANT_SCHEMA, type KdConfig } from '../distill/config.js';
import { ConfigError } from '../util/errors.js';
import { getTask } from '../data/tasks.js';
import {
  boolean,
  checkValue,
  int,
  mergeSection,
  nullable,
  number,
  posint,
  string,
  unknownKey,
} from '../util/schema.js';
import type { Field, Schema } from '../util/schema.js';
import { ADAM_DEFAULTS } from './bertadam.js';

export interface DataConfig {
  /** GLUE root (null: --data-dir, then GLUE_DIR, then data/glue) */
  glueDir: string | null;
  /** null = the task's reference default (docs/method.md §5) */
  maxSeqLen: number | null;
  batchSize: number | null;
  /** keep only the first N training / dev examples (CPU-sized work); null = all */
  trainLimit: number | null;
  evalLimit: number | null;
  /**
   * pad each batch only to its longest sequence instead of the task's max length. Not the reference: the 8-bit
   * activation scales (max|x| over the tensor) and the MSE terms (averaged over padding) then see fewer padded
   * positions, so results differ slightly; CoLA steps get several times cheaper. Off by default.
   */
  dynamicPadding: boolean;
}

export interface TrainConfig {
  epochs: number;
  /** stop after this many optimizer steps (t_total still from epochs unless maxSteps is smaller) */
  maxSteps: number | null;
  /** null = the task's reference eval interval */
  evalEvery: number | null;
  /** checkpoint for resumption every N steps (null = at every evaluation) */
  checkpointEvery: number | null;
  lr: number;
  warmup: number;
  weightDecay: number;
  maxGradNorm: number;
  /**
   * the reference evaluates at step % eval == 0 and at t_total - 1 but never after the last step; true adds a final
   * evaluation
   */
  evalAfterLastStep: boolean;
}

export interface RunConfig {
  task: string;
  seed: number;
  /** the teacher's folder that a KD-QAT run distils from ('' for a fine-tuning, which has none) */
  teacher: string;
  data: DataConfig;
  train: TrainConfig;
  kd: KdConfig;
  quant: QuantConfig;
}

export const DATA_DEFAULTS: DataConfig = {
  glueDir: null,
  maxSeqLen: null,
  batchSize: null,
  trainLimit: null,
  evalLimit: null,
  dynamicPadding: false,
};
export const TRAIN_DEFAULTS: TrainConfig = {
  epochs: 3,
  maxSteps: null,
  evalEvery: null,
  checkpointEvery: null,
  lr: ADAM_DEFAULTS.lr,
  warmup: ADAM_DEFAULTS.warmup,
  weightDecay: ADAM_DEFAULTS.weightDecay,
  maxGradNorm: ADAM_DEFAULTS.maxGradNorm,
  evalAfterLastStep: false,
};

export function defaultRunConfig(): RunConfig {
  return {
    task: 'rte',
    seed: 42,
    teacher: '',
    data: { ...DATA_DEFAULTS },
    train: { ...TRAIN_DEFAULTS },
    kd: { ...KD_DEFAULTS },
    quant: { ...QUANT_DEFAULTS },
  };
}

const DATA_SCHEMA = {
  glueDir: nullable(string),
  maxSeqLen: nullable(posint),
  batchSize: nullable(posint),
  trainLimit: nullable(posint),
  evalLimit: nullable(posint),
  dynamicPadding: boolean,
} satisfies Schema<DataConfig>;

const TRAIN_SCHEMA = {
  epochs: number,
  maxSteps: nullable(posint),
  evalEvery: nullable(posint),
  checkpointEvery: nullable(posint),
  lr: number,
  warmup: number,
  weightDecay: number,
  maxGradNorm: number,
  evalAfterLastStep: boolean,
} satisfies Schema<TrainConfig>;

/** the run config's keys: a field, or a section of fields */
const RUN_SCHEMA: Record<keyof RunConfig, Field | { section: Record<string, Field> }> = {
  task: string,
  seed: int,
  teacher: string,
  data: { section: DATA_SCHEMA },
  train: { section: TRAIN_SCHEMA },
  kd: { section: KD_SCHEMA },
  quant: { section: QUANT_SCHEMA },
};

/** Merge `over` into `base` (both plain objects), rejecting unknown keys; returns a new validated RunConfig. */
export function resolveConfig(over: Record<string, unknown>, base: RunConfig = defaultRunConfig()): RunConfig {
  const out = structuredClone(base) as unknown as Record<string, unknown>;
  const known = Object.keys(RUN_SCHEMA);
  for (const [k, v] of Object.entries(over)) {
    const s = RUN_SCHEMA[k as keyof RunConfig];
    if (!s) throw unknownKey(k, known);
    if ('section' in s) mergeSection(k, s.section, out[k] as Record<string, unknown>, v);
    else {
      checkValue(k, v, s);
      out[k] = v;
    }
  }
  const c = out as unknown as RunConfig;
  checkCompression(c.quant, c.kd);
  if (c.train.warmup < 0 || c.train.warmup >= 1)
    throw new ConfigError(`config key "train.warmup" must be in [0, 1), got ${c.train.warmup}`);
  if (c.train.epochs <= 0) throw new ConfigError(`config key "train.epochs" must be > 0, got ${c.train.epochs}`);
  return c;
}

/** A run config whose task defaults are applied: length, batch size and evaluation interval are numbers. */
export interface ResolvedConfig extends RunConfig {
  data: DataConfig & { maxSeqLen: number; batchSize: number };
  train: TrainConfig & { evalEvery: number };
}

/** The task's reference values where the config says null (length, batch, evaluation interval), its task's own name. */
export function withTaskDefaults(cfg: RunConfig): ResolvedConfig {
  const t = getTask(cfg.task);
  return {
    ...cfg,
    task: t.name,
    data: { ...cfg.data, maxSeqLen: cfg.data.maxSeqLen ?? t.maxSeqLen, batchSize: cfg.data.batchSize ?? t.batchSize },
    train: { ...cfg.train, evalEvery: cfg.train.evalEvery ?? t.evalStep },
  };
}

/**
 * The one way to a run's configuration, from flags, a config file or API options alike: `over` merged into the
 * defaults (or into `base`), validated, the task defaults applied. Everything downstream reads it as it is.
 */
export function resolveRunConfig(over: Record<string, unknown>, base?: RunConfig): ResolvedConfig {
  return withTaskDefaults(resolveConfig(over, base));
}
