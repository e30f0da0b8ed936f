import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { loadModelFixture } from '../src/verify/models.js';
import { saveBertDir } from '../src/model/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../src/util/safetensors.js';
import {
  prepareCompression,
  quantize,
  save,
  restore,
  restoreInto,
  disposeOutputs,
  BertAdam,
  ADAM_DEFAULTS,
  type CompressionHandle,
} from '../src/api/index.js';
import { kdStep } from '../src/distill/step.js';
import { FIXTURES, modelFixtures } from './helpers/env.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});

const fixtures = () => modelFixtures().map((n) => loadModelFixture(join(FIXTURES, 'models', n), n));
const tmp = () => mkdtempSync(join(tmpdir(), 'kdqat-api-'));

async function trained(
  fx: ReturnType<typeof fixtures>[number],
  steps: number,
  balancer?: { kind: 'uncertainty' },
): Promise<CompressionHandle> {
  const h = prepareCompression({
    model: fx.config,
    student: fx.params,
    teacher: fx.params,
    kd: { preset: 'map+output', ...(balancer ? { balancer } : {}) },
    seed: 7,
  });
  const optimizer = new BertAdam({ ...ADAM_DEFAULTS, lr: 5e-3, tTotal: 10 });
  for (let k = 0; k < steps; k++) {
    h.onStepBegin(k);
    await kdStep({ handle: h, optimizer }, fx);
  }
  optimizer.dispose();
  return h;
}

const logits = (f: () => { logits: tf.Tensor }) => tf.tidy(() => f().logits.dataSync().slice());

test.serial(
  'save then restore rebuilds the same student: bit-identical logits on the same batch, every fixture model',
  async (t) => {
    t.true(fixtures().length > 0, 'no model fixtures found');
    for (const fx of fixtures()) {
      const h = await trained(fx, 3);
      const path = join(tmp(), 'student.safetensors');
      await save(h, path);
      const r = restore(path);
      t.deepEqual(r.model, fx.config);
      t.is(r.step, 3);
      t.deepEqual(
        Array.from(logits(() => r.forward(fx.batch))),
        Array.from(logits(() => h.studentForward(fx.batch, { training: false }))),
        fx.name,
      );
      // the metadata holds the quantizer config and state: every quantized weight with its rule and scale
      const meta = readSafetensors(path).metadata;
      t.deepEqual(JSON.parse(meta['kdqat.quant']), h.quant);
      const state = JSON.parse(meta['kdqat.quantizer_state']);
      t.is(state.weights['bert.encoder.layer.0.attention.self.query.weight'].quantizer.kind, 'twn');
      t.true(state.weights['bert.encoder.layer.0.attention.self.query.weight'].scale > 0);
      t.is(state.weights['bert.embeddings.word_embeddings.weight'].statistics, 'per-row');
      t.is(state.weights['classifier.weight'], undefined, 'the classifier stays full precision');
      t.is(state.activations['bert.encoder.layer.1.attention.self.attention_probs'].quantizer.bits, 8);
      r.dispose();
      h.dispose();
    }
  },
);

test.serial(
  'restore refuses a file from another architecture, a plain checkpoint and a tampered file, each with a clear error',
  async (t) => {
    const [a, b] = fixtures();
    const dir = tmp();
    const h = await trained(a, 1);
    await save(h, join(dir, 'a.safetensors'));
    const e1 = t.throws(() =>
      restore(join(dir, 'a.safetensors'), { model: { ...a.config, hidden_size: a.config.hidden_size * 2 } }),
    );
    t.regex(e1!.message, /saved from another architecture: hidden_size \d+ in the file, \d+ expected/);
    if (b && b.config.num_labels !== a.config.num_labels) {
      const other = prepareCompression({ model: b.config, student: b.params, teacher: b.params });
      t.throws(() => restoreInto(other, join(dir, 'a.safetensors')), { message: /another architecture: num_labels/ });
      other.dispose();
    }
    await saveBertDir(join(dir, 'plain'), a.config, a.params);
    t.throws(() => restore(join(dir, 'plain', 'model.safetensors')), { message: /not a kdqat compressed student/ });
    const f = readSafetensors(join(dir, 'a.safetensors'));
    const w = f.tensors.get('bert.encoder.layer.0.output.dense.weight')!;
    (w.data as Float32Array)[0] += 0.5;
    const tensors = Object.fromEntries(
      [...f.tensors].map(([k, v]) => [k, { dtype: 'F32' as const, shape: v.shape, data: v.data as Float32Array }]),
    );
    writeSafetensors(join(dir, 'tampered.safetensors'), tensors, f.metadata);
    const before = tf.memory().numTensors;
    t.throws(() => restore(join(dir, 'tampered.safetensors')), {
      message: /do not reproduce the saved quantizer state/,
    });
    t.is(tf.memory().numTensors, before, 'a refused file leaves no tensors behind');
    h.dispose();
  },
);

