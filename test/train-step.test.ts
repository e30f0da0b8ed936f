import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { loadModelFixture } from '../src/verify/models.js';
import { makeQuantHooks, QUANT_DEFAULTS } from '../src/quant/plan.js';
import { presetCoeffs, kdLoss } from '../src/kd/losses.js';
import { BertAdam, ADAM_DEFAULTS, scheduleFactor, decays } from '../src/train/bertadam.js';
import { staticKdStep } from '../src/distill/step.js';
import { toVariables } from '../src/distill/quantize.js';
import { bertForward } from '../src/model/bert.js';
import { FIXTURES, modelFixtures } from './helpers/env.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});

const fixture = () => {
  const n = modelFixtures()[0];
  return loadModelFixture(join(FIXTURES, 'models', n), n);
};

function context(fx: ReturnType<typeof fixture>, preset: string, lr: number, tTotal: number) {
  return {
    config: fx.config,
    teacher: fx.params,
    student: toVariables(fx.params),
    hooks: makeQuantHooks(QUANT_DEFAULTS),
    coeffs: presetCoeffs(preset),
    kdOptions: { regression: fx.regression, gtRegressionUsesLabels: false },
    optimizer: new BertAdam({ ...ADAM_DEFAULTS, lr, tTotal }),
  };
}

test('a KD-QAT training step leaks no tensor (live tensor count equal before and after)', async (t) => {
  const fx = fixture();
  const ctx = context(fx, 'map+output', 1e-3, 10);
  await staticKdStep(ctx, { batch: fx.batch, kd: fx.kd }); // first step creates the Adam moments
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) await staticKdStep(ctx, { batch: fx.batch, kd: fx.kd });
  t.is(tf.memory().numTensors, before);
});

test('training with the map+output preset lowers the KD loss over steps', async (t) => {
  const fx = fixture();
  const ctx = context(fx, 'map+output', 5e-3, 40);
  const losses: number[] = [];
  for (let i = 0; i < 25; i++) losses.push((await staticKdStep(ctx, { batch: fx.batch, kd: fx.kd })).loss);
  t.is(losses[0], losses[1], 'the first update has lr 0 (warmup_linear at step 0)');
  const head = losses.slice(0, 3).reduce((a, b) => a + b) / 3,
    tail = losses.slice(-3).reduce((a, b) => a + b) / 3;
  t.true(tail < 0.7 * head, `loss went from ${head} to ${tail}`);
});

test('warmup_linear: x/warmup, then (x-1)/(warmup-1), never negative; decay exemptions', (t) => {
  t.is(scheduleFactor('warmup_linear', 0, 0.1), 0);
  t.is(scheduleFactor('warmup_linear', 0.05, 0.1), 0.5);
  t.is(scheduleFactor('warmup_linear', 0.1, 0.1), 1);
  t.true(Math.abs(scheduleFactor('warmup_linear', 0.55, 0.1) - 0.5) < 1e-12);
  t.is(scheduleFactor('warmup_linear', 1.2, 0.1), 0);
  t.false(decays('bert.encoder.layer.0.attention.output.LayerNorm.weight'));
  t.false(decays('classifier.bias'));
  t.true(decays('bert.embeddings.word_embeddings.weight'));
});

test(
  'per-tensor gradient clipping: a huge gradient moves a parameter by lr * m/(sqrt v + eps) of the clipped ' +
    'gradient',
  (t) => {
    const p = { w: tf.variable(tf.tensor1d([1, 1]), true, 'clip-test-w') };
    const opt = new BertAdam({ ...ADAM_DEFAULTS, lr: 0.1, weightDecay: 0, tTotal: -1 });
    opt.apply(p, { w: tf.tensor1d([300, 400]) }); // norm 500 -> clipped to norm 1: [0.6, 0.8]
    const m = opt.state.m.w.dataSync(),
      v = opt.state.v.w.dataSync();
    t.true(Math.abs(m[0] - 0.1 * 0.6) < 1e-6 && Math.abs(m[1] - 0.1 * 0.8) < 1e-6);
    t.true(Math.abs(v[1] - 0.001 * 0.64) < 1e-7);
    const w = p.w.dataSync();
    t.true(Math.abs(w[0] - (1 - 0.1 * (0.06 / (Math.sqrt(0.00036) + 1e-6)))) < 1e-5);
  },
);

test('the KD total is the coefficient-weighted sum of its terms', (t) => {
  const fx = fixture();
  const hooks = makeQuantHooks(QUANT_DEFAULTS);
  tf.tidy(() => {
    const s = bertForward(fx.params, fx.config, fx.batch, { quant: hooks });
    const te = bertForward(fx.params, fx.config, fx.batch);
    const c = { ...presetCoeffs('map+output', 0.3, 0.6), gt: 2 };
    const l = kdLoss(s, te, fx.kd, c, { regression: fx.regression, gtRegressionUsesLabels: false });
    const sum = Object.entries(l.terms).reduce((a, [k, v]) => a + c[k as keyof typeof c] * v!.dataSync()[0], 0);
    t.true(Math.abs(l.total.dataSync()[0] - sum) < 1e-4 * Math.abs(sum));
    t.deepEqual(Object.keys(l.terms).sort(), ['gt', 'map', 'output', 'pred', 'rep']);
  });
});
