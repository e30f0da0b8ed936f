import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/backend.js';
import { logSoftmax2, registerSecondOrderGradients } from '../src/analysis/second-order.js';
import { BertHessian, taskLoss } from '../src/analysis/hessian.js';
import { bertForward, embeddingLookup, gelu, layerNorm, type Params, type QuantHooks } from '../src/model/bert.js';
import { makeQuantHooks, QUANT_DEFAULTS } from '../src/quant/plan.js';
import { initParams } from '../src/model/init.js';
import { BERT_DEFAULTS, type BertConfig } from '../src/model/config.js';
import { twn, sym } from '../src/quant/quantizers.js';
import { relFrobenius } from '../src/verify/report.js';

test.before(async () => {
  await initBackend(process.env.KDQAT_BACKEND ?? 'cpu', { quiet: true });
  registerSecondOrderGradients();
});

type F = (...xs: tf.Tensor[]) => tf.Scalar;

/** exact Hv of f at xs by double backprop */
function hvExact(f: F, xs: tf.Tensor[], v: tf.Tensor[]): number[] {
  return tf.tidy(() =>
    tf
      .grads((...ys: tf.Tensor[]) => {
        const g = tf.grads(f)(ys);
        return tf.addN(g.map((gi, i) => tf.sum(tf.mul(gi, v[i])))) as tf.Scalar;
      })(xs)
      .flatMap((t) => Array.from(t.dataSync())),
  );
}

/** central finite difference of the gradient: (g(x + eps v) - g(x - eps v)) / (2 eps), accumulated in float64 */
function hvFd(f: F, xs: tf.Tensor[], v: tf.Tensor[], eps: number): number[] {
  const g = (sgn: number) =>
    tf.tidy(() =>
      tf
        .grads(f)(xs.map((x, i) => tf.add(x, tf.mul(v[i], sgn * eps))))
        .flatMap((t) => Array.from(t.dataSync())),
    );
  const a = g(1),
    b = g(-1);
  return a.map((x, i) => (x - b[i]) / (2 * eps));
}

/** Richardson extrapolation of two central differences (error O(eps^4) instead of O(eps^2)) */
function hvFd4(f: F, xs: tf.Tensor[], v: tf.Tensor[], eps: number): number[] {
  const a = hvFd(f, xs, v, eps),
    b = hvFd(f, xs, v, eps / 2);
  return b.map((x, i) => (4 * x - a[i]) / 3);
}

const w = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

