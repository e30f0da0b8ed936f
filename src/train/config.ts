/**
 * The run configuration: one typed object composed from per-module defaults, validated once at the boundary
 * (unknown keys are errors, values are type-checked), and written next to every result.
 */
import { QUANT_DEFAULTS, type QuantConfig } from '../quant/plan.js';
import { ADAM_DEFAULTS } from './bertadam.js';
import { PRESETS, TERMS, type Coeffs } from '../kd/losses.js';
import { didYouMean } from '../util/errors.js';
import { BALANCER_KINDS, type BalancerConfig } from '../api/balancers.js';

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
  /** the reference evaluates at step % eval == 0 and at t_total - 1 but never after the last step; true adds a final evaluation */
  evalAfterLastStep: boolean;
}

export interface KdConfig {
  preset: string;
  mapCoeff: number;
  outputCoeff: number;
  /** explicit coefficients for any term (override the preset) */
  coeffs: Partial<Coeffs> | null;
  /** reference quirk: regression gt loss uses the teacher logits; true = the labels */
  gtRegressionUsesLabels: boolean;
  /** how the student's loss and the KD terms are combined (src/api/balancers.ts); absent or null = static coefficients */
  balancer?: BalancerConfig | null;
}

export interface RunConfig {
  task: string;
  seed: number;
  /** teacher directory (QAT) or BERT directory / preset (fine-tuning) */
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
export const KD_DEFAULTS: KdConfig = {
  preset: 'map+output',
  mapCoeff: 1,
  outputCoeff: 1,
  coeffs: null,
  gtRegressionUsesLabels: false,
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

export class ConfigError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'ConfigError';
  }
}

type Shape =
  | 'number'
  | 'int'
  | 'posint'
  | 'string'
  | 'boolean'
  | 'number?'
  | 'int?'
  | 'posint?'
  | 'string?'
  | 'object?'
  | 'any';
const SCHEMA: Record<string, Shape | Record<string, Shape>> = {
  task: 'string',
  seed: 'int',
  teacher: 'string',
  data: {
    glueDir: 'string?',
    maxSeqLen: 'posint?',
    batchSize: 'posint?',
    trainLimit: 'posint?',
    evalLimit: 'posint?',
    dynamicPadding: 'boolean',
  },
  train: {
    epochs: 'number',
    maxSteps: 'posint?',
    evalEvery: 'posint?',
    checkpointEvery: 'posint?',
    lr: 'number',
    warmup: 'number',
    weightDecay: 'number',
    maxGradNorm: 'number',
    evalAfterLastStep: 'boolean',
  },
  kd: {
    preset: 'string',
    mapCoeff: 'number',
    outputCoeff: 'number',
    coeffs: 'object?',
    gtRegressionUsesLabels: 'boolean',
    balancer: 'object?',
  },
  quant: { weightBits: 'int', actBits: 'posint', clip: 'number', weightRules: 'any', actRules: 'any' },
};

function checkValue(path: string, v: unknown, s: Shape): void {
  const opt = s.endsWith('?');
  if (opt && v === null) return;
  const base = s.replace('?', '');
  const bad = (what: string) => {
    throw new ConfigError(`config key "${path}" must be ${what}, got ${JSON.stringify(v)}`);
  };
  if (base === 'any') return;
  if (base === 'string' && typeof v !== 'string') bad('a string');
  if (base === 'boolean' && typeof v !== 'boolean') bad('true or false');
  if (base === 'object' && (typeof v !== 'object' || Array.isArray(v))) bad('an object');
  if (['number', 'int', 'posint'].includes(base)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) bad('a number');
    if (base !== 'number' && !Number.isInteger(v)) bad('an integer');
    if (base === 'posint' && (v as number) < 1) bad('a positive integer');
  }
}

