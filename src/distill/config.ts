/**
 * The distillation sections of a run config, `kd` and `quant`: their defaults, their schema, their checks, and the
 * KD coefficients they mean (resolved here and nowhere else).
 */
import { PRESETS, presetCoeffs, TERMS, type Coeffs } from '../kd/losses.js';
import { QUANT_DEFAULTS, type QuantConfig } from '../quant/plan.js';
import { ConfigError, didYouMean } from '../util/errors.js';
import {
  any,
  checkValue,
  int,
  mergeSection,
  nullable,
  number,
  object,
  posint,
  string,
  boolean,
} from '../util/schema.js';
import type { Field, Schema } from '../util/schema.js';
import { BALANCER_KINDS, type BalancerConfig } from './balancers.js';

export interface KdConfig {
  preset: string;
  mapCoeff: number;
  outputCoeff: number;
  /** explicit coefficients for any term (override the preset) */
  coeffs: Partial<Coeffs> | null;
  /** reference quirk: regression gt loss uses the teacher logits; true = the labels */
  gtRegressionUsesLabels: boolean;
  /** how the student's loss and the KD terms are combined (balancers.ts); absent or null = static coefficients */
  balancer?: BalancerConfig | null;
}

export const KD_DEFAULTS: KdConfig = {
  preset: 'map+output',
  mapCoeff: 1,
  outputCoeff: 1,
  coeffs: null,
  gtRegressionUsesLabels: false,
};

export const KD_SCHEMA = {
  preset: string,
  mapCoeff: number,
  outputCoeff: number,
  coeffs: nullable(object),
  gtRegressionUsesLabels: boolean,
  balancer: nullable(object),
} satisfies Schema<KdConfig>;

export const QUANT_SCHEMA = {
  weightBits: int,
  actBits: posint,
  clip: number,
  weightRules: any,
  actRules: any,
} satisfies Schema<QuantConfig>;

/** The coefficients of a kd config: the preset with mapCoeff/outputCoeff, then explicit coefficients. */
export function kdCoeffs(kd: KdConfig): Coeffs {
  return { ...presetCoeffs(kd.preset, kd.mapCoeff, kd.outputCoeff), ...(kd.coeffs ?? {}) };
}

/** The checks across keys of merged kd and quant sections (each key's type is checked by the schema). */
export function checkCompression(quant: QuantConfig, kd: KdConfig): void {
  if (![2, 4, 8].includes(quant.weightBits))
    throw new ConfigError(`config key "quant.weightBits" must be 2, 4 or 8, got ${quant.weightBits}`);
  if (!PRESETS[kd.preset])
    throw new ConfigError(
      `config key "kd.preset": unknown preset "${kd.preset}"; choose one of ${Object.keys(PRESETS).join(', ')}`,
    );
  if (kd.coeffs)
    for (const t of Object.keys(kd.coeffs))
      if (!(TERMS as readonly string[]).includes(t))
        throw new ConfigError(`config key "kd.coeffs.${t}": unknown loss term; known: ${TERMS.join(', ')}`);
  if (kd.balancer) checkBalancer(kd.balancer as unknown as Record<string, unknown>);
  const coeffs = kdCoeffs(kd);
  if (!TERMS.some((t) => coeffs[t]))
    throw new ConfigError('config key "kd.coeffs": every KD term coefficient is 0; enable at least one term');
}

/** Partial kd and quant sections (API options, a saved file's metadata) merged into the defaults and checked. */
export function resolveCompression(
  quant: Partial<QuantConfig> = {},
  kd: Partial<KdConfig> = {},
): { quant: QuantConfig; kd: KdConfig } {
  const q = structuredClone(QUANT_DEFAULTS) as unknown as Record<string, unknown>;
  const k = structuredClone(KD_DEFAULTS) as unknown as Record<string, unknown>;
  mergeSection('quant', QUANT_SCHEMA, q, quant);
  mergeSection('kd', KD_SCHEMA, k, kd);
  const out = { quant: q as unknown as QuantConfig, kd: k as unknown as KdConfig };
  checkCompression(out.quant, out.kd);
  return out;
}

/** kd.balancer: a known kind and, per kind, its known keys with valid values */
function checkBalancer(b: Record<string, unknown>): void {
  const keys: Record<string, Record<string, Field>> = {
    static: {},
    'modelopt-static': { kdLossWeight: number },
    uncertainty: { lr: nullable(number), init: nullable(number) },
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
        `unknown config key "kd.balancer.${k}" for kind ${b.kind}` +
          didYouMean(k, Object.keys(allowed), 'kd.balancer.') +
          ` (known: ${['kind', ...Object.keys(allowed)].join(', ')})`,
      );
    if (v !== undefined) checkValue(`kd.balancer.${k}`, v, allowed[k]);
  }
  const w = b.kdLossWeight as number | undefined;
  if (b.kind === 'modelopt-static' && (w === undefined || w < 0 || w > 1))
    throw new ConfigError(`config key "kd.balancer.kdLossWeight" must be a number in [0, 1], got ${JSON.stringify(w)}`);
  if (b.kind === 'uncertainty' && b.lr != null && !((b.lr as number) > 0))
    throw new ConfigError(`config key "kd.balancer.lr" must be > 0, got ${b.lr}`);
}
