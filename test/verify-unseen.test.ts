import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/backend.js';
import { Report } from '../src/verify/report.js';
import { verifyModels } from '../src/verify/models.js';
import { readSafetensors, writeSafetensors, type WriteTensor } from '../src/util/safetensors.js';
import { makeFixture } from '../scripts/make-fixture.js';

test.before(async () => {
  await initBackend('cpu', { quiet: true });
});

test(
  'verify runs on fixture sets of shapes it has never seen (3 layers, 3 heads, 5 labels; regression) and catches ' +
    'a wrong value',
  async (t) => {
    const out = mkdtempSync(join(tmpdir(), 'kdqat-fx-'));
    await makeFixture(out, {
      name: 'odd-cls',
      layers: 3,
      hidden: 24,
      heads: 3,
      ff: 40,
      labels: 5,
      batch: 3,
      seq: 10,
      vocab: 50,
      seed: 3,
    });
    await makeFixture(out, {
      name: 'odd-reg',
      layers: 1,
      hidden: 20,
      heads: 5,
      ff: 12,
      labels: 1,
      batch: 2,
      seq: 7,
      vocab: 30,
      seed: 4,
    });
    const quiet = () => {};
    const r1 = new Report(quiet);
    await verifyModels(out, r1);
    t.is(
      r1.failed,
      0,
      r1.lines
        .filter((l) => !l.ok)
        .map((l) => `${l.fixture} ${l.key} ${l.note ?? l.error}`)
        .join('\n'),
    );
    t.true(r1.passed > 300);
    t.deepEqual(
      r1.notChecked.map((n) => `${n.fixture} ${n.key}`),
      ['odd-cls future.unknown', 'odd-reg future.unknown'],
    );
    // corrupt one trained parameter of the reference: verify must fail exactly that key
    const refPath = join(out, 'models', 'odd-cls', 'reference.safetensors');
    const f = readSafetensors(refPath);
    const ts: Record<string, WriteTensor> = {};
    for (const [k, v] of f.tensors) ts[k] = { dtype: v.dtype === 'I32' ? 'I32' : 'F32', shape: v.shape, data: v.data };
    const key = 'after_3_steps.bert.encoder.layer.2.output.dense.weight';
    ts[key] = { ...ts[key], data: Float32Array.from(ts[key].data, (x, i) => (i === 0 ? x + 0.5 : x)) };
    writeSafetensors(refPath, ts, f.metadata);
    const r2 = new Report(quiet);
    await verifyModels(out, r2);
    t.deepEqual(
      r2.lines.filter((l) => !l.ok).map((l) => l.key),
      [key],
    );
  },
);
