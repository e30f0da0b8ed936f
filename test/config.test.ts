import test from 'ava';
import { resolveConfig, defaultRunConfig } from '../src/train/config.js';

test('unknown config keys are errors naming the key', (t) => {
  t.regex(t.throws(() => resolveConfig({ lr: 1 }))!.message, /unknown config key "lr"/);
  t.regex(t.throws(() => resolveConfig({ train: { lrr: 1 } }))!.message, /unknown config key "train\.lrr"/);
  t.regex(t.throws(() => resolveConfig({ kd: { coeffs: { mapp: 1 } } }))!.message, /kd\.coeffs\.mapp/);
});

test('values are type-checked', (t) => {
  t.regex(t.throws(() => resolveConfig({ train: { epochs: 'three' } }))!.message, /"train\.epochs" must be a number/);
  t.regex(t.throws(() => resolveConfig({ data: { batchSize: 0 } }))!.message, /positive integer/);
  t.regex(t.throws(() => resolveConfig({ kd: { preset: 'nope' } }))!.message, /unknown preset "nope"/);
  t.regex(t.throws(() => resolveConfig({ quant: { weightBits: 3 } }))!.message, /2, 4 or 8/);
});

test('overrides merge into defaults without touching the defaults', (t) => {
  const c = resolveConfig({ seed: 52, train: { maxSteps: 10 }, kd: { preset: 'map', mapCoeff: 0.5 } });
  t.is(c.seed, 52);
  t.is(c.train.maxSteps, 10);
  t.is(c.train.lr, 2e-5);
  t.is(c.kd.mapCoeff, 0.5);
  t.is(defaultRunConfig().train.maxSteps, null);
});