/** each op the BERT forward and the Hessian loss use, in a small nonlinear function of x [2,3,4] (and extras) */
const OPS: Record<string, { f: F; inputs: () => tf.Tensor[] }> = {};
const X = () => [w([2, 3, 4], 1)];
const W = w([2, 3, 4], 99);
const un = (name: string, op: (x: tf.Tensor) => tf.Tensor) => {
  OPS[name] = { f: (x) => tf.sum(tf.mul(W, op(x))), inputs: X };
};
un('Exp', (x) => tf.exp(x));
un('Log', (x) => tf.log(tf.add(tf.mul(x, x), 1)));
un('Tanh', (x) => tf.tanh(x));
un('Sigmoid', (x) => tf.sigmoid(x));
un('Softmax', (x) => tf.softmax(x));
un('logSoftmax2', (x) => logSoftmax2(x));
un('Erf', (x) => tf.erf(x));
un('gelu', (x) => gelu(x));
un('Rsqrt', (x) => tf.rsqrt(tf.add(tf.mul(x, x), 0.5)));
un('Sqrt', (x) => tf.sqrt(tf.add(tf.mul(x, x), 0.5)));
un('RealDiv', (x) => tf.div(x, tf.add(tf.mul(x, x), 2)));
un('Mean+Sub', (x) => tf.mul(x, tf.sub(x, tf.mean(x, -1, true))));
un('Sum+Neg', (x) => tf.neg(tf.mul(x, tf.sum(x, [0, 2], true))));
un('Max', (x) => tf.mul(x, tf.max(x, -1, true)));
un('Transpose+Reshape', (x) => tf.mul(x, tf.reshape(tf.transpose(tf.reshape(x, [2, 4, 3]), [0, 2, 1]), [2, 3, 4])));
un('Slice', (x) =>
  tf.mul(
    tf.pad(tf.slice(x, [0, 1, 0], [2, 2, 4]), [
      [0, 0],
      [1, 0],
      [0, 0],
    ]),
    x,
  ),
);
un('BatchMatMul', (x) =>
  tf
    .reshape(tf.matMul(tf.reshape(x, [2, 3, 4]), tf.reshape(x, [2, 3, 4]), false, true), [2, 9])
    .slice([0, 0], [2, 8])
    .reshape([2, 2, 4])
    .pad([
      [0, 0],
      [0, 1],
      [0, 0],
    ]),
);
un('MatMul2D', (x) =>
  tf.reshape(tf.matMul(tf.reshape(x, [6, 4]), tf.reshape(tf.mul(x, x), [6, 4]), true, false), [2, 2, 4]).pad([
    [0, 0],
    [0, 1],
    [0, 0],
  ]),
);
OPS.layerNorm = {
  f: (x, g, b) => tf.sum(tf.mul(W, tf.square(layerNorm(x, g, b, 1e-12)))),
  inputs: () => [w([2, 3, 4], 1), w([4], 2), w([4], 3)],
};
OPS['CE(logSoftmax2)'] = {
  f: (z) => taskLoss(z as tf.Tensor2D, tf.tensor1d([1, 0, 2], 'int32'), false),
  inputs: () => [w([3, 4], 4)],
};
OPS.MSE = { f: (z) => taskLoss(z as tf.Tensor2D, tf.tensor1d([0.5, -1, 2]), true), inputs: () => [w([3, 1], 4)] };
OPS.GatherV2 = {
  f: (tab) => {
    const e = tf.gather(tab, tf.tensor1d([0, 2, 2, 1], 'int32'));
    return tf.sum(tf.mul(e, tf.mul(e, W.reshape([6, 4]).slice([0, 0], [4, 4]))));
  },
  inputs: () => [w([3, 4], 5)],
};
OPS.embeddingLookup = {
  f: (tab) => {
    const e = embeddingLookup(
      tab,
      tf.tensor2d(
        [
          [1, 2],
          [2, 3],
        ],
        [2, 2],
        'int32',
      ),
      0,
    );
    return tf.sum(tf.mul(tf.tanh(e), e));
  },
  inputs: () => [w([4, 3], 6)],
};
OPS['l2 norm'] = { f: (x) => tf.sqrt(tf.sum(tf.mul(x, x))) as tf.Scalar, inputs: X };

for (const [name, { f, inputs }] of Object.entries(OPS)) {
  test(`second order of ${name} agrees with finite differences`, (t) => {
    const xs = inputs();
    const v = xs.map((x, i) => w(x.shape, 50 + i));
    const exact = hvExact(f, xs, v);
    const fd = hvFd(f, xs, v, 1e-2);
    const err = relFrobenius(exact, fd);
    t.true(Math.hypot(...fd) > 1e-3, `${name}: Hv is ~0, the check would be vacuous`);
    t.true(err < 2e-3, `${name}: relative error ${err}`);
    tf.dispose([...xs, ...v]);
  });
}

test('STE quantizers: second derivative of sum(w Q(x)^2) is diag(2 w 1[|x|<clip]) (STE both times)', (t) => {
  for (const q of [twn({ clip: 2.5 }), sym(8, { clip: 2.5 })]) {
    const x = tf.tensor1d([-3, -1.2, -0.3, 0.05, 0.4, 1.1, 2.7, 0.9]);
    const wt = tf.tensor1d([1, 2, -1, 0.5, 3, -2, 1, 1]);
    const v = tf.tensor1d([1, -1, 2, 0.5, -0.5, 1, 3, -2]);
    const f: F = (y) => tf.sum(tf.mul(wt, tf.square(q.apply(y))));
    const exact = hvExact(f, [x], [v]);
    const inside = [0, 1, 1, 1, 1, 1, 0, 1];
    const want = [1, 2, -1, 0.5, 3, -2, 1, 1].map((wi, i) => 2 * wi * inside[i] * [1, -1, 2, 0.5, -0.5, 1, 3, -2][i]);
    t.true(relFrobenius(exact, want) < 1e-6, `${q.name}: ${exact} vs ${want}`);
    tf.dispose([x, wt, v]);
  }
});

