/**
 * BertAdam exactly as the reference (transformer/optimization.py):
 *   g <- g * min(1, max_norm / (||g|| + 1e-6))        per parameter tensor (clip_grad_norm_ on each p separately)
 *   m <- b1 m + (1 - b1) g ; v <- b2 v + (1 - b2) g^2  (no bias correction)
 *   u <- m / (sqrt(v) + eps) + wd * p                  (wd = 0 for names containing "bias" / "LayerNorm")
 *   p <- p - lr * schedule(step / t_total, warmup) * u ; step += 1 (the first update uses step 0)
 */
import * as tf from '@tensorflow/tfjs';
import { BERT_ADAM } from '../backend/fused.js';

export interface BertAdamConfig {
  lr: number;
  b1: number;
  b2: number;
  eps: number;
  weightDecay: number;
  maxGradNorm: number;
  warmup: number;
  schedule: 'warmup_linear' | 'warmup_constant' | 'none';
  /** -1 = no schedule */
  tTotal: number;
}

export const ADAM_DEFAULTS: Omit<BertAdamConfig, 'tTotal'> = {
  lr: 2e-5,
  b1: 0.9,
  b2: 0.999,
  eps: 1e-6,
  weightDecay: 0.01,
  maxGradNorm: 1.0,
  warmup: 0.1,
  schedule: 'warmup_linear',
};

/** TernaryBERT's warmup_linear: x/warmup during warmup, then max((x - 1)/(warmup - 1), 0). */
export function scheduleFactor(kind: BertAdamConfig['schedule'], x: number, warmup: number): number {
  if (kind === 'none') return 1;
  if (x < warmup) return x / warmup;
  return kind === 'warmup_constant' ? 1 : Math.max((x - 1) / (warmup - 1), 0);
}

const NO_DECAY = ['bias', 'LayerNorm.bias', 'LayerNorm.weight'];
export const decays = (name: string): boolean => !NO_DECAY.some((n) => name.includes(n));

export interface AdamState {
  step: number;
  m: Record<string, tf.Variable>;
  v: Record<string, tf.Variable>;
}

export class BertAdam {
  readonly state: AdamState = { step: 0, m: {}, v: {} };
  constructor(readonly cfg: BertAdamConfig) {}

  lrAt(step = this.state.step): number {
    return this.cfg.tTotal === -1
      ? this.cfg.lr
      : this.cfg.lr * scheduleFactor(this.cfg.schedule, step / this.cfg.tTotal, this.cfg.warmup);
  }

  /** One update of every variable that has a gradient. Disposes nothing it was given. */
  apply(vars: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>): void {
    const { b1, b2, eps, weightDecay, maxGradNorm } = this.cfg;
    const lr = this.lrAt();
    const fused = tf.getKernel(BERT_ADAM, tf.getBackend()) !== undefined;
    tf.tidy(() => {
      for (const [name, p] of Object.entries(vars)) {
        let g = grads[name];
        if (!g) continue;
        if (!this.state.m[name]) {
          this.state.m[name] = tf.variable(tf.zerosLike(p), false);
          this.state.v[name] = tf.variable(tf.zerosLike(p), false);
        }
        const m = this.state.m[name],
          v = this.state.v[name];
        const wd = weightDecay > 0 && decays(name) ? weightDecay : 0;
        if (fused) {
          // the native backend: one kernel, the same float32 operations (native/src/fused.cc)
          const h = [b1, 1 - b1, b2, 1 - b2, eps, wd, lr, maxGradNorm];
          const [p1, m1, v1] = tf.engine().runKernel(BERT_ADAM, { p, m, v, g }, { h }) as tf.Tensor[];
          m.assign(m1);
          v.assign(v1);
          p.assign(p1);
          continue;
        }
        if (maxGradNorm > 0) {
          // torch clip_grad_norm_: g * min(1, max_norm / (||g|| + 1e-6)); a scalar factor (no elementwise select)
          const coef = tf.minimum(tf.div(maxGradNorm, tf.add(tf.sqrt(tf.sum(tf.mul(g, g))), 1e-6)), 1);
          g = tf.mul(g, coef);
        }
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.mul(g, g), 1 - b2)));
        let u = tf.div(m, tf.add(tf.sqrt(v), eps));
        if (wd > 0) u = tf.add(u, tf.mul(p, wd));
        p.assign(tf.sub(p, tf.mul(u, lr)));
      }
    });
    this.state.step += 1;
  }

  /** State as plain arrays for checkpointing (names "adam.m.<param>", "adam.v.<param>"). */
  async exportState(): Promise<{ step: number; tensors: Record<string, { shape: number[]; data: Float32Array }> }> {
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [k, t] of Object.entries(this.state.m))
      tensors[`adam.m.${k}`] = { shape: t.shape, data: (await t.data()) as Float32Array };
    for (const [k, t] of Object.entries(this.state.v))
      tensors[`adam.v.${k}`] = { shape: t.shape, data: (await t.data()) as Float32Array };
    return { step: this.state.step, tensors };
  }

  importState(step: number, tensors: Map<string, { shape: number[]; data: ArrayLike<number> }>): void {
    this.dispose();
    this.state.step = step;
    for (const [k, t] of tensors) {
      const m = /^adam\.(m|v)\.(.+)$/.exec(k);
      if (!m) continue;
      this.state[m[1] as 'm' | 'v'][m[2]] = tf.variable(tf.tensor(Float32Array.from(t.data), t.shape), false);
    }
  }

  dispose(): void {
    for (const t of [...Object.values(this.state.m), ...Object.values(this.state.v)]) t.dispose();
    this.state.m = {};
    this.state.v = {};
  }
}
