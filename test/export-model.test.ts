import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { resolve, join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { initBackend } from '../src/backend/backend.js';
import { bertConfigFrom, BERT_DEFAULTS, BERT_PRESETS } from '../src/model/config.js';
import { paramShapes } from '../src/model/bert.js';
import { exportStudent } from '../src/export/export-student.js';
import { readExport } from '../src/export/format.js';
import { packedVsLatent, randomStudent, tmp } from './helpers/export.js';

const BACKEND = process.env.KDQAT_BACKEND ?? 'cpu';
test.before(async () => {
  await initBackend(BACKEND, { quiet: true });
});

test(`packed ternary model: logits equal the latent quantized student within 1e-5 on ${BACKEND}`, async (t) => {
  for (const seed of [1, 2]) {
    const r = await packedVsLatent(seed);
    t.true(r.n === 15 && r.scale > 0, JSON.stringify(r));
    t.true(r.maxDiff <= 1e-5, `seed ${seed}: max |packed - latent| = ${r.maxDiff}`);
  }
});

// the other backend, in a child process (one backend per process)
const OTHER = BACKEND === 'wasm' ? 'cpu' : 'wasm';
test(`packed ternary model: logits equal the latent student within 1e-5 on ${OTHER} (child process)`, async (t) => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', resolve('test/export-logits-child.ts'), OTHER, '3'],
    { timeout: 5 * 60_000 },
  );
  const r = JSON.parse(stdout.trim().split('\n').pop()!);
  t.is(r.backend, OTHER === 'cpu' ? 'cpu' : 'wasm');
  t.true(r.n === 15 && r.maxDiff <= 1e-5, JSON.stringify(r));
});

test('export size is within 5% of ternary parameters x 2 bits + scales + the FP32 tensors (tiny preset)', async (t) => {
  const c = bertConfigFrom({ ...BERT_DEFAULTS, ...BERT_PRESETS.tiny, vocab_size: 3001, num_labels: 2 }, 'tiny');
  const dir = tmp();
  tf.dispose(Object.values(await randomStudent(join(dir, 'student'), c, 5)));
  const r = await exportStudent(join(dir, 'student'), join(dir, 'export'));
  // independently of the exporter: which tensors are ternary (docs/method.md §1.5) and how many scales they carry
  let ternary = 0,
    scales = 0,
    fp = 0;
  for (const [name, shape] of Object.entries(paramShapes(c))) {
    const n = shape.reduce((a, d) => a * d, 1);
    if (name === 'bert.embeddings.word_embeddings.weight') {
      ternary += n;
      scales += shape[0];
    } else if (shape.length === 2 && /(query|key|value|dense)\.weight$/.test(name)) {
      ternary += n;
      scales += 1;
    } else fp += n;
  }
  const expected = (ternary * 2) / 8 + 4 * scales + 4 * fp;
  t.is(r.ternaryParams, ternary);
  t.is(r.scales, scales);
  t.is(r.fpParams, fp);
  t.true(Math.abs(r.bytes / expected - 1) < 0.05, `file ${r.bytes} bytes, expected ${expected}`);
  t.true(r.bytes < (4 * (ternary + fp)) / 5, 'at least 5x smaller than the latent FP32 weights');
  // what the file declares: per-row scales only for the word embeddings, the classifier and position embeddings in FP32
  const back = readExport(join(dir, 'export'));
  t.is(back.meta.entries['bert.embeddings.word_embeddings.weight'].scale, 'row');
  t.is(back.meta.entries['bert.pooler.dense.weight'].scale, 'tensor');
  t.truthy(
    back.fp['classifier.weight'] &&
      back.fp['bert.embeddings.position_embeddings.weight'] &&
      back.fp['bert.encoder.layer.0.output.dense.bias'],
  );
  t.deepEqual(back.meta.quant?.actRules?.[0].quantizer, { kind: 'sym', bits: 8, clip: 2.5 });
});
