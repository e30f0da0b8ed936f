/**
 * Exact Hessian-vector products of the reference's Hessian loss (docs/method.md §7b), by double backprop through the
 * model, STE quantizers included:
 *   L(theta) = CE(logits, labels) (mean over the batch; regression: MSE(logits[:,0], labels))
 *              + l2 * sum_p ||p||_2  (non-squared Frobenius norms of ALL parameters; l2 = 0.01), eval mode.
 *   Hv = d/dtheta_S (grad_{theta_S} L . v) for a parameter subset S (name regex; default all parameters).
 * A parameter whose norm is exactly 0 contributes nothing (torch's norm backward masks the 0/0 to 0); with
 * `normMin`, neither does one whose norm is at most normMin (its term's curvature l2 / ||p|| would be near-singular).
 * l2 = 0 is the task loss alone (`--hessian-loss data`).
 * Dataset mode averages Hv over batches weighted by batch size, as PyHessian's dataloader_hv_product.
 *
 * Every product is taken at the same point theta_0, so the Hv graph uses FrozenWeightQuant's hooks (weights
 * quantized once, twice-differentiable quantized products; see frozen-quant.ts). The L2 term's Hv is added in
 * closed form. Tensors that depend on a subset-excluded parameter are constants of the Hv graph.
 * Single-batch mode records the forward and first backward once (RetainedGraph, PyTorch's retain_graph as PyHessian
 * uses it) and replays only the second backward for each v; dataset mode recomputes them per batch and product.
 */
import * as tf from '@tensorflow/tfjs';
import { bertForward, embeddingLookup, nonPadMask, type Batch, type Params, type QuantHooks } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import { makeQuantHooks, WORD_EMBEDDINGS, type QuantConfig } from '../quant/plan.js';
import { FrozenWeightQuant } from './frozen-quant.js';
import { RetainedGraph } from './retained-graph.js';
import { logSoftmax2, registerSecondOrderGradients } from './second-order.js';
import { HV_L2 } from '../backend/fused.js';
import {
  hutchinsonTrace,
  powerIteration,
  type HvOperator,
  type PowerOptions,
  type PowerResult,
  type TraceResult,
  type Vec,
} from './eigen.js';

export interface HessianBatch {
  batch: Batch;
  /** [B] int32 class ids, or float32 targets for regression */
  labels: tf.Tensor1D;
}

export interface HessianSetup {
  params: Params;
  config: BertConfig;
  /** one batch = PyHessian's single-batch mode; several = dataset mode (Hv averaged, weighted by batch size) */
  batches: HessianBatch[];
  /** student quantizers (STE); undefined = full-precision model */
  quant?: QuantConfig;
  /** parameters to differentiate (regex on the Hugging Face names); default: all */
  subset?: RegExp;
  /** coefficient of sum_p ||p||_2; default 0.01 */
  l2?: number;
  /** parameters with ||p|| <= normMin are left out of the norm term (default 0: only exact zeros, as the reference) */
  normMin?: number;
  /** one batch: record its forward and first backward once and replay only the second backward for every product
   * (PyTorch's retain_graph, as PyHessian); default true. false: recompute everything on every product */
  retainGraph?: boolean;
}

/** CE (mean over the batch) or MSE for regression (num_labels = 1). logits [B,C], labels [B]. */
export function taskLoss(logits: tf.Tensor2D, labels: tf.Tensor1D, regression: boolean): tf.Scalar {
  if (regression) {
    const d = tf.sub(tf.reshape(logits, [-1]), tf.cast(labels, 'float32'));
    return tf.mean(tf.mul(d, d));
  }
  // cast, not oneHot's dtype: wasm's OneHot with dtype float32 writes int bits
  const oh = tf.cast(tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]), 'float32');
  return tf.neg(tf.mean(tf.sum(tf.mul(oh, logSoftmax2(logits)), -1))) as tf.Scalar;
}

export class BertHessian {
  readonly names: string[];
  readonly shapes: number[][];
  private readonly nonzero: Set<string>;
  private readonly regression: boolean;
  /** weight quantizers evaluated at theta_0 (value and STE mask) */
  private readonly frozen: FrozenWeightQuant | null;
  /** the recorded first-order graph of the single batch (retain mode), built on the first product */
  private graph: RetainedGraph | null = null;
  private readonly retain: boolean;
  /** index in `names` of the word embeddings when they are differentiated through their looked-up rows, else -1 */
  private readonly rowIndex: number;
  /** ||p||, ||p||^3 per parameter of the norm term (those in `nonzero`: ||p|| > 0, or > normMin) */
  private readonly norms = new Map<string, { nrm: tf.Tensor; nrm3: tf.Tensor; nrmValue: number; nrm3Value: number }>();

