import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { loadBertDir, saveBertDir } from '../src/model/checkpoint.js';
import { initParams } from '../src/model/init.js';
import { bertConfigJson } from '../src/model/config.js';
import { readSafetensors, serializeSafetensors, writeSafetensors, type WriteTensor } from '../src/util/safetensors.js';
import { FIXTURES, modelFixtures, tinyConfig } from './helpers/env.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});
const tmp = () => mkdtempSync(join(tmpdir(), 'kdqat-ckpt-'));

test('save -> load round trip is lossless (every tensor bit-identical) and keeps config', async (t) => {
  const c = tinyConfig();
  const p = initParams(c, 3);
  const dir = tmp();
  await saveBertDir(dir, c, p, { kind: 'test' });
  const m = loadBertDir(dir);
  t.deepEqual(m.config, c);
  for (const [k, v] of Object.entries(p)) t.deepEqual(Array.from(m.params[k].dataSync()), Array.from(v.dataSync()), k);
  t.deepEqual(m.provenance, { kind: 'test' });
});

test('every shipped model fixture loads as a Hugging Face directory', (t) => {
  const names = modelFixtures();
  t.true(names.length > 0, `no model fixtures under ${FIXTURES}`);
  for (const n of names) {
    const m = loadBertDir(join(FIXTURES, 'models', n));
    t.is(Object.keys(m.params).length, 5 + 16 * m.config.num_hidden_layers + 4);
  }
});

function fixtureCopy(mutate: (tensors: Record<string, WriteTensor>) => void): string {
  const src = join(FIXTURES, 'models', modelFixtures()[0]);
  const dir = tmp();
  copyFileSync(join(src, 'config.json'), join(dir, 'config.json'));
  const f = readSafetensors(join(src, 'model.safetensors'));
  const tensors: Record<string, WriteTensor> = {};
  for (const [k, v] of f.tensors) tensors[k] = { dtype: 'F32', shape: v.shape, data: v.data };
  mutate(tensors);
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return dir;
}

test('a truncated model.safetensors names the file and the tensor', (t) => {
  const dir = fixtureCopy(() => {});
  const p = join(dir, 'model.safetensors');
  const buf = readFileSync(p);
  writeFileSync(p, buf.subarray(0, buf.length - 100));
  const e = t.throws(() => loadBertDir(dir));
  t.true(e!.message.includes(p), e!.message);
  t.regex(e!.message, /\[bert\.|\[classifier|truncated/);
  t.regex(e!.message, /truncated/);
});

test('a mis-shaped tensor names the key, the shape found and the shape expected', (t) => {
  const dir = fixtureCopy((ts) => {
    const k = 'bert.encoder.layer.0.attention.self.key.weight';
    const [a, b] = ts[k].shape;
    ts[k] = { dtype: 'F32', shape: [a, b - 1], data: new Float32Array(a * (b - 1)) };
  });
  const e = t.throws(() => loadBertDir(dir));
  t.regex(e!.message, /bert\.encoder\.layer\.0\.attention\.self\.key\.weight/);
  t.regex(e!.message, /shape \[\d+,\d+\] but config\.json implies \[\d+,\d+\]/);
});

test('missing and unexpected tensors are errors naming them; a missing head can be initialised on request', (t) => {
  const miss = fixtureCopy((ts) => {
    delete ts['bert.encoder.layer.1.output.dense.bias'];
  });
  t.regex(t.throws(() => loadBertDir(miss))!.message, /missing tensors: bert\.encoder\.layer\.1\.output\.dense\.bias/);
  const extra = fixtureCopy((ts) => {
    ts['bert.encoder.layer.9.foo'] = { dtype: 'F32', shape: [2], data: [1, 2] };
  });
  t.regex(t.throws(() => loadBertDir(extra))!.message, /unexpected tensors.*layer\.9\.foo/);
  const nohead = fixtureCopy((ts) => {
    delete ts['classifier.weight'];
    delete ts['classifier.bias'];
  });
  t.regex(t.throws(() => loadBertDir(nohead))!.message, /classifier\.weight/);
  const m = loadBertDir(nohead, { initMissingHead: { seed: 1 } });
  t.truthy(m.params['classifier.weight']);
  t.regex(m.notes.join(' '), /initialised classifier/);
});

test('Hugging Face naming variants: no "bert." prefix, gamma/beta, pre-training heads ignored', (t) => {
  const dir = fixtureCopy((ts) => {
    for (const k of Object.keys(ts)) {
      if (!k.startsWith('bert.')) continue;
      const n = k
        .slice(5)
        .replace(/LayerNorm\.weight$/, 'LayerNorm.gamma')
        .replace(/LayerNorm\.bias$/, 'LayerNorm.beta');
      ts[n] = ts[k];
      delete ts[k];
    }
    ts['cls.predictions.bias'] = { dtype: 'F32', shape: [3], data: [0, 0, 0] };
  });
  const m = loadBertDir(dir);
  t.truthy(m.params['bert.embeddings.LayerNorm.weight']);
  t.regex(m.notes.join(' '), /ignored 1 tensors/);
});

test('config errors name the file and the key', (t) => {
  const dir = fixtureCopy(() => {});
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...bertConfigJson(tinyConfig()), hidden_size: 'big' }));
  t.regex(t.throws(() => loadBertDir(dir))!.message, /config\.json: "hidden_size" must be a number/);
  const empty = tmp();
  t.regex(t.throws(() => loadBertDir(empty))!.message, /no config\.json/);
});

test('safetensors: header overflow and bad offsets are reported, writer output parses back', (t) => {
  const buf = serializeSafetensors(
    { a: { dtype: 'F32', shape: [2, 2], data: [1, 2, 3, 4] }, b: { dtype: 'I32', shape: [3], data: [7, 8, 9] } },
    { k: 'v' },
  );
  const bad = Buffer.from(buf);
  bad.writeBigUInt64LE(BigInt(buf.length), 0);
  const { parseSafetensors } = require_();
  t.regex(t.throws(() => parseSafetensors(bad, 'x.safetensors'))!.message, /x\.safetensors: header length/);
  const ok = parseSafetensors(buf, 'y');
  t.deepEqual(Array.from(ok.tensors.get('b')!.data), [7, 8, 9]);
  t.deepEqual(ok.metadata, { k: 'v' });
  void tf;
});

import * as st from '../src/util/safetensors.js';
function require_() {
  return st;
}

import { assertFitsBackend, explainBackendError, WASM_HEAP_BYTES } from '../src/backend/backend.js';
import { estimateTrainBytes } from '../src/sweep/run-setup.js';
import { BERT_PRESETS, BERT_DEFAULTS, bertConfigFrom } from '../src/model/config.js';

test('the wasm heap check names the 4 GiB limit and the alternatives (only on wasm)', async (t) => {
  const base = bertConfigFrom({ ...BERT_DEFAULTS, ...BERT_PRESETS.base, vocab_size: 30522 }, 'base');
  const tiny = bertConfigFrom({ ...BERT_DEFAULTS, ...BERT_PRESETS.tiny, vocab_size: 30522 }, 'tiny');
  t.true(estimateTrainBytes(base, 32, 128) > WASM_HEAP_BYTES);
  t.true(estimateTrainBytes(tiny, 32, 128) < WASM_HEAP_BYTES / 2);
  // cpu backend here: no limit
  t.notThrows(() => assertFitsBackend(estimateTrainBytes(base, 32, 128), 'KD-QAT of base'));
  const e = explainBackendError(new Error('RuntimeError: memory access out of bounds'));
  t.is(e.message, 'RuntimeError: memory access out of bounds', 'not rewritten on the cpu backend');
});
