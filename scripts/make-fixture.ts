/**
 * Write a self-consistent model fixture set (the format `npm run verify` reads) for any BERT shape, with reference
 * values computed by THIS implementation:
 *   npx tsx scripts/make-fixture.ts --out /tmp/fx --name odd --layers 3 --hidden 24 --heads 3 --ff 40 --labels 5
 *     --batch 3 --seq 10
 * It proves nothing about agreement with PyTorch (the shipped fixtures do that); it exercises `verify` on shapes
 * it has never seen, so that nothing in it can be hard-wired to the shipped fixtures' sizes, and it lets a test
 * check that a wrong value is caught. Extra key "future.unknown" must be reported as "not checked yet".
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend/backend.js';
import { bertConfigFrom, BERT_DEFAULTS } from '../src/model/config.js';
import { initParams } from '../src/model/init.js';
import { saveBertDir } from '../src/model/checkpoint.js';
import { writeSafetensors, type WriteTensor } from '../src/util/safetensors.js';
import { loadModelFixture, MODEL_GROUPS } from '../src/verify/models.js';
import { mulberry32 } from '../src/util/random.js';

export interface FixtureShape {
  name: string;
  layers: number;
  hidden: number;
  heads: number;
  ff: number;
  labels: number;
  batch: number;
  seq: number;
  vocab: number;
  seed: number;
}

export async function makeFixture(out: string, s: FixtureShape): Promise<string> {
  const dir = join(out, 'models', s.name);
  mkdirSync(dir, { recursive: true });
  const c = bertConfigFrom(
    {
      ...BERT_DEFAULTS,
      vocab_size: s.vocab,
      hidden_size: s.hidden,
      num_hidden_layers: s.layers,
      num_attention_heads: s.heads,
      intermediate_size: s.ff,
      num_labels: s.labels,
      max_position_embeddings: Math.max(64, s.seq),
      hidden_dropout_prob: 0,
      attention_probs_dropout_prob: 0,
      initializer_range: 0.2,
    },
    s.name,
  );
  const params = initParams(c, s.seed);
  // a few latent weights beyond the +-2.5 clip, as in the shipped fixtures
  const q = 'bert.encoder.layer.0.attention.self.query.weight';
  const w = params[q].arraySync() as number[][];
  w[0][0] = 3.1;
  w[1][1] = -2.9;
  params[q] = tf.tensor2d(w);
  await saveBertDir(dir, c, params);
  const r = mulberry32(s.seed);
  const B = s.batch,
    T = s.seq;
  const ids = new Int32Array(B * T),
    tt = new Int32Array(B * T),
    am = new Int32Array(B * T),
    sl = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    sl[b] = b === 0 ? T : Math.max(3, Math.floor(T / 2 + (r() * T) / 2));
    const split = Math.floor(sl[b] / 2);
    for (let t = 0; t < sl[b]; t++) {
      ids[b * T + t] = 1 + Math.floor(r() * (s.vocab - 1));
      am[b * T + t] = 1;
      tt[b * T + t] = t >= split ? 1 : 0;
    }
  }
  const labels: WriteTensor =
    s.labels === 1
      ? { dtype: 'F32', shape: [B], data: Float32Array.from({ length: B }, () => r() * 5) }
      : { dtype: 'I32', shape: [B], data: Int32Array.from({ length: B }, () => Math.floor(r() * s.labels)) };
  writeSafetensors(join(dir, 'inputs.safetensors'), {
    input_ids: { dtype: 'I32', shape: [B, T], data: ids },
    token_type_ids: { dtype: 'I32', shape: [B, T], data: tt },
    attention_mask: { dtype: 'I32', shape: [B, T], data: am },
    seq_lengths: { dtype: 'I32', shape: [B], data: sl },
    labels,
  });
  const fx = loadModelFixture(dir, s.name);
  fx.ref.set('actquant.probe', {
    dtype: 'F32',
    shape: [65],
    data: Float32Array.from({ length: 65 }, (_, i) => (i - 32) / 10),
  });
  const ref: Record<string, WriteTensor> = {};
  for (const g of MODEL_GROUPS) {
    if (!g.compute || !g.keysFor) continue;
    const vals = await g.compute(fx, g.keysFor(fx));
    for (const [k, v] of vals) ref[k] = { dtype: 'F32', shape: v.shape, data: v.data };
  }
  ref['future.unknown'] = { dtype: 'F32', shape: [1], data: [0] };
  writeSafetensors(join(dir, 'reference.safetensors'), ref, {
    source: 'kdqat scripts/make-fixture.ts (self-consistency, not the PyTorch reference)',
  });
  return dir;
}

if (process.argv[1]?.endsWith('make-fixture.ts')) {
  const { values: v } = parseArgs({
    options: Object.fromEntries(
      ['out', 'name', 'layers', 'hidden', 'heads', 'ff', 'labels', 'batch', 'seq', 'vocab', 'seed', 'backend'].map(
        (k) => [k, { type: 'string' as const }],
      ),
    ),
  });
  await initBackend(v.backend);
  const n = (k: string, d: number) => (v[k as keyof typeof v] ? Number(v[k as keyof typeof v]) : d);
  const dir = await makeFixture(v.out ?? 'fixtures-generated', {
    name: v.name ?? 'generated',
    layers: n('layers', 3),
    hidden: n('hidden', 24),
    heads: n('heads', 3),
    ff: n('ff', 40),
    labels: n('labels', 5),
    batch: n('batch', 3),
    seq: n('seq', 10),
    vocab: n('vocab', 50),
    seed: n('seed', 1),
  });
  console.log(`wrote ${dir}`);
  process.exit(0);
}