  constructor(private readonly s: HessianSetup) {
    registerSecondOrderGradients();
    if (!s.batches.length) throw new Error('BertHessian: no batches');
    this.names = Object.keys(s.params).filter((n) => !s.subset || s.subset.test(n));
    if (!this.names.length) throw new Error(`BertHessian: no parameter matches ${s.subset}`);
    this.shapes = this.names.map((n) => s.params[n].shape);
    this.regression = s.config.num_labels === 1;
    const normMin = s.normMin ?? 0;
    this.nonzero = new Set(
      Object.keys(s.params).filter((n) =>
        tf.tidy(() =>
          normMin > 0
            ? tf.norm(s.params[n]).dataSync()[0] > normMin
            : tf.any(tf.notEqual(s.params[n], 0)).dataSync()[0] === 1,
        ),
      ),
    );
    // ||p|| and ||p||^3 of the fixed point theta_0, once (hvL2 needs them on every product)
    for (const n of this.names) {
      if (!this.nonzero.has(n)) continue;
      const nrm = tf.tidy(() => tf.sqrt(tf.sum(tf.mul(s.params[n], s.params[n]))));
      const nrm3 = tf.tidy(() => tf.pow(nrm, 3));
      this.norms.set(n, { nrm, nrm3, nrmValue: nrm.dataSync()[0], nrm3Value: nrm3.dataSync()[0] });
    }
    this.frozen = s.quant ? new FrozenWeightQuant(s.quant, s.params, true) : null;
    this.retain = s.retainGraph ?? true;
    const iw = this.names.indexOf(WORD_EMBEDDINGS); // per-row quantized (or FP) word embeddings: see innerGrads
    this.rowIndex = iw >= 0 && (!s.quant || makeQuantHooks(s.quant).perRow?.(WORD_EMBEDDINGS) === true) ? iw : -1;
  }

  dispose(): void {
    this.graph?.dispose();
    this.graph = null;
    this.frozen?.dispose();
    for (const { nrm, nrm3 } of this.norms.values()) tf.dispose([nrm, nrm3]);
    this.norms.clear();
  }

  /** live student hooks (any theta), or hooks with the weight quantizers frozen at theta_0 (Hv products only) */
  private hooks(frozen: boolean): QuantHooks | undefined {
    if (!this.s.quant) return undefined;
    return frozen && this.frozen ? this.frozen.hooks() : makeQuantHooks(this.s.quant);
  }

  get numParams(): number {
    return this.shapes.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  }

  /**
   * the task loss (CE / MSE) at params p (all parameters) for one batch, or with the word-embedding rows given; scalar
   */
  taskLossAt(p: Params, b: HessianBatch, frozenWeights = false, wordRows?: tf.Tensor): tf.Scalar {
    const out = bertForward(p, this.s.config, b.batch, { training: false, quant: this.hooks(frozenWeights), wordRows });
    return taskLoss(out.logits, b.labels, this.regression);
  }

  /** the whole Hessian loss at params p (all parameters) for one batch: task loss + l2 sum ||p||; scalar */
  loss(p: Params, b: HessianBatch): tf.Scalar {
    let l = this.taskLossAt(p, b);
    const l2 = this.s.l2 ?? 0.01;
    if (l2) {
      const norms = Object.keys(p)
        .filter((n) => this.nonzero.has(n))
        .map((n) => tf.sqrt(tf.sum(tf.mul(p[n], p[n]))));
      l = tf.add(l, tf.mul(tf.addN(norms), l2));
    }
    return l;
  }

  private withSubset(xs: tf.Tensor[]): Params {
    const p: Params = { ...this.s.params };
    this.names.forEach((n, i) => {
      p[n] = xs[i];
    });
    return p;
  }

