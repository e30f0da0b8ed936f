import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { loadBertDir } from '../src/model/checkpoint.js';
import { loadTokenizer } from '../src/data/tokenizer.js';
import { loadGlueSplit } from '../src/data/glue.js';
import { getTask } from '../src/data/tasks.js';
import { resolveRunConfig } from '../src/train/config.js';
import { qatTraining } from '../src/train/methods.js';
import { makeTeacherDir } from './helpers/teacher.js';
import { GLUE_DIR } from './helpers/env.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});

test(
  'a KD-QAT run with the uncertainty balancer resumes from its checkpoint with the balancer state: same log, same ' +
    'weights',
  async (t) => {
    const base = mkdtempSync(join(tmpdir(), 'kdqat-api-resume-'));
    process.env.KDQAT_CACHE_DIR = join(base, '.cache');
    const tdir = join(base, 'teacher');
    await makeTeacherDir(tdir);
    const teacher = loadBertDir(tdir);
    const tok = loadTokenizer(teacher.tokenizerFile!);
    const split = (s: 'train' | 'dev', limit: number) =>
      loadGlueSplit({ task: 'rte', split: s, tokenizer: tok, glueDir: GLUE_DIR, maxSeqLen: 32, limit }).features;
    const cfg = resolveRunConfig({
      task: 'rte',
      data: { batchSize: 8 },
      train: { maxSteps: 4, checkpointEvery: 2, lr: 1e-3, evalEvery: 100 },
      kd: { preset: 'map', balancer: { kind: 'uncertainty', lr: 0.05 } },
    });
    const runDir = join(base, 'run');
    const spec = {
      cfg,
      runDir,
      model: teacher.config,
      init: teacher.params,
      task: getTask('rte'),
      train: split('train', 32),
      dev: split('dev', 8),
    };
    const weights = async (p: Record<string, tf.Variable>) =>
      Promise.all(Object.values(p).map(async (v) => Array.from(await v.data())));

    // leaves its step-2 checkpoint (the trainer's caller clears state)
    const a = await qatTraining(spec, teacher.params);
    const logA = readFileSync(join(runDir, 'log.jsonl'), 'utf8');
    const wA = await weights(a.params);
    const b = await qatTraining(spec, teacher.params); // resumes from step 2
    t.is(b.resumedFrom, 2);
    t.is(readFileSync(join(runDir, 'log.jsonl'), 'utf8'), logA);
    t.deepEqual(await weights(b.params), wA);
    const steps = logA
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((r) => 'loss' in r);
    t.deepEqual(Object.keys(steps[0].weights), ['pred', 'rep', 'map', 'student']);
    t.notDeepEqual(steps[3].weights, steps[0].weights, 'the balancer learns');
    tf.dispose([...Object.values(a.params), ...Object.values(b.params), ...Object.values(teacher.params)]);
  },
);