function tinyBert(numLabels: number): { config: BertConfig; params: Params } {
  const config: BertConfig = {
    ...BERT_DEFAULTS,
    vocab_size: 30,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 16,
    initializer_range: 0.3,
    num_labels: numLabels,
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
  };
  const p0 = initParams(config, 3);
  // non-trivial LayerNorm weights and biases so every parameter's second-order path is exercised
  const params = Object.fromEntries(
    Object.entries(p0).map(([n, x], i) => [n, tf.add(x, tf.randomNormal(x.shape, 0, 0.2, 'float32', 100 + i))]),
  );
  tf.dispose(Object.values(p0));
  return { config, params };
}

for (const numLabels of [2, 1]) {
  test(
    `exact HVP of a tiny FP BERT (${numLabels === 1 ? 'MSE' : 'CE'} + 0.01 sum ||p||) agrees with finite ` +
      `differences`,
    (t) => {
      const { config, params } = tinyBert(numLabels);
      const batch = {
        inputIds: tf.tensor2d(
          [
            [2, 5, 7, 9, 3, 11, 3, 0],
            [2, 13, 4, 3, 0, 0, 0, 0],
          ],
          [2, 8],
          'int32',
        ),
        tokenTypeIds: tf.tensor2d(
          [
            [0, 0, 0, 0, 0, 1, 1, 0],
            [0, 0, 0, 0, 0, 0, 0, 0],
          ],
          [2, 8],
          'int32',
        ),
        attentionMask: tf.tensor2d(
          [
            [1, 1, 1, 1, 1, 1, 1, 0],
            [1, 1, 1, 1, 0, 0, 0, 0],
          ],
          [2, 8],
          'int32',
        ),
      };
      const labels = numLabels === 1 ? tf.tensor1d([0.7, -1.2]) : tf.tensor1d([1, 0], 'int32');
      const h = new BertHessian({ params, config, batches: [{ batch, labels }] });
      t.is(h.names.length, Object.keys(params).length);
      const v = h.shapes.map((s, i) => w(s, 500 + i));
      const hv = h.hv(v);
      const exact = hv.flatMap((x) => Array.from(x.dataSync()));
      const f: F = (...xs) => {
        const p = { ...params };
        h.names.forEach((n, i) => {
          p[n] = xs[i];
        });
        return h.loss(p, { batch, labels });
      };
      const fd = hvFd4(
        f,
        h.names.map((n) => params[n]),
        v,
        2e-3,
      );
      const err = relFrobenius(exact, fd);
      t.true(err < 1e-3, `relative error ${err}`);
      // a parameter subset gives the corresponding diagonal block: H_SS v_S (rows and columns restricted)
      const sub = new BertHessian({
        params,
        config,
        batches: [{ batch, labels }],
        subset: /^bert\.encoder\.layer\.1\./,
      });
      t.true(sub.names.length > 0 && sub.names.every((n) => n.startsWith('bert.encoder.layer.1.')));
      const vs = sub.names.map((n) => v[h.names.indexOf(n)]);
      const hs = sub.hv(vs).flatMap((x) => Array.from(x.dataSync()));
      const fs: F = (...xs) => {
        const p = { ...params };
        sub.names.forEach((n, i) => {
          p[n] = xs[i];
        });
        return h.loss(p, { batch, labels });
      };
      t.true(
        relFrobenius(
          hs,
          hvFd4(
            fs,
            sub.names.map((n) => params[n]),
            vs,
            2e-3,
          ),
        ) < 1e-3,
      );
      // dataset mode with the same batch twice equals the single-batch Hv
      const twice = new BertHessian({
        params,
        config,
        batches: [
          { batch, labels },
          { batch, labels },
        ],
      });
      const h2 = twice.hv(v).flatMap((x) => Array.from(x.dataSync()));
      t.true(relFrobenius(h2, exact) < 1e-5);
      tf.dispose([
        ...hv,
        ...v,
        ...Object.values(params),
        batch.inputIds,
        batch.tokenTypeIds,
        batch.attentionMask,
        labels,
      ]);
    },
  );
}

