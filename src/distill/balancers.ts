/**
 * Loss balancers: how the student's own loss and the KD terms add up to the loss that is differentiated.
 * Chosen by `kd.balancer` of the distillation config (absent or null = static, today's behaviour).
 *
 *   static          total = sum_t c_t L_t [+ L_student]                      (coefficients of the KD table)
 *   modelopt-static total = w * sum_t c_t L_t + (1 - w) * L_student           (ModelOpt's StaticLossBalancer
 *                   with a scalar kd_loss_weight w; w < 1 needs a student loss, see CompressionHandle)
 *   uncertainty     total = sum_i exp(-s_i) L_i + s_i, L_i = c_t L_t per active term (+ L_student), s_i = log
 *                   sigma_i^2 learned by SGD: homoscedastic uncertainty weighting, Kendall, Gal & Cipolla, "Multi-Task
 *                   Learning Using Uncertainty to Weigh Losses for Scenes Geometry and Semantics", CVPR 2018 (eq. 7
 *                   up to the factor 1/2). Its stationary point is s_i = log L_i: each task weighted by 1 / L_i.
 */
import * as tf from '@tensorflow/tfjs';
import { TERMS, weightedSum, type Coeffs, type Term } from '../kd/losses.js';

export type BalancerConfig =
  | { kind: 'static' }
  | { kind: 'modelopt-static'; kdLossWeight: number }
  | { kind: 'uncertainty'; lr?: number; init?: number };

export const BALANCER_KINDS = ['static', 'modelopt-static', 'uncertainty'] as const;

export type LossTerms = Partial<Record<Term, tf.Scalar>>;
export interface StateTensor {
  shape: number[];
  data: Float32Array;
}

export interface LossBalancer {
  readonly config: BalancerConfig;
  /** true when `combine` needs the student's own loss (the handle then supplies the gt term if none is given) */
  readonly needsStudentLoss: boolean;
  /** total loss from the unweighted KD terms L_t (scalars), the coefficients c_t and the student's loss (or null) */
  combine(terms: LossTerms, coeffs: Coeffs, studentLoss: tf.Scalar | null): tf.Scalar;
  /** learnable parameters (differentiate the total with respect to them too); {} for static balancers */
  readonly variables: Record<string, tf.Variable>;
  /** one update of the learnable parameters from their gradients (keyed by the names of `variables`) */
  update(grads: Record<string, tf.Tensor>): void;
  /** current weights of each task (exp(-s_i) for uncertainty), for logging */
  weights(): Record<string, number>;
  exportState(): Record<string, StateTensor>;
  importState(state: Map<string, { shape: number[]; data: ArrayLike<number> }>): void;
  dispose(): void;
}

/** short name part for run names: '' for the static default */
export function balancerTag(b: BalancerConfig | null | undefined): string {
  if (!b || b.kind === 'static') return '';
  return b.kind === 'modelopt-static' ? `kdw${b.kdLossWeight}` : 'uw';
}

const noState = {
  variables: {} as Record<string, tf.Variable>,
  update: () => {},
  exportState: () => ({}),
  importState: () => {},
  dispose: () => {},
};

function staticBalancer(): LossBalancer {
  return {
    config: { kind: 'static' },
    needsStudentLoss: false,
    ...noState,
    weights: () => ({}),
    combine: (terms, coeffs, studentLoss) => {
      const kd = weightedSum(terms, coeffs);
      return studentLoss ? tf.add(kd, studentLoss) : kd;
    },
  };
}

function modeloptStatic(w: number): LossBalancer {
  return {
    config: { kind: 'modelopt-static', kdLossWeight: w },
    needsStudentLoss: w < 1,
    ...noState,
    weights: () => ({ kd: w, student: 1 - w }),
    combine: (terms, coeffs, studentLoss) => {
      const kd = tf.mul(weightedSum(terms, coeffs), w) as tf.Scalar;
      return studentLoss && w < 1 ? tf.add(kd, tf.mul(studentLoss, 1 - w)) : kd;
    },
  };
}

let balancerSet = 0;

function uncertainty(coeffs: Coeffs, lr: number, init: number): LossBalancer {
  const tasks = [...TERMS.filter((t) => coeffs[t]), 'student'];
  const prefix = `balancer${balancerSet++}/`;
  let vars: Record<string, tf.Variable> = {};
  const make = (values: Record<string, number>) => {
    for (const v of Object.values(vars)) v.dispose();
    vars = Object.fromEntries(tasks.map((t) => [t, tf.variable(tf.scalar(values[t] ?? init), true, `${prefix}${t}`)]));
  };
  make({});
  return {
    config: { kind: 'uncertainty', lr, init },
    needsStudentLoss: false,
    get variables() {
      return vars;
    },
    combine: (terms, cs, studentLoss) => {
      const parts: [string, tf.Scalar][] = TERMS.filter((t) => terms[t] && cs[t]).map((t) => [
        t,
        cs[t] === 1 ? terms[t]! : tf.mul(terms[t]!, cs[t]),
      ]);
      if (studentLoss) parts.push(['student', studentLoss]);
      if (!parts.length) throw new Error('kdLoss: every loss coefficient is 0; enable at least one term');
      // exp(-s_i) L_i + s_i, summed
      return parts
        .map(([t, l]) => tf.add(tf.mul(tf.exp(tf.neg(vars[t])), l), vars[t]) as tf.Scalar)
        .reduce((a, b) => tf.add(a, b));
    },
    update: (grads) =>
      tf.tidy(() => {
        for (const [t, g] of Object.entries(grads)) vars[t]?.assign(tf.sub(vars[t], tf.mul(g, lr)));
      }),
    weights: () => Object.fromEntries(tasks.map((t) => [t, Math.exp(-vars[t].dataSync()[0])])),
    exportState: () =>
      Object.fromEntries(tasks.map((t) => [t, { shape: [], data: vars[t].dataSync() as Float32Array }])),
    importState: (state) => make(Object.fromEntries([...state].map(([k, v]) => [k, v.data[0]]))),
    dispose: () => {
      for (const v of Object.values(vars)) v.dispose();
      vars = {};
    },
  };
}

/** The balancer of a (validated) config; coefficients fix the uncertainty balancer's tasks. */
export function makeBalancer(b: BalancerConfig | null | undefined, coeffs: Coeffs): LossBalancer {
  if (!b || b.kind === 'static') return staticBalancer();
  if (b.kind === 'modelopt-static') return modeloptStatic(b.kdLossWeight);
  return uncertainty(coeffs, b.lr ?? 1e-2, b.init ?? 0);
}
