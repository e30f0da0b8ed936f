import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/backend.js';
import { twn, twnMx, sym } from '../src/quant/quantizers.js';
import { makeQuantHooks, QUANT_DEFAULTS } from '../src/quant/plan.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});

const CLIP = 2.5;
/** latent values with some beyond the +-2.5 clip and some exactly on it */
const latent = () =>
  tf.tensor2d([
    [0.1, -3, 2.5, 0.7, -0.05, 4],
    [-2.5, 0.3, -0.9, 1.2, 2.49, -2.51],
    [0.02, 0.01, -0.03, 0.5, -0.6, 0.04],
  ]);

for (const [name, q] of [
  ['twn', twn()],
  ['twn-row', twn({ rowwise: true })],
  ['twn-mx4', twnMx(4)],
  ['sym8', sym(8)],
] as const) {
  test(`${name}: STE gradient is the upstream gradient inside (-clip, clip) and exactly 0 outside`, (t) => {
    const x = latent();
    const up = tf.randomNormal(x.shape, 0, 1, 'float32', 3);
    const g = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(q.apply(w), up)))(x);
    const xv = x.arraySync().flat(),
      gv = g.arraySync() as number[][],
      uv = up.arraySync() as number[][];
    xv.forEach((v, i) => {
      const r = Math.floor(i / 6),
        c = i % 6;
      if (v >= CLIP || v <= -CLIP) t.true(gv[r][c] === 0, `x=${v} outside the clip must get no gradient`);
      else t.is(gv[r][c], uv[r][c], `x=${v} inside the clip must pass the gradient unchanged`);
    });
  });
}

test('twn per tensor: every quantized weight is one of {-a, 0, a}, a = mean |w| over |w| > 0.7 mean|w|', (t) => {
  const w = tf.randomNormal([64, 48], 0, 0.05, 'float32', 1);
  const q = twn().quantize(w).dataSync();
  const vals = [...new Set(q)].sort((a, b) => a - b);
  t.is(vals.length, 3);
  t.is(vals[1], 0);
  t.true(Math.abs(vals[0] + vals[2]) < 1e-7);
  const a = Array.from(w.dataSync()).map(Math.abs);
  const delta = (0.7 * a.reduce((s, v) => s + v, 0)) / a.length;
  const kept = a.filter((v) => v > delta);
  t.true(Math.abs(vals[2] - kept.reduce((s, v) => s + v, 0) / kept.length) < 1e-6);
});

test('twn row-wise (word embeddings): each row takes exactly 3 values of its own', (t) => {
  const w = tf.mul(tf.randomNormal([20, 32], 0, 1, 'float32', 2), tf.linspace(0.01, 1, 20).reshape([20, 1]));
  const q = twn({ rowwise: true }).quantize(w).arraySync() as number[][];
  const alphas = new Set<number>();
  for (const row of q) {
    const vals = [...new Set(row)].sort((a, b) => a - b);
    t.is(vals.length, 3);
    t.is(vals[1], 0);
    alphas.add(vals[2]);
  }
  t.is(alphas.size, 20, 'rows have different scales');
});

test('sym 8-bit: at most 255 levels, max|x| maps to 127 steps, values clipped to 2.5', (t) => {
  const x = tf.randomNormal([4000], 0, 2, 'float32', 5);
  const q = sym(8).quantize(x).dataSync();
  t.true(new Set(q).size <= 255);
  t.true(Math.max(...Array.from(q).map(Math.abs)) <= 2.5 + 1e-6);
  const step = 2.5 / 127;
  for (const v of q) t.true(Math.abs(v / step - Math.round(v / step)) < 1e-3);
});

test('twn-mx 4-bit: integer levels of step 2t/15 within -8..8', (t) => {
  const w = tf.randomNormal([50, 50], 0, 0.1, 'float32', 9);
  const q = twnMx(4).quantize(w).dataSync();
  const lv = [...new Set(q)].sort((a, b) => a - b);
  t.true(lv.length <= 17 && lv.length >= 9);
  const step = lv[lv.length - 1] - lv[lv.length - 2];
  for (const v of lv) t.true(Math.abs(v / step - Math.round(v / step)) < 1e-3);
});

