/**
 * Student quantizer hooks for analyses that evaluate the model at one fixed point theta_0 (forward analyses,
 * Hessian-vector products). Values are identical to src/quant/plan.ts's hooks; the differences:
 * - weight quantizers are evaluated once: Q(W_0), with the live quantizer's STE mask at W_0 as gradient (read off
 *   its own backward), so first and second derivatives at W_0 equal those through the live quantizer (its mask has
 *   zero derivative). A per-row quantizer (the 30522-row word embedding) stays live: it quantizes only the B*T
 *   looked-up rows (Q(W)[ids] = Q(W[ids])), and its STE gradient (KdqSteMask / mul) is twice differentiable.
 * - quantized products (withGrad): the value is the live hook's exact integer-grid product, but the gradient is
 *   recomputed from the saved operands through the STE quantizers, so that it is itself differentiable. The live
 *   hook's gradient uses quantized operands computed inside the op, which an outer tape cannot see: the Hessian
 *   would lose the cross terms through every quantized product (3.8% error on the fixture student).
 */
import * as tf from '@tensorflow/tfjs';
import type { Params, QuantHooks } from '../model/bert.js';
import { makeQuantHooks, type QuantConfig } from '../quant/plan.js';
import { steMask } from '../backend/fused.js';

const custom = (f: (...args: never[]) => unknown) =>
  tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown;

export class FrozenWeightQuant {
  private readonly frozen = new Map<string, { value: tf.Tensor; mask: tf.Tensor | null }>();
  /**
   * value Q(W_0) (a copy), gradient dy * mask(W_0). Q(W_0) and the mask are constants of the graph, closed over
   * rather than passed as inputs: no zero gradients of two [30522, D] tables per backward pass.
   */
  private ste(w: tf.Tensor, value: tf.Tensor, mask: tf.Tensor): tf.Tensor {
    return (
      custom((_w: tf.Tensor) => ({ value: value.clone(), gradFunc: (dy: tf.Tensor) => [tf.mul(dy, mask)] })) as (
        w: tf.Tensor,
      ) => tf.Tensor
    )(w);
  }

  /** withGrad: record the STE masks and use twice-differentiable products (gradients / Hv products) */
  constructor(
    private readonly cfg: QuantConfig,
    params: Params,
    private readonly withGrad: boolean,
  ) {
    const hooks = makeQuantHooks(cfg);
    for (const [n, w] of Object.entries(params)) {
      const q = hooks.weightQuantizer(n);
      // a per-row quantizer (the word embeddings) is applied to the looked-up rows by the live hook instead
      if (q && !q.rowwise)
        this.frozen.set(n, {
          value: q.quantize(w),
          mask: withGrad ? tf.grad((x: tf.Tensor) => tf.sum(q.apply(x)))(w) : null,
        });
    }
  }

  /** fresh hooks (the activation quantizers keep per-forward state) */
  hooks(): QuantHooks {
    const live = makeQuantHooks(this.cfg);
    const weight = (name: string, w: tf.Tensor): tf.Tensor => {
      const f = this.frozen.get(name);
      if (!f) return live.weight(name, w);
      return f.mask ? this.ste(w, f.value, f.mask) : f.value.clone();
    };
    const perRow = live.perRow;
    if (!this.withGrad) return { weight, act: live.act, matmul: live.matmul, perRow };
    /** operand p quantized with an STE gradient, and g -> g * its STE mask (identity when there is no quantizer) */
    const operand = (p: string, x: tf.Tensor): { q: tf.Tensor; mask: (g: tf.Tensor) => tf.Tensor } => {
      if (p.endsWith('.weight')) {
        const f = this.frozen.get(p);
        return f ? { q: this.ste(x, f.value, f.mask!), mask: (g) => tf.mul(g, f.mask!) } : { q: x, mask: (g) => g };
      }
      const aq = live.actQuantizer(p);
      return aq ? { q: aq.apply(x), mask: (g) => steMask(g, x, aq.clip) } : { q: x, mask: (g) => g };
    };
    const matmul = (pa: string, a: tf.Tensor, pb: string, b: tf.Tensor, transposeB: boolean): tf.Tensor => {
      const f = custom((x: tf.Tensor, y: tf.Tensor, save: tf.GradSaveFunc) => {
        save([x, y]);
        return {
          value: live.matmul(pa, x, pb, y, transposeB),
          // Q_a(x) @ op(Q_b(y)): dQa = dy @ op(Q_b)^T, dQb = Q_a^T dy (or dy^T Q_a when transposed), times the STE
          // masks; Q_a, Q_b recomputed from the saved inputs so that the outer tape sees their dependence on x and y
          gradFunc: (dy: tf.Tensor, [xs, ys]: tf.Tensor[]) => {
            const oa = operand(pa, xs),
              ob = operand(pb, ys);
            const dqa = tf.matMul(dy, ob.q, false, !transposeB);
            const dqb = transposeB ? tf.matMul(dy, oa.q, true, false) : tf.matMul(oa.q, dy, true, false);
            return [oa.mask(dqa), ob.mask(dqb)];
          },
        };
      }) as (x: tf.Tensor, y: tf.Tensor) => tf.Tensor;
      return f(a, b);
    };
    return { weight, act: live.act, matmul, perRow };
  }

  dispose(): void {
    for (const f of this.frozen.values()) tf.dispose(f.mask ? [f.value, f.mask] : [f.value]);
    this.frozen.clear();
  }
}
