import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { loadModelFixture } from '../src/verify/models.js';
import { kdLoss, presetCoeffs, TERM_FNS, type Coeffs } from '../src/kd/losses.js';
import { makeBalancer, prepareCompression } from '../src/api/index.js';
import { resolveConfig } from '../src/train/config.js';
import { runName } from '../src/sweep/runs.js';
import { FIXTURES, modelFixtures } from './helpers/env.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});

const fixture = () => {
  const n = modelFixtures()[0];
  return loadModelFixture(join(FIXTURES, 'models', n), n);
};
const val = (x: tf.Tensor) => x.dataSync()[0];

test("static (the default) is the KD table's total to the bit; a user loss adds with weight 1", (t) => {
  const fx = fixture();
  const h = prepareCompression({
    model: fx.config,
    student: fx.params,
    teacher: fx.params,
    kd: { preset: 'map+output', mapCoeff: 0.3, outputCoeff: 0.6 },
  });
  tf.tidy(() => {
    const s = h.studentForward(fx.batch, { training: false }),
      te = h.teacherForward(fx.batch);
    const ref = kdLoss(s, te, fx.kd, presetCoeffs('map+output', 0.3, 0.6), {
      regression: fx.regression,
      gtRegressionUsesLabels: false,
    });
    t.is(val(h.computeKdLoss(s, te, fx.kd).total), val(ref.total));
    t.is(val(h.computeKdLoss(s, te, fx.kd, tf.scalar(2)).total), val(tf.add(ref.total, 2)));
  });
  h.dispose();
});

test('modelopt-static: w * sum of KD terms + (1 - w) * student loss; without a student loss, the gt term', (t) => {
  const fx = fixture();
  const w = 0.75;
  const h = prepareCompression({
    model: fx.config,
    student: fx.params,
    teacher: fx.params,
    kd: { preset: 'map', balancer: { kind: 'modelopt-static', kdLossWeight: w } },
  });
  tf.tidy(() => {
    const s = h.studentForward(fx.batch, { training: false }),
      te = h.teacherForward(fx.batch);
    const kd = val(
      kdLoss(s, te, fx.kd, presetCoeffs('map'), { regression: fx.regression, gtRegressionUsesLabels: false }).total,
    );
    const near = (a: number, b: number) => t.true(Math.abs(a - b) <= 1e-5 * Math.abs(b), `${a} vs ${b}`);
    near(val(h.computeKdLoss(s, te, fx.kd, tf.scalar(3)).total), w * kd + (1 - w) * 3);
    const gt = val(TERM_FNS.gt(s, te, fx.kd, { regression: fx.regression, gtRegressionUsesLabels: false }));
    near(val(h.computeKdLoss(s, te, fx.kd).total), w * kd + (1 - w) * gt);
  });
  h.dispose();
});

test('balancer configs are validated like every config key, and name their runs', (t) => {
  const kd = (balancer: unknown) => () => resolveConfig({ kd: { balancer } });
  t.throws(kd({ kind: 'gradnorm' }), {
    message: /"kd\.balancer\.kind" must be one of static, modelopt-static, uncertainty/,
  });
  t.throws(kd({ kind: 'modelopt-static', kdLossWeight: 1.5 }), {
    message: /"kd\.balancer\.kdLossWeight" must be a number in \[0, 1\]/,
  });
  t.throws(kd({ kind: 'modelopt-static' }), { message: /kdLossWeight/ });
  t.throws(kd({ kind: 'uncertainty', lr: 'fast' }), { message: /"kd\.balancer\.lr" must be a number/ });
  t.throws(kd({ kind: 'uncertainty', weight: 1 }), { message: /unknown config key "kd\.balancer\.weight"/ });
  t.is(runName(resolveConfig({ kd: { preset: 'map', balancer: { kind: 'uncertainty' } } })), 'map_uw_s42');
  t.is(
    runName(resolveConfig({ kd: { preset: 'map', balancer: { kind: 'modelopt-static', kdLossWeight: 0.5 } } })),
    'map_kdw0.5_s42',
  );
  t.is(runName(resolveConfig({ kd: { preset: 'map', balancer: { kind: 'static' } } })), 'map_s42');
});

const coeffs = (c: Partial<Coeffs>): Coeffs => ({ ...presetCoeffs('map'), pred: 0, rep: 0, map: 0, ...c });

test(
  'uncertainty weighting (Kendall et al. 2018), toy 1: constant task losses 4 and 0.25 -> s_i = log L_i, weights ' +
    '1/4 and 4',
  (t) => {
    const b = makeBalancer({ kind: 'uncertainty', lr: 0.1 }, coeffs({ pred: 1, rep: 1 }));
    const L = { pred: tf.scalar(4), rep: tf.scalar(0.25) };
    for (let i = 0; i < 600; i++) {
      const { grads, value } = tf.variableGrads(
        () => b.combine(L, coeffs({ pred: 1, rep: 1 }), null),
        Object.values(b.variables),
      );
      b.update(
        Object.fromEntries(
          Object.entries(b.variables)
            .filter(([, v]) => grads[v.name])
            .map(([k, v]) => [k, grads[v.name]]),
        ),
      );
      tf.dispose(grads);
      value.dispose();
    }
    const w = b.weights();
    t.true(Math.abs(w.pred - 0.25) < 1e-4, `weight of the loss-4 task ${w.pred}`);
    t.true(Math.abs(w.rep - 4) < 1e-3, `weight of the loss-0.25 task ${w.rep}`);
    t.is(w.student, 1, 'no student loss given: its weight stays at exp(-0)');
    tf.dispose(Object.values(L));
    b.dispose();
  },
);

test(
  'uncertainty weighting, toy 2: two noisy measurements of one value (variances 0.01 and 1) -> the value, and ' +
    'weights 1/variance',
  (t) => {
    // task i: L_i(w) = mean_j (w - y_ij)^2 with y_1 = 1 +- 0.1, y_2 = 1 +- 1. Known optimum: w = 1, L_i = variance_i,
    // s_i = log variance_i, so the balancer weighs the precise task 100x more: the maximum-likelihood weighting.
    const b = makeBalancer({ kind: 'uncertainty', lr: 0.02 }, coeffs({ pred: 1, rep: 1 }));
    const w = tf.variable(tf.scalar(0), true, 'toy-uw-w');
    const y1 = tf.tensor1d([0.9, 1.1]),
      y2 = tf.tensor1d([0, 2]);
    const task = (y: tf.Tensor) => tf.mean(tf.square(tf.sub(w, y))) as tf.Scalar;
    for (let i = 0; i < 2500; i++) {
      const vars = [w, ...Object.values(b.variables)];
      const { grads, value } = tf.variableGrads(
        () => b.combine({ pred: task(y1), rep: task(y2) }, coeffs({ pred: 1, rep: 1 }), null),
        vars,
      );
      tf.tidy(() => w.assign(tf.sub(w, tf.mul(grads[w.name], 0.004))));
      b.update(
        Object.fromEntries(
          Object.entries(b.variables)
            .filter(([, v]) => grads[v.name])
            .map(([k, v]) => [k, grads[v.name]]),
        ),
      );
      tf.dispose(grads);
      value.dispose();
    }
    const wt = b.weights();
    t.true(Math.abs(val(w) - 1) < 1e-3, `w = ${val(w)}`);
    t.true(Math.abs(wt.pred - 100) < 1, `weight of the precise task ${wt.pred}`);
    t.true(Math.abs(wt.rep - 1) < 0.01, `weight of the noisy task ${wt.rep}`);
    tf.dispose([w, y1, y2]);
    b.dispose();
  },
);