test(
  'default attachment follows the reference: Q/K/V/O/FFN/pooler and word embeddings ternary; ' +
    'position/type/LN/classifier FP',
  (t) => {
    const h = makeQuantHooks(QUANT_DEFAULTS);
    for (const n of [
      'bert.encoder.layer.0.attention.self.query.weight',
      'bert.encoder.layer.11.attention.self.value.weight',
      'bert.encoder.layer.3.attention.output.dense.weight',
      'bert.encoder.layer.1.intermediate.dense.weight',
      'bert.encoder.layer.1.output.dense.weight',
      'bert.pooler.dense.weight',
    ])
      t.is(h.weightQuantizer(n)?.name, 'twn', n);
    t.is(h.weightQuantizer('bert.embeddings.word_embeddings.weight')?.name, 'twn-row');
    for (const n of [
      'bert.embeddings.position_embeddings.weight',
      'bert.embeddings.token_type_embeddings.weight',
      'bert.encoder.layer.0.attention.output.LayerNorm.weight',
      'classifier.weight',
      'bert.encoder.layer.0.attention.self.query.bias',
    ])
      t.is(h.weightQuantizer(n), null, n);
    for (const p of [
      'bert.encoder.layer.0.attention.self.query.input',
      'bert.encoder.layer.2.output.dense.input',
      'bert.pooler.dense.input',
      'bert.encoder.layer.0.attention.self.attention_probs',
      'bert.encoder.layer.0.attention.self.key_layer',
    ])
      t.is(h.actQuantizer(p)?.name, 'sym8', p);
    t.is(h.actQuantizer('classifier.input'), null);
  },
);

test('weight-bit variants attach the docs/method.md §1 quantizers (4: twn-mx, 8: sym linear + twn-mx rows)', (t) => {
  const h4 = makeQuantHooks({ ...QUANT_DEFAULTS, weightBits: 4 });
  t.is(h4.weightQuantizer('bert.encoder.layer.0.attention.self.query.weight')?.name, 'twn-mx4');
  t.is(h4.weightQuantizer('bert.embeddings.word_embeddings.weight')?.name, 'twn-mx4-row');
  const h8 = makeQuantHooks({ ...QUANT_DEFAULTS, weightBits: 8 });
  t.is(h8.weightQuantizer('bert.encoder.layer.0.attention.self.query.weight')?.name, 'sym8');
  t.is(h8.weightQuantizer('bert.embeddings.word_embeddings.weight')?.name, 'twn-mx8-row');
});

test('a bad rule pattern is a clear error', (t) => {
  const e = t.throws(() =>
    makeQuantHooks({ ...QUANT_DEFAULTS, weightRules: [{ pattern: '([', quantizer: { kind: 'twn' } }] }).weightQuantizer(
      'x',
    ),
  );
  t.regex(e!.message, /not a valid regular expression/);
});

test(
  'word embeddings quantized after the lookup (perRow) give exactly the outputs and gradients of the whole-table ' +
    'path',
  async (t) => {
    const { initParams } = await import('../src/model/init.js');
    const { bertForward } = await import('../src/model/bert.js');
    const { tinyConfig } = await import('./helpers/env.js');
    for (const weightBits of [2, 4] as const) {
      const c = tinyConfig({
        vocab_size: 50,
        num_labels: 2,
        max_position_embeddings: 16,
        hidden_size: 16,
        num_attention_heads: 2,
        intermediate_size: 32,
      });
      const p = initParams(c, 3);
      const hooks = makeQuantHooks({ ...QUANT_DEFAULTS, weightBits });
      t.true(hooks.perRow!('bert.embeddings.word_embeddings.weight'));
      t.false(hooks.perRow!('bert.encoder.layer.0.attention.self.query.weight'));
      const wholeTable = { ...hooks, perRow: undefined };
      const batch = {
        inputIds: tf.tensor2d(
          [
            [5, 9, 9, 0],
            [3, 49, 0, 0],
          ],
          undefined,
          'int32',
        ),
        tokenTypeIds: tf.zeros([2, 4], 'int32') as tf.Tensor2D,
        attentionMask: tf.tensor2d(
          [
            [1, 1, 1, 0],
            [1, 1, 0, 0],
          ],
          undefined,
          'int32',
        ),
      };
      const run = (h: typeof hooks) => {
        const names = ['bert.embeddings.word_embeddings.weight', 'bert.encoder.layer.0.attention.self.query.weight'];
        const { value, grads } = tf.variableGrads(
          () => {
            const o = bertForward({ ...p, ...Object.fromEntries(names.map((n) => [n, vars[n]])) }, c, batch, {
              quant: h,
            });
            return tf.add(tf.sum(tf.square(o.logits)), tf.sum(tf.mul(o.hidden[1], o.hidden[2]))) as tf.Scalar;
          },
          names.map((n) => vars[n]),
        );
        return [value.dataSync()[0], ...names.map((n) => Array.from(grads[vars[n].name].dataSync()))];
      };
      const vars = Object.fromEntries(
        Object.entries(p).map(([n, v]) => [n, tf.variable(v, true, `perrow${weightBits}/${n}`)]),
      ) as Record<string, tf.Variable>;
      const a = run(hooks),
        b = run(wholeTable);
      t.deepEqual(a, b, `weightBits ${weightBits}`);
      t.true(
        (a[1] as number[]).some((v) => v !== 0),
        'the embedding gradient is not trivially zero',
      );
    }
  },
);