test.serial('restoreInto continues a handle: weights and the uncertainty balancer state come back', async (t) => {
  const fx = fixtures()[0];
  const h = await trained(fx, 2, { kind: 'uncertainty' });
  const path = join(tmp(), 'u.safetensors');
  await save(h, path);
  const w0 = h.balancer.weights();
  const fresh = prepareCompression({
    model: fx.config,
    student: fx.params,
    teacher: fx.params,
    kd: { preset: 'map+output', balancer: { kind: 'uncertainty' } },
  });
  restoreInto(fresh, path);
  t.deepEqual(fresh.balancer.weights(), w0);
  t.deepEqual(
    Array.from(logits(() => fresh.studentForward(fx.batch, { training: false }))),
    Array.from(logits(() => h.studentForward(fx.batch, { training: false }))),
  );
  h.dispose();
  fresh.dispose();
});

test.serial(
  "quantize: the student alone, same outputs as the handle's student with the same weights; configs validated by key",
  (t) => {
    const fx = fixtures()[0];
    const q = quantize(fx.config, fx.params, { weightBits: 2 });
    const h = prepareCompression({ model: fx.config, student: fx.params, teacher: fx.params });
    t.deepEqual(
      Array.from(logits(() => q.forward(fx.batch))),
      Array.from(logits(() => h.studentForward(fx.batch, { training: false }))),
    );
    t.throws(() => quantize(fx.config, fx.params, { weightBits: 3 as 2 }), {
      message: /"quant\.weightBits" must be 2, 4 or 8/,
    });
    t.throws(() => quantize(fx.config, fx.params, { bits: 2 } as never), {
      message: /unknown config key "quant\.bits"/,
    });
    t.throws(
      () =>
        prepareCompression({
          model: fx.config,
          student: fx.params,
          teacher: fx.params,
          kd: { preset: 'nope' },
        }),
      { message: /"kd\.preset": unknown preset/ },
    );
    t.throws(
      () =>
        prepareCompression({
          model: fx.config,
          student: fx.params,
          teacher: fx.params,
          kd: { preset: 'map', coeffs: { pred: 0, rep: 0, map: 0 } },
        }),
      { message: /"kd\.coeffs": every KD term coefficient is 0/ },
    );
    const { 'classifier.bias': _, ...missing } = fx.params;
    t.throws(() => quantize(fx.config, missing, {}), { message: /student: missing tensor "classifier\.bias"/ });
    q.dispose();
    h.dispose();
  },
);

test.serial('the hooks run in order with their arguments, and a user loop leaks no tensor across steps', async (t) => {
  const fx = fixtures()[0];
  const h = prepareCompression({
    model: fx.config,
    student: fx.params,
    teacher: fx.params,
    kd: { preset: 'map', balancer: { kind: 'uncertainty' } },
  });
  const calls: string[] = [];
  h.addCallbacks({
    onTrainBegin: (i) => calls.push(`trainBegin ${i.totalSteps}`),
    onEpochBegin: (e) => calls.push(`epochBegin ${e}`),
    onStepBegin: (k) => calls.push(`stepBegin ${k}`),
    onAfterComputeLoss: (inp, s, loss, te) =>
      calls.push(
        `afterLoss ${inp === fx ? 'inputs' : '?'} ${s.logits.shape} ${loss === null ? 'null' : 'loss'} ` +
          `${te.probs.length}`,
      ),
    onBeforeOptimizerStep: (g) => calls.push(`beforeOpt ${Object.keys(g).length}`),
    onStepEnd: (i) => calls.push(`stepEnd ${i.step} ${Object.keys(i.terms).join(',')}`),
    onEpochEnd: (e) => calls.push(`epochEnd ${e}`),
    onTrainEnd: () => calls.push('trainEnd'),
  });
  const optimizer = new BertAdam({ ...ADAM_DEFAULTS, lr: 1e-3, tTotal: 10 });
  h.onTrainBegin({ totalSteps: 4 });
  h.onEpochBegin(0);
  let before = 0;
  for (let k = 0; k < 4; k++) {
    if (k === 1) before = tf.memory().numTensors; // after the first step made the Adam moments
    h.onStepBegin(k);
    const te = h.teacherForward(fx.batch);
    const { value, grads } = tf.variableGrads(
      () => h.onAfterComputeLoss(fx, h.studentForward(fx.batch), null, te),
      h.trainableVariables(),
    );
    disposeOutputs(te);
    optimizer.apply(h.student, h.onBeforeOptimizerStep(grads));
    tf.dispose(grads);
    value.dispose();
    await h.onStepEnd();
  }
  t.is(tf.memory().numTensors, before);
  h.onEpochEnd(0);
  h.onTrainEnd();
  const nParams = Object.keys(fx.params).length;
  t.deepEqual(calls.slice(0, 7), [
    'trainBegin 4',
    'epochBegin 0',
    'stepBegin 0',
    `afterLoss inputs ${fx.batch.inputIds.shape[0]},${fx.config.num_labels} null ${fx.config.num_hidden_layers}`,
    `beforeOpt ${nParams}`,
    'stepEnd 0 pred,rep,map',
    'stepBegin 1',
  ]);
  t.deepEqual(calls.slice(-3), ['stepEnd 3 pred,rep,map', 'epochEnd 0', 'trainEnd']);
  t.is(h.step, 4);
  optimizer.dispose();
  h.dispose();
});
