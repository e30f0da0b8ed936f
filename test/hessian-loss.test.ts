/**
 * --hessian-loss (issue 15): reference = CE + 0.01 sum ||p|| with near-zero tensors (||p|| <= normMin) left out of
 * the norm term and reported; data = the task loss alone. Both remove the artefact of a near-zero key bias, whose
 * norm term's curvature 0.01 / ||p|| otherwise is the top eigenvalue.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { join, resolve } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { loadExamples, loadModels } from '../src/analysis/inputs.js';
import { runAnalysis, type AnalysisOptions } from '../src/analysis/run.js';

const FIX = join(resolve(process.env.KDQAT_FIXTURES ?? '../shared/fixtures'), 'models', 'tiny-cls');

test.before(async () => {
  await initBackend(process.env.KDQAT_BACKEND ?? 'cpu', { quiet: true });
});

test('near-zero tensors leave the norm term (reference) or it goes (data); the choice is recorded', async (t) => {
  const { models } = loadModels({ task: 'rte', teacher: FIX, students: [], quantizedTeacher: false });
  const teacher = { ...models[0], params: { ...models[0].params } };
  const name = 'bert.encoder.layer.0.attention.self.key.bias';
  teacher.params[name] = tf.fill(teacher.params[name].shape, 1e-7); // l2 / ||p|| = 1.77e4 when kept
  const examples = loadExamples({
    task: 'rte',
    tok: null,
    inputs: join(FIX, 'inputs.safetensors'),
    count: 1,
    sample: 'first',
    seed: 0,
  });
  const base: AnalysisOptions['hessian'] = {
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
  };
  const run = async (h: Partial<AnalysisOptions['hessian']>, logs: string[] = []) =>
    (
      await runAnalysis([teacher], examples, {
        task: 'rte',
        experiments: ['hessian'],
        tokenTypes: 'zeros',
        norms: { wo: 'latent', token: 'sep', classIds: { cls: 2, sep: 3, punct: [] } },
        range: { example: 0 },
        hessian: { ...base, ...h },
        log: (s) => logs.push(s),
      })
    ).hessian!;
  const logs: string[] = [];
  const ref = await run({ loss: 'reference', normMin: 1e-3 }, logs);
  const e = ref.models.teacher.perExample[0].eigenvalues[0];
  t.true(Math.abs(e) < 1e3, `the artefact is gone: ${e}`);
  t.deepEqual(Object.keys(ref.normExcluded.teacher), [name]);
  t.true(logs.some((l) => l.includes('left out of the norm term') && l.includes(name)));
  t.deepEqual(ref.warnings, []);
  const data = await run({ loss: 'data' });
  const d = data.models.teacher.perExample[0].eigenvalues[0];
  t.true(Math.abs(d) < 1e3, String(d));
  t.deepEqual(data.normExcluded.teacher, {}, 'no norm term: nothing to leave out');
  // the other tensors' norm terms are small and positive: reference >= data at the top, close to it
  t.true(Math.abs(e - d) < 0.05 * Math.max(Math.abs(d), 1), `${e} vs ${d}`);
});
