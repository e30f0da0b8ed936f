import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { bertForward } from '../src/model/bert.js';
import { makeQuantHooks, QUANT_DEFAULTS } from '../src/quant/plan.js';
import { FrozenWeightQuant } from '../src/analysis/frozen-quant.js';
import { loadExamples, loadModels, shuffled } from '../src/analysis/inputs.js';
import { runAnalysis } from '../src/analysis/run.js';
import { headDistances } from '../src/analysis/distance.js';
import { writeAnalysisReport } from '../src/analysis/report.js';

const FIX = join(resolve(process.env.KDQAT_FIXTURES ?? '../shared/fixtures'), 'models', 'tiny-cls');

test.before(async () => {
  await initBackend(process.env.KDQAT_BACKEND ?? 'cpu', { quiet: true });
});

test('frozen weight quantizers give the live quantized forward exactly', (t) => {
  const { models } = loadModels({ task: 'rte', teacher: FIX, students: [FIX], quantizedTeacher: false });
  const s = models[1];
  const batch = {
    inputIds: tf.tensor2d([[2, 9, 33, 41, 3]], [1, 5], 'int32'),
    tokenTypeIds: tf.zeros([1, 5], 'int32') as tf.Tensor2D,
    attentionMask: tf.ones([1, 5], 'int32') as tf.Tensor2D,
  };
  const live = bertForward(s.params, s.config, batch, { quant: makeQuantHooks(QUANT_DEFAULTS) });
  for (const withGrad of [false, true]) {
    const fq = new FrozenWeightQuant(QUANT_DEFAULTS, s.params, withGrad);
    const fr = bertForward(s.params, s.config, batch, { quant: fq.hooks() });
    t.deepEqual(Array.from(fr.logits.dataSync()), Array.from(live.logits.dataSync()));
    t.deepEqual(Array.from(fr.attnOutput[1].dataSync()), Array.from(live.attnOutput[1].dataSync()));
    fq.dispose();
  }
});

test('examples: seeded random sample, each sliced to its seq_length', (t) => {
  const ex = loadExamples({
    task: 'rte',
    tok: null,
    inputs: join(FIX, 'inputs.safetensors'),
    count: 2,
    sample: 'random',
    seed: 7,
  });
  t.deepEqual(
    ex.map((e) => e.index),
    shuffled(3, 7).slice(0, 2),
  );
  const len = [16, 12, 9];
  for (const e of ex) t.is(e.ids.length, len[e.index]);
  t.deepEqual(
    loadExamples({ task: 'rte', tok: null, inputs: join(FIX, 'inputs.safetensors'), sample: 'first', seed: 0 }).map(
      (e) => e.index,
    ),
    [0, 1, 2],
  );
  t.throws(
    () =>
      loadExamples({
        task: 'rte',
        tok: null,
        inputs: join(FIX, 'inputs.safetensors'),
        count: 0,
        sample: 'first',
        seed: 0,
      }),
    { message: /positive integer/ },
  );
});