test(
  'student Hv (weights frozen at theta_0, exact products with re-derived STE gradients) equals double backprop ' +
    'through plain STE quantizers',
  (t) => {
    const { config, params } = tinyBert(2);
    const batch = {
      inputIds: tf.tensor2d([[2, 5, 7, 9, 3, 11, 3, 0]], [1, 8], 'int32'),
      tokenTypeIds: tf.zeros([1, 8], 'int32') as tf.Tensor2D,
      attentionMask: tf.tensor2d([[1, 1, 1, 1, 1, 1, 1, 0]], [1, 8], 'int32'),
    };
    const labels = tf.tensor1d([1], 'int32');
    const h = new BertHessian({ params, config, batches: [{ batch, labels }], quant: QUANT_DEFAULTS });
    const v = h.shapes.map((s, i) => w(s, 700 + i));
    const ours = h.hvTask(v, { batch, labels }).flatMap((x) => Array.from(x.dataSync()));
    // reference: every quantizer live, products of STE-quantized operands in plain float
    const plainHooks = (): QuantHooks => {
      const live = makeQuantHooks(QUANT_DEFAULTS);
      const q = (p: string, x: tf.Tensor) => {
        const z = p.endsWith('.weight') ? live.weightQuantizer(p) : live.actQuantizer(p);
        return z ? z.apply(x) : x;
      };
      return {
        weight: live.weight,
        act: live.act,
        matmul: (pa, a, pb, b, tb) => tf.matMul(q(pa, a), q(pb, b), false, tb),
      };
    };
    const f: F = (...xs) => {
      const p = { ...params };
      h.names.forEach((n, i) => {
        p[n] = xs[i];
      });
      return taskLoss(bertForward(p, config, batch, { quant: plainHooks() }).logits, labels, false);
    };
    const ref = hvExact(
      f,
      h.names.map((n) => params[n]),
      v,
    );
    const err = relFrobenius(ours, ref);
    t.true(Math.hypot(...ref) > 1e-2);
    t.true(err < 1e-3, `relative error ${err}`);
    h.dispose();
    tf.dispose([...v, ...Object.values(params), batch.inputIds, batch.tokenTypeIds, batch.attentionMask, labels]);
  },
);

test(
  'retained graph (one forward and first backward, replayed per product) gives the recomputed Hv, product after ' +
    'product',
  (t) => {
    const { config, params } = tinyBert(2);
    const batch = {
      inputIds: tf.tensor2d(
        [
          [2, 5, 7, 9, 3, 11, 3, 0],
          [4, 4, 8, 1, 0, 0, 0, 0],
        ],
        [2, 8],
        'int32',
      ),
      tokenTypeIds: tf.tensor2d(
        [
          [0, 0, 0, 0, 1, 1, 1, 0],
          [0, 0, 0, 0, 0, 0, 0, 0],
        ],
        [2, 8],
        'int32',
      ),
      attentionMask: tf.tensor2d(
        [
          [1, 1, 1, 1, 1, 1, 1, 0],
          [1, 1, 1, 1, 0, 0, 0, 0],
        ],
        [2, 8],
        'int32',
      ),
    };
    const labels = tf.tensor1d([1, 0], 'int32');
    for (const quant of [QUANT_DEFAULTS, undefined]) {
      const kept = new BertHessian({ params, config, batches: [{ batch, labels }], quant });
      const fresh = new BertHessian({ params, config, batches: [{ batch, labels }], quant, retainGraph: false });
      for (const seed of [900, 950, 900]) {
        const v = kept.shapes.map((s, i) => w(s, seed + i));
        const a = kept.hv(v),
          b = fresh.hv(v);
        const flat = (xs: tf.Tensor[]) => xs.flatMap((x) => Array.from(x.dataSync()));
        t.deepEqual(flat(a), flat(b), `${quant ? 'student' : 'teacher'}, v seed ${seed}`);
        t.true(Math.hypot(...flat(a)) > 1e-3);
        tf.dispose([...a, ...b, ...v]);
      }
      kept.dispose();
      fresh.dispose();
    }
    tf.dispose([...Object.values(params), batch.inputIds, batch.tokenTypeIds, batch.attentionMask, labels]);
  },
);

test('task loss: mean cross-entropy over the batch, MSE for regression (values by hand)', (t) => {
  const z = tf.tensor2d([
    [1, 2, 0.5],
    [-1, 0, 3],
  ]);
  const ce = taskLoss(z, tf.tensor1d([1, 2], 'int32'), false).dataSync()[0];
  const lse = (r: number[]) => Math.log(r.reduce((s, x) => s + Math.exp(x), 0));
  const want = (lse([1, 2, 0.5]) - 2 + (lse([-1, 0, 3]) - 3)) / 2;
  t.true(Math.abs(ce - want) < 1e-6, `${ce} vs ${want}`);
  const mse = taskLoss(tf.tensor2d([[0.5], [2]]), tf.tensor1d([1, 1]), true).dataSync()[0];
  t.true(Math.abs(mse - (0.25 + 1) / 2) < 1e-6);
});