/** Merge `over` into `base` (both plain objects), rejecting unknown keys; returns a new validated RunConfig. */
export function resolveConfig(over: Record<string, unknown>, base: RunConfig = defaultRunConfig()): RunConfig {
  const out = structuredClone(base) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(over)) {
    const s = SCHEMA[k];
    if (!s)
      throw new ConfigError(
        `unknown config key "${k}"${didYouMean(k, Object.keys(SCHEMA))} (known: ${Object.keys(SCHEMA).join(', ')})`,
      );
    if (typeof s === 'string') {
      checkValue(k, v, s);
      out[k] = v;
      continue;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new ConfigError(`config key "${k}" must be an object`);
    const sec = out[k] as Record<string, unknown>;
    for (const [kk, vv] of Object.entries(v)) {
      const ss = s[kk];
      if (!ss)
        throw new ConfigError(
          `unknown config key "${k}.${kk}"${didYouMean(kk, Object.keys(s), `${k}.`)} (known: ${Object.keys(s)
            .map((x) => `${k}.${x}`)
            .join(', ')})`,
        );
      checkValue(`${k}.${kk}`, vv, ss);
      sec[kk] = vv;
    }
  }
  const c = out as unknown as RunConfig;
  if (![2, 4, 8].includes(c.quant.weightBits))
    throw new ConfigError(`config key "quant.weightBits" must be 2, 4 or 8, got ${c.quant.weightBits}`);
  if (!PRESETS[c.kd.preset])
    throw new ConfigError(
      `config key "kd.preset": unknown preset "${c.kd.preset}"; choose one of ${Object.keys(PRESETS).join(', ')}`,
    );
  if (c.kd.coeffs)
    for (const t of Object.keys(c.kd.coeffs))
      if (!(TERMS as readonly string[]).includes(t))
        throw new ConfigError(`config key "kd.coeffs.${t}": unknown loss term; known: ${TERMS.join(', ')}`);
  if (c.kd.balancer) checkBalancer(c.kd.balancer as unknown as Record<string, unknown>);
  if (c.train.warmup < 0 || c.train.warmup >= 1)
    throw new ConfigError(`config key "train.warmup" must be in [0, 1), got ${c.train.warmup}`);
  if (c.train.epochs <= 0) throw new ConfigError(`config key "train.epochs" must be > 0, got ${c.train.epochs}`);
  return c;
}

/** kd.balancer: a known kind and, per kind, its known keys with valid values */
function checkBalancer(b: Record<string, unknown>): void {
  const keys: Record<string, Record<string, Shape>> = {
    static: {},
    'modelopt-static': { kdLossWeight: 'number' },
    uncertainty: { lr: 'number?', init: 'number?' },
  };
  if (!(BALANCER_KINDS as readonly unknown[]).includes(b.kind))
    throw new ConfigError(
      `config key "kd.balancer.kind" must be one of ${BALANCER_KINDS.join(', ')}, got ${JSON.stringify(b.kind)}`,
    );
  const allowed = keys[b.kind as string];
  for (const [k, v] of Object.entries(b)) {
    if (k === 'kind') continue;
    if (!allowed[k])
      throw new ConfigError(
        `unknown config key "kd.balancer.${k}" for kind ${b.kind}${didYouMean(k, Object.keys(allowed), 'kd.balancer.')} (known: ${['kind', ...Object.keys(allowed)].join(', ')})`,
      );
    if (v !== undefined) checkValue(`kd.balancer.${k}`, v, allowed[k]);
  }
  const w = b.kdLossWeight as number | undefined;
  if (b.kind === 'modelopt-static' && (w === undefined || w < 0 || w > 1))
    throw new ConfigError(`config key "kd.balancer.kdLossWeight" must be a number in [0, 1], got ${JSON.stringify(w)}`);
  if (b.kind === 'uncertainty' && b.lr != null && !((b.lr as number) > 0))
    throw new ConfigError(`config key "kd.balancer.lr" must be > 0, got ${b.lr}`);
}