  /** loss value and gradient (subset) for one batch */
  gradient(b: HessianBatch): { loss: number; grads: Vec } {
    const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => this.loss(this.withSubset(xs), b))(
      this.names.map((n) => this.s.params[n]),
    );
    const loss = value.dataSync()[0];
    value.dispose();
    return { loss, grads };
  }

  /**
   * grad_theta CE of batch b at parameters xs (names order), weights frozen at theta_0 (Hv products only). The word
   * embeddings W [V,D] enter the loss only through their looked-up rows R = W[ids], so their entry is g_R [B,T,D]
   * (g_W = scatter of keep_t g_R[t] to rows ids_t, keep_t = ids_t != pad: the pad row gets no gradient): only the
   * final Hv of W is a dense [V,D] tensor, not the inner gradient and its product with v.
   */
  private innerGrads(xs: tf.Tensor[], b: HessianBatch): tf.Tensor[] {
    const iw = this.rowIndex,
      pad = this.s.config.pad_token_id ?? 0;
    if (iw < 0) return tf.grads((...zs: tf.Tensor[]) => this.taskLossAt(this.withSubset(zs), b, true))(xs);
    const ys = xs.map((x, i) => (i === iw ? embeddingLookup(x, b.batch.inputIds, pad) : x));
    return tf.grads((...zs: tf.Tensor[]) =>
      this.taskLossAt(this.withSubset(zs.map((z, i) => (i === iw ? xs[iw] : z))), b, true, zs[iw]),
    )(ys);
  }

  /** v as the cotangent of innerGrads: v_p, and for the word embeddings v_W[ids] with the pad positions zeroed */
  private cotangent(v: Vec, b: HessianBatch): Vec {
    const iw = this.rowIndex,
      ids = b.batch.inputIds;
    return v.map((x, i) =>
      i === iw ? tf.mul(tf.gather(x, ids), tf.expandDims(nonPadMask(ids, this.s.config.pad_token_id ?? 0), -1)) : x,
    );
  }

  /** exact Hv of the task loss of one batch: grad_theta (grad_theta CE . v) (the L2 term is added analytically) */
  hvTask(v: Vec, b: HessianBatch): Vec {
    const params = this.names.map((n) => this.s.params[n]);
    if (this.retain && this.s.batches.length === 1 && b === this.s.batches[0]) {
      // one batch (PyHessian's single-batch mode): one forward and first backward, replayed for every v
      this.graph ??= new RetainedGraph(params, () =>
        tf.concat(this.innerGrads(params, b).map((g) => tf.reshape(g, [-1]))),
      );
      return tf.tidy(() => this.graph!.vjp(tf.concat(this.cotangent(v, b).map((c) => tf.reshape(c, [-1])))));
    }
    return tf.tidy(() => {
      const ct = this.cotangent(v, b);
      return tf.grads(
        (...xs: tf.Tensor[]) => tf.addN(this.innerGrads(xs, b).map((g, i) => tf.sum(tf.mul(g, ct[i])))) as tf.Scalar,
      )(params);
    });
  }

  /**
   * acc + the Hv of l2 * sum_p ||p|| (block diagonal): l2 (v_p / ||p|| - p (p . v_p) / ||p||^3) per parameter p with
   * ||p|| > 0; acc is disposed. The native backend does each parameter in one fused kernel (KdqHvL2).
   * Computed in closed form: double backprop through ~40 norms costs more kernels than the model itself.
   */
  private addHvL2(acc: Vec, v: Vec): Vec {
    const l2 = this.s.l2 ?? 0.01;
    const fused = tf.getKernel(HV_L2, tf.getBackend()) !== undefined;
    const out = tf.tidy(() =>
      this.names.map((n, i) => {
        const norm = this.norms.get(n);
        if (!l2 || !norm) return tf.clone(acc[i]);
        const p = this.s.params[n];
        if (fused)
          return tf
            .engine()
            .runKernel(
              HV_L2,
              { acc: acc[i], v: v[i], p },
              { l2, nrm: norm.nrmValue, nrm3: norm.nrm3Value },
            ) as tf.Tensor;
        const pv = tf.sum(tf.mul(p, v[i]));
        return tf.add(acc[i], tf.mul(tf.sub(tf.div(v[i], norm.nrm), tf.mul(p, tf.div(pv, norm.nrm3))), l2));
      }),
    );
    tf.dispose(acc);
    return out;
  }

  /** exact Hv of the whole loss: sum_b B_b Hv_b / sum_b B_b of the task loss (one batch: its Hv), plus the L2 term */
  hv: HvOperator = (v) => {
    const bs = this.s.batches;
    let acc: Vec;
    if (bs.length === 1) acc = this.hvTask(v, bs[0]);
    else {
      let total = 0;
      acc = v.map((x) => tf.zerosLike(x));
      for (const b of bs) {
        const n = b.labels.shape[0];
        const h = this.hvTask(v, b);
        const next = tf.tidy(() => acc.map((a, i) => tf.add(a, tf.mul(h[i], n))));
        tf.dispose([...acc, ...h]);
        acc = next;
        total += n;
      }
      const avg = tf.tidy(() => acc.map((a) => tf.div(a, total)));
      tf.dispose(acc);
      acc = avg;
    }
    return this.addHvL2(acc, v);
  };

  eigenvalues(opts: PowerOptions = {}): PowerResult {
    return powerIteration(this.hv, this.shapes, { topN: 3, ...opts });
  }

  trace(opts: { maxIter?: number; tol?: number; seed?: number } = {}): TraceResult {
    return hutchinsonTrace(this.hv, this.shapes, opts);
  }
}

/** Parameter-name regexes of the per-layer subsets: embeddings, each encoder layer, pooler + classifier. */
export function layerSubsets(c: BertConfig): { name: string; re: RegExp }[] {
  const out = [{ name: 'embeddings', re: /^bert\.embeddings\./ }];
  for (let l = 0; l < c.num_hidden_layers; l++)
    out.push({ name: `layer.${l}`, re: new RegExp(`^bert\\.encoder\\.layer\\.${l}\\.`) });
  out.push({ name: 'head', re: /^(bert\.pooler\.|classifier\.)/ });
  return out;
}
