import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { initBackend } from '../src/backend/backend.js';
import { loadBertDir } from '../src/model/checkpoint.js';
import { restore, quantize } from '../src/api/index.js';
import { distil, fixtureBatch } from '../examples/distil-loop.js';
import { FIXTURES, ROOT, modelFixtures } from './helpers/env.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});

test.serial(
  'examples/distil-loop.ts: a user loop on a tiny fixture model lowers the KD loss, and its saved student restores',
  async (t) => {
    const dir = join(FIXTURES, 'models', modelFixtures()[0]);
    const teacher = loadBertDir(dir);
    const inputs = fixtureBatch(dir, teacher.config.num_labels === 1);
    const out = join(mkdtempSync(join(tmpdir(), 'kdqat-example-')), 'student.safetensors');
    const losses = await distil(teacher.config, teacher.params, [inputs], 12, out);
    t.is(losses[0], losses[1], 'the first update has lr 0 (warmup_linear at step 0)');
    t.true(losses[11] < 0.8 * losses[0], `KD loss ${losses[0]} -> ${losses[11]}`);
    const r = restore(out, { model: teacher.config });
    t.is(r.step, 12);
    t.is((r.kd as { preset: string }).preset, 'map+output');
    // the restored student is the trained one: its logits differ from the untrained ternary student's, and they are
    // finite
    const trained = tf.tidy(() => r.forward(inputs.batch).logits.dataSync().slice());
    const fresh = quantize(teacher.config, teacher.params);
    const untrained = tf.tidy(() => fresh.forward(inputs.batch).logits.dataSync().slice());
    t.true(trained.every(Number.isFinite));
    t.notDeepEqual(Array.from(trained), Array.from(untrained));
    r.dispose();
    fresh.dispose();
  },
);

test(
  'the example runs as a script through the package entry (exports "." -> src/api/index.ts under the kdqat-source ' +
    'condition)',
  (t) => {
    const dir = join(FIXTURES, 'models', modelFixtures()[0]);
    const out = join(mkdtempSync(join(tmpdir(), 'kdqat-example-')), 's.safetensors');
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--conditions=kdqat-source', 'examples/distil-loop.ts', dir, '4', out],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, KDQAT_BACKEND: 'cpu' } },
    );
    t.is(r.status, 0, r.stderr);
    t.regex(r.stdout, /KD loss [\d.]+ -> [\d.]+ in 4 steps; student saved to/);
    t.true(readFileSync(out).length > 1000);
    t.deepEqual(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).exports['.'], {
      'kdqat-source': './src/api/index.ts',
      types: './dist/api/index.d.ts',
      import: './dist/api/index.js',
    });
  },
);