test(
  'runAnalysis: every experiment on the fixture model, results consistent with the metric functions, report ' +
    'written',
  async (t) => {
    const { models } = loadModels({
      task: 'rte',
      teacher: FIX,
      students: [FIX, FIX],
      labels: ['A', 'B'],
      quantizedTeacher: true,
    });
    const examples = loadExamples({
      task: 'rte',
      tok: null,
      inputs: join(FIX, 'inputs.safetensors'),
      sample: 'first',
      seed: 0,
    });
    const progress: string[] = [];
    const res = await runAnalysis(models, examples, {
      task: 'rte',
      experiments: ['distance', 'hessian', 'range', 'norms'],
      tokenTypes: 'zeros',
      norms: { wo: 'latent', token: 'sep', classIds: { cls: 2, sep: 3, punct: [8, 12] } },
      range: { example: 1 },
      hessian: {
        examples: 2,
        topN: 2,
        maxIter: 4,
        tol: 1e-3,
        seed: 1,
        l2: 0.01,
        mode: 'example',
        method: 'power',
        layers: true,
        trace: false,
        roles: ['teacher', 'student'],
        params: null,
      },
      onProgress: (d, n, w) => progress.push(`${d}/${n} ${w}`),
    });
    // distance: the students equal the quantized teacher here (same weights, same quantizers)
    const d = res.distance!;
    t.is(d.examples, 3);
    t.deepEqual(d.models.student0.rankingLoss.mean, d.models.quantized.rankingLoss.mean);
    // per-example values equal headDistances on the sliced example
    const e = examples[2];
    const b = {
      inputIds: tf.tensor2d(e.ids, [1, e.ids.length], 'int32'),
      tokenTypeIds: tf.zeros([1, e.ids.length], 'int32') as tf.Tensor2D,
      attentionMask: tf.ones([1, e.ids.length], 'int32') as tf.Tensor2D,
    };
    const T = bertForward(models[0].params, models[0].config, b),
      S = bertForward(models[1].params, models[1].config, b, { quant: makeQuantHooks(QUANT_DEFAULTS) });
    const direct = await headDistances(S.probs, T.probs, 0, e.ids.length);
    t.deepEqual(d.perExample.student0[2].rankingLoss, direct.rankingLoss);
    // range: the chosen example's curves, one value per token and layer
    t.is(res.range!.exampleIndex, examples[1].index);
    t.is(res.range!.models.teacher.min[0].length, examples[1].ids.length);
    t.is(res.range!.models.student1.max.length, 2);
    // norms: every example has [SEP] (id 3); student 0 == student 1
    t.is(res.norms!.examplesUsed, 3);
    t.deepEqual(res.norms!.headDiffs.student0, res.norms!.headDiffs.student1);
    t.true(res.norms!.classDiffs.student0.SEP.fx.every((v) => v !== null && v > 0));
    // hessian: 2 examples x 3 models (teacher + 2 students), 2 eigenvalues each, per-group values
    t.deepEqual(Object.keys(res.hessian!.models), ['teacher', 'student0', 'student1']);
    for (const h of Object.values(res.hessian!.models)) {
      t.is(h.perExample.length, 2);
      for (const row of h.perExample) {
        t.is(row.eigenvalues.length, 2);
        t.true(row.iterations.every((k) => k >= 1 && k <= 4));
        t.deepEqual(Object.keys(row.layers!), ['embeddings', 'layer.0', 'layer.1', 'head']);
      }
    }
    t.deepEqual(
      res.hessian!.models.student0.perExample[0].eigenvalues,
      res.hessian!.models.student1.perExample[0].eigenvalues,
    );
    t.true(progress.some((p) => p.startsWith('6/6 hessian:')));
    // report: every figure as SVG + non-trivial PNG, one self-contained HTML
    const out = mkdtempSync(join(tmpdir(), 'kdqat-analysis-'));
    const html = await writeAnalysisReport(res, out);
    for (const f of [
      'distance-ranking-loss',
      'distance-cover-length',
      'distance-row-kl',
      'hessian-density',
      'hessian-layers',
      'range-min-max',
      'norm-curves',
      'norm-heatmaps',
    ]) {
      t.true(existsSync(join(out, 'plots', `${f}.svg`)), f);
      t.true(statSync(join(out, 'plots', `${f}.png`)).size > 5000, f);
    }
    const text = readFileSync(html, 'utf8');
    t.is((text.match(/src="data:image\/svg\+xml;base64,/g) ?? []).length >= 8, true); // every plot embedded in the page
    t.false(/src="http|href="http/.test(text));
    t.true(text.includes('Hessian eigenvalues') && text.includes('Attention-map distance: mean over heads'));
  },
);

test(
  "Hessian spectra: an eigenvalue that is only a near-zero tensor's L2 term is identified, and warned " + 'about',
  async (t) => {
    const { models } = loadModels({ task: 'rte', teacher: FIX, students: [], quantizedTeacher: false });
    const teacher = { ...models[0], params: { ...models[0].params } };
    const name = 'bert.encoder.layer.0.attention.self.key.bias';
    teacher.params[name] = tf.fill(teacher.params[name].shape, 1e-7); // ||p|| = 1e-7 sqrt(32): l2 / ||p|| = 1.77e4
    const examples = loadExamples({
      task: 'rte',
      tok: null,
      inputs: join(FIX, 'inputs.safetensors'),
      count: 1,
      sample: 'first',
      seed: 0,
    });
    const logs: string[] = [];
    const res = await runAnalysis([teacher], examples, {
      task: 'rte',
      experiments: ['hessian'],
      tokenTypes: 'zeros',
      norms: { wo: 'latent', token: 'sep', classIds: { cls: 2, sep: 3, punct: [] } },
      range: { example: 0 },
      hessian: {
        examples: 1,
        topN: 1,
        maxIter: 20,
        tol: 1e-4,
        seed: 1,
        l2: 0.01,
        mode: 'example',
        method: 'power',
        layers: false,
        trace: false,
        roles: ['teacher'],
        params: null,
      },
      log: (s) => logs.push(s),
    });
    const row = res.hessian!.models.teacher.perExample[0];
    const want = 0.01 / (1e-7 * Math.sqrt(32));
    t.true(Math.abs(row.eigenvalues[0] - want) < 1e-3 * want, `${row.eigenvalues[0]} vs ${want}`);
    t.deepEqual(row.l2Terms, [name]);
    t.true(res.hessian!.warnings.length === 1 && res.hessian!.warnings[0].includes(name));
    t.true(logs.some((l) => l.startsWith('warning:') && l.includes('--hessian-params')));
    // leaving it out of the differentiated parameters removes it from the spectrum
    const res2 = await runAnalysis([teacher], examples, {
      task: 'rte',
      experiments: ['hessian'],
      tokenTypes: 'zeros',
      norms: { wo: 'latent', token: 'sep', classIds: { cls: 2, sep: 3, punct: [] } },
      range: { example: 0 },
      hessian: {
        examples: 1,
        topN: 1,
        maxIter: 20,
        tol: 1e-4,
        seed: 1,
        l2: 0.01,
        mode: 'example',
        method: 'power',
        layers: false,
        trace: false,
        roles: ['teacher'],
        params: '^(?!.*key\\.bias$)',
      },
    });
    const row2 = res2.hessian!.models.teacher.perExample[0];
    t.true(Math.abs(row2.eigenvalues[0]) < 1e3, String(row2.eigenvalues[0]));
    t.deepEqual(row2.l2Terms, [null]);
    t.deepEqual(res2.hessian!.warnings, []);
  },
);
