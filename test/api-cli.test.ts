import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { loadBertDir } from '../src/model/checkpoint.js';
import { loadTokenizer } from '../src/data/tokenizer.js';
import { loadGlueSplit } from '../src/data/glue.js';
import { disposeBatch, makeBatch, stepsPerEpoch, trainBatchIndices } from '../src/train/batches.js';
import { prepareCompression, disposeOutputs, BertAdam, ADAM_DEFAULTS } from '../src/api/index.js';
import { makeTeacherDir } from './helpers/teacher.js';
import { ROOT, GLUE_DIR } from './helpers/env.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});

const N = 40,
  BS = 8,
  T = 32,
  STEPS = 5,
  LR = 1e-3,
  SEED = 42;

test('npm run qat and a user loop on the API give the same loss and KD terms, step by step, to the bit', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'kdqat-cli-api-'));
  const tdir = join(base, 'models', 'testbert', 'rte');
  await makeTeacherDir(tdir); // dropout 0.1: the dropout seed stream of each step is compared too
  const env = { ...process.env, GLUE_DIR, KDQAT_CACHE_DIR: join(base, '.cache') };
  const runDir = join(base, 'run');
  const cli = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/qat.ts',
      '--task',
      'rte',
      '--teacher',
      tdir,
      '--preset',
      'map+output',
      '--seed',
      String(SEED),
      '--train-limit',
      String(N),
      '--eval-limit',
      '8',
      '--max-seq-len',
      String(T),
      '--batch-size',
      String(BS),
      '--max-steps',
      String(STEPS),
      '--eval-every',
      '100',
      '--lr',
      String(LR),
      '--backend',
      'cpu',
      '--run-dir',
      runDir,
    ],
    { cwd: ROOT, env, encoding: 'utf8' },
  );
  t.is(cli.status, 0, cli.stderr);
  const cliSteps = readFileSync(join(runDir, 'log.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => 'loss' in r);

  // the same run as a user's own loop: same data, batches, optimizer settings and seed
  process.env.KDQAT_CACHE_DIR = join(base, '.cache');
  const teacher = loadBertDir(tdir);
  const train = loadGlueSplit({
    task: 'rte',
    split: 'train',
    tokenizer: loadTokenizer(teacher.tokenizerFile!),
    glueDir: GLUE_DIR,
    maxSeqLen: T,
    limit: N,
  }).features;
  const kd = prepareCompression({
    model: teacher.config,
    student: teacher.params,
    teacher: teacher.params,
    kd: { preset: 'map+output' },
    seed: SEED,
  });
  const opt = new BertAdam({ ...ADAM_DEFAULTS, lr: LR, tTotal: Math.ceil(stepsPerEpoch(N, BS) * 3) });
  const api: { step: number; loss: number; terms: Record<string, number>; lr: number }[] = [];
  kd.onTrainBegin({ totalSteps: STEPS });
  kd.onEpochBegin(0);
  for (let step = 0; step < STEPS; step++) {
    const tb = makeBatch(train, trainBatchIndices(N, BS, SEED, step), false);
    const lr = opt.lrAt();
    kd.onStepBegin(step);
    const te = kd.teacherForward(tb.batch);
    const { value, grads } = tf.variableGrads(
      () => kd.onAfterComputeLoss(tb, kd.studentForward(tb.batch), null, te),
      kd.trainableVariables(),
    );
    disposeOutputs(te);
    opt.apply(kd.student, kd.onBeforeOptimizerStep(grads));
    tf.dispose(grads);
    const loss = (await value.data())[0];
    value.dispose();
    const { terms } = await kd.onStepEnd();
    disposeBatch(tb);
    api.push({ step, loss, terms, lr });
  }
  kd.onTrainEnd();
  t.is(cliSteps.length, STEPS);
  t.deepEqual(api, cliSteps);
  t.true(api[STEPS - 1].loss !== api[0].loss);
  kd.dispose();
  opt.dispose();
  tf.dispose(Object.values(teacher.params));
});
